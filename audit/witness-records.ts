/**
 * Witness records: what a witness exports of the heads it cosigned (`credit audit witness-export`),
 * for `credit audit verify --witness FILE`. NDJSON, one cosignature per line, exactly as cosign.ts
 * makes it (with the witness certificate in `certPem`), in tree-size order per node. Reading them
 * back verifies each against the CA (verifyCosignature), so a record cannot be forged either.
 * An export also carries a line per witness reset (`"type":"witness-reset"`, witness-reset.ts, signed
 * by the witness, verified with verifyReset): the break in a witnessed history — a hub's export, a
 * node's log after a restore; a node's export, the hub's log after a rollback — and a line per
 * cosignature that reset abandoned (`{"type":"witness-archived","epoch":N,"cosignature":{…}}`, from
 * hub_witness_archive or the node's node_hub_witness_archive; the cosignature verified as any other).
 */
import { MAX_EPOCH, verifyCosignature, type Cosignature } from './cosign.js';
import { auditError } from './errors.js';
import { breakOf, revocationOf, type Revocation, type WitnessBreak, type WitnessedHead } from './verify-policy.js';
import { certFacts } from './crypto.js';
import { verifyReset, type WitnessReset } from './witness-reset.js';

/** A cosignature of a head a witness reset abandoned (hub_witness_archive), tagged with that reset's epoch. */
export interface ArchivedCosignature {
  type: 'witness-archived';
  epoch: number;
  cosignature: Cosignature;
}

export function witnessRecordsNdjson(cosignatures: Iterable<Cosignature>, resets: Iterable<WitnessReset> = [], archived: Iterable<ArchivedCosignature> = []): string {
  let out = '';
  for (const c of cosignatures) out += JSON.stringify(c) + '\n';
  for (const a of archived) out += JSON.stringify(a) + '\n';
  for (const r of resets) out += JSON.stringify(r) + '\n';
  return out;
}

/** The cosigned heads of a witness-records file (see readWitnessFile). */
export function readWitnessRecords(text: string, caPems: readonly string[]): WitnessedHead[] {
  return readWitnessFile(text, caPems).heads;
}

/**
 * Parses and verifies a witness-records file: cosigned heads and witness resets. ERR_AUDIT_COSIGNATURE
 * (line named) for a line that is neither or does not verify; ERR_AUDIT_UNTRUSTED_SIGNER for one not from the CA.
 * With `revocations` (a CRL the caller checked): a reset record whose signer certificate was revoked
 * before its `resetAt`, or revoked for keyCompromise at all (its times are the signer's word, and a
 * record excuses heads), → ERR_AUDIT_REVOKED_SIGNER.
 */
export function readWitnessFile(text: string, caPems: readonly string[], revocations?: readonly Revocation[]): { heads: WitnessedHead[]; breaks: WitnessBreak[] } {
  const out: WitnessedHead[] = [];
  const breaks: WitnessBreak[] = [];
  text.split('\n').forEach((line, i) => {
    if (line.trim() === '') return;
    let c: Cosignature;
    try {
      c = JSON.parse(line) as Cosignature;
    } catch {
      throw auditError('ERR_AUDIT_COSIGNATURE', `witness records line ${i + 1} is not JSON`, { line: i + 1 });
    }
    let abandonedIn: number | undefined;
    try {
      const o = c as unknown as Record<string, unknown> | null;
      if (o?.type === 'witness-archived') {
        if (Object.keys(o).length !== 3 || !Number.isSafeInteger(o.epoch) || (o.epoch as number) < 1 || (o.epoch as number) > MAX_EPOCH || typeof o.cosignature !== 'object' || o.cosignature === null) {
          throw auditError('ERR_AUDIT_COSIGNATURE', 'not an archived cosignature: { type, epoch ≥ 1, cosignature }');
        }
        abandonedIn = o.epoch as number;
        c = o.cosignature as Cosignature;
        if ((c.epoch ?? 0) >= abandonedIn) throw auditError('ERR_AUDIT_COSIGNATURE', `a cosignature of epoch ${c.epoch ?? 0} cannot have been abandoned by the reset that opened epoch ${abandonedIn}`);
      }
      if (o?.type === 'witness-reset') {
        const r = c as unknown as WitnessReset;
        verifyReset(r, caPems);
        const revoked = revocations ? revocationOf(revocations, certFacts(r.certPem).serial) : undefined;
        if (revoked && (revoked.reason === 'keyCompromise' || revoked.revokedAt.getTime() <= Date.parse(r.resetAt))) {
          throw auditError('ERR_AUDIT_REVOKED_SIGNER', `the witness reset of log ${r.nodeId} by ${r.witness} (epoch ${r.epoch}) is signed with a certificate revoked at ${revoked.revokedAt.toISOString()}${revoked.reason ? ` (${revoked.reason})` : ''}: ${revoked.reason === 'keyCompromise' ? 'its times are the signer\'s word, so nothing shows it was made before the compromise' : `after it claims to have been made (${r.resetAt})`}; confirm the reset with the witness's operator`);
        }
        breaks.push(breakOf(r));
        return;
      }
      verifyCosignature(c, { caCertPem: caPems });
    } catch (e) {
      const err = e as Error & { code?: string };
      const code = err.code === 'ERR_AUDIT_UNTRUSTED_SIGNER' || err.code === 'ERR_AUDIT_REVOKED_SIGNER' ? err.code : 'ERR_AUDIT_COSIGNATURE';
      throw auditError(code, `witness records line ${i + 1}: ${err.message}`, { line: i + 1 });
    }
    out.push({ nodeId: c.nodeId, treeSize: c.treeSize, rootHash: c.rootHash, witness: c.witness, ...(c.epoch ? { epoch: c.epoch } : {}), ...(abandonedIn !== undefined ? { abandonedIn } : {}) });
  });
  return { heads: out, breaks };
}
