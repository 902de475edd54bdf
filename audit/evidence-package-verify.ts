/**
 * Checks an evidence package (evidence-package.ts) offline with only the CA certificate:
 *  1. bytes: the file is exactly canonical JSON + "\n" (else ERR_EVIDENCE_MALFORMED), of the right shape;
 *  2. each half: its certificate chains to the CA and is its side's, and its signature over the
 *     canonical half verifies (ERR_EVIDENCE_SIGNATURE);
 *  3. its exchange evidence: every signature and signer (ERR_EXCHANGE_*, with the half's CRL once
 *     that CRL is shown to be signed by the root that issued the half's signer — the SM2 root for
 *     a half of an SM log, else ERR_CRL_INVALID — plus the entries of the other half's CRL of the
 *     same root), the envelope present, paired with its answer; and the half's time
 *     (evidence-half-time.ts): producedAt not before what the half contains nor before its CRL's
 *     thisUpdate (ERR_EVIDENCE_BACKDATED), not after its nextUpdate (ERR_CRL_STALE), its signer not
 *     revoked by then (ERR_EVIDENCE_SIGNATURE), a half without a CRL ERR_EVIDENCE_REVOCATION_UNCHECKED;
 *  4. its proofs: each entry included in the tree of a checkpoint signed by the side
 *     (ERR_AUDIT_PROOF_INVALID), cosignatures by the witness verifying and matching; at least one
 *     entry naming the envelope id and one of its digests (ERR_EVIDENCE_INCOMPLETE);
 *  5. both sides present (the envelope's `from` and `to`), unless only one side is asked for.
 * Every problem is collected; none means the package verifies.
 */
import { parseCrl } from '../certs/crl.js';
import { caTrust } from '../protocol/ca-trust.js';
import { canonicalize } from '../protocol/canonical-json.js';
import { certFromPem } from '../protocol/crypto.js';
import { isCreditError } from '../protocol/errors.js';
import { verifyCosignature, type Cosignature } from './cosign.js';
import { verifyText } from './crypto.js';
import { envelopeLine, type Problem } from './evidence-log.js';
import { EVIDENCE_HALF_FORMAT, EVIDENCE_PACKAGE_FORMAT, type EvidenceHalf, type EvidencePackage, type SignedHalf } from './evidence-package.js';
import { ANSWERED_TYPES, type EnvelopeEvidence } from './evidence-record.js';
import { checkEvidence, pairingProblems, type EvidenceTrust, type Revocation } from './evidence-verify.js';
import { verifyProof, type InclusionProof } from './proofs.js';
import { halfTimeProblems, type HalfCrl } from './evidence-half-time.js';

export interface PackageVerdict {
  envelopeId: string;
  sides: string[];
  problems: Problem[];
  notes: string[];
  /** What each half shows, one line per side. */
  lines: string[];
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const keysAre = (v: Record<string, unknown>, keys: string) => Object.keys(v).sort().join(',') === keys;

function malformed(message: string): Problem {
  return { code: 'ERR_EVIDENCE_MALFORMED', message };
}

/** Parses and checks the bytes and the outer shape. */
export function readPackage(text: string): { pkg: EvidencePackage | null; problems: Problem[] } {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return { pkg: null, problems: [malformed('the file is not JSON')] };
  }
  if (canonicalize(v) + '\n' !== text) return { pkg: null, problems: [malformed('the file is not byte for byte the canonical JSON (RFC 8785) + "\\n" its producer wrote: it was changed')] };
  if (!isObject(v) || !keysAre(v, 'envelopeId,format,halves') || v.format !== EVIDENCE_PACKAGE_FORMAT || typeof v.envelopeId !== 'string' || !Array.isArray(v.halves) || v.halves.length < 1 || v.halves.length > 2) {
    return { pkg: null, problems: [malformed(`not a ${EVIDENCE_PACKAGE_FORMAT} package: { format, envelopeId, halves: [1 or 2] }`)] };
  }
  for (const h of v.halves) {
    if (!isObject(h) || !keysAre(h, 'half,signature,signerCertPem') || typeof h.signature !== 'string' || typeof h.signerCertPem !== 'string' || !isObject(h.half)) {
      return { pkg: null, problems: [malformed('a half is not { half, signature, signerCertPem }')] };
    }
    const half = h.half;
    if (!keysAre(half, 'chain,cosignatures,crl,envelopeId,exchange,format,producedAt,proofs,role,side') || half.format !== EVIDENCE_HALF_FORMAT || half.envelopeId !== v.envelopeId ||
      typeof half.side !== 'string' || (half.role !== 'node' && half.role !== 'hub') || !Array.isArray(half.exchange) || !Array.isArray(half.proofs) ||
      !Array.isArray(half.cosignatures) || !Array.isArray(half.chain) || (half.crl !== null && typeof half.crl !== 'string') || typeof half.producedAt !== 'string') {
      return { pkg: null, problems: [malformed(`a half is not a ${EVIDENCE_HALF_FORMAT} of envelope ${v.envelopeId}`)] };
    }
  }
  const sides = (v.halves as SignedHalf[]).map((h) => h.half.side);
  if (new Set(sides).size !== sides.length) return { pkg: null, problems: [malformed(`side ${sides[0]} has two halves`)] };
  return { pkg: v as unknown as EvidencePackage, problems: [] };
}

/** Step 2: the half is signed by its side's trusted certificate. */
function halfSignature(h: SignedHalf, caCertPems: readonly string[]): Problem[] {
  const bad = (why: string): Problem[] => [{ code: 'ERR_EVIDENCE_SIGNATURE', message: `the half of ${h.half.side}: ${why}` }];
  try {
    if (certFromPem(h.signerCertPem).pem !== h.signerCertPem) return bad('its certificate is not written as a canonical PEM');
    if (Buffer.from(h.signature, 'base64').toString('base64') !== h.signature) return bad('its signature is not canonical base64');
    const who = caTrust({ caCertPems }).verifySigner(h.signerCertPem, new Date(h.half.producedAt));
    if (who.nodeId !== h.half.side) return bad(`it is signed by ${who.nodeId}`);
  } catch (e) {
    return bad(`its certificate is not trusted: ${isCreditError(e) ? `${e.code}: ${e.message}` : String(e)}`);
  }
  return verifyText(h.signerCertPem, canonicalize(h.half), h.signature) ? [] : bad('the signature over the half does not verify');
}

/**
 * The trusted root that issued the half's (already trusted) signer certificate: its CRL must be
 * that root's, so the half of an SM log needs the SM2 root's CRL, whatever else the CA file holds.
 */
function issuingRoot(signerCertPem: string, caCertPems: readonly string[]): string {
  const signer = certFromPem(signerCertPem);
  return caCertPems.find((pem) => signer.issuedBy(certFromPem(pem))) ?? caCertPems[0]!;
}

/** Step 4: proofs against checkpoints signed by the side, cosignatures, an entry naming the envelope and a digest. */
function proofProblems(half: EvidenceHalf, envelopeId: string, digests: ReadonlySet<string>, caCertPems: readonly string[], notes: string[]): Problem[] {
  const problems: Problem[] = [];
  let named = false;
  for (const p of half.proofs as InclusionProof[]) {
    try {
      const v = verifyProof(p, caCertPems);
      if (!v.signedSizes.includes(p.treeSize) || p.checkpoint?.nodeId !== half.side) {
        problems.push({ code: 'ERR_EVIDENCE_INCOMPLETE', id: envelopeId, message: `${half.side}: entry ${p.seq} is not proven against a checkpoint signed by ${half.side}` });
        continue;
      }
    } catch (e) {
      problems.push({ code: isCreditError(e) ? e.code : 'ERR_AUDIT_PROOF_INVALID', id: envelopeId, message: `${half.side}: ${(e as Error).message}` });
      continue;
    }
    const e = p.entry;
    if ((e.object === envelopeId || (e.reason ?? '').includes(envelopeId)) && [...digests].some((d) => (e.reason ?? '').includes(d))) named = true;
    const cos = (half.cosignatures as Cosignature[]).find((c) => c.treeSize === p.treeSize);
    if (!cos) notes.push(`${half.side}: entry ${p.seq} (${e.action}) is in its log's signed tree of ${p.treeSize}, not yet cosigned by a witness`);
  }
  for (const c of half.cosignatures as Cosignature[]) {
    const cp = (half.proofs as InclusionProof[]).find((p) => p.treeSize === c.treeSize)?.checkpoint;
    try {
      verifyCosignature(c, { caCertPem: [...caCertPems], ...(cp ? { checkpoint: cp } : {}) });
      if (!cp) throw new Error(`cosignature of tree size ${c.treeSize} matches no proof`);
    } catch (e) {
      problems.push({ code: isCreditError(e) ? e.code : 'ERR_EVIDENCE_MALFORMED', id: envelopeId, message: `${half.side}: ${(e as Error).message}` });
    }
  }
  if (!named) problems.push({ code: 'ERR_EVIDENCE_INCOMPLETE', id: envelopeId, message: `${half.side}: no proven audit entry names envelope ${envelopeId} with its digest` });
  return problems;
}

export async function verifyPackage(text: string, caCertPems: readonly string[], o: { oneSide?: boolean } = {}): Promise<PackageVerdict> {
  const { pkg, problems } = readPackage(text);
  const notes: string[] = [];
  const lines: string[] = [];
  if (!pkg) return { envelopeId: '', sides: [], problems, notes, lines };
  const id = pkg.envelopeId;
  let header: EnvelopeEvidence['header'] | undefined;
  // first every half's signature and CRL: a revocation in the genuine CRL of either half counts for both (of the same root)
  const signed: { h: SignedHalf; root: string; crl: HalfCrl | 'none' | 'refused'; entries: Revocation[] }[] = [];
  for (const h of pkg.halves) {
    const sig = halfSignature(h, caCertPems);
    problems.push(...sig);
    if (sig.length > 0) continue; // nothing unsigned is looked at further
    const root = issuingRoot(h.signerCertPem, caCertPems);
    if (h.half.crl === null) {
      signed.push({ h, root, crl: 'none', entries: [] });
      continue;
    }
    try {
      const crl = await parseCrl(h.half.crl, { caCertPem: root });
      signed.push({ h, root, crl, entries: crl.entries });
    } catch (e) {
      problems.push({ code: isCreditError(e) ? e.code : 'ERR_EVIDENCE_MALFORMED', id, message: `${h.half.side}: its CRL: ${(e as Error).message}` });
      signed.push({ h, root, crl: 'refused', entries: [] });
    }
  }
  for (const { h, root, crl } of signed) {
    const half = h.half;
    const revoked = signed.filter((s) => s.root === root).flatMap((s) => s.entries);
    const trust: EvidenceTrust = { caCertPems, ...(revoked.length > 0 || crl !== 'none' ? { revoked } : {}) };
    problems.push(...halfTimeProblems(half, id, crl, certFromPem(h.signerCertPem).serial, revoked).problems);
    const list: EnvelopeEvidence[] = [];
    for (const raw of half.exchange) {
      const e = envelopeLine({ kind: 'envelope', ...(raw as object) });
      if (typeof e === 'string') problems.push(malformed(`${half.side}: an exchange record ${e}`));
      else list.push(e);
    }
    for (const e of list) problems.push(...(await checkEvidence(e, trust)));
    const mine = list.filter((e) => e.header.id === id);
    if (mine.length === 0) problems.push({ code: 'ERR_EVIDENCE_INCOMPLETE', id, message: `${half.side}: no evidence of envelope ${id} itself` });
    header ??= mine[0]?.header;
    if (mine[0] && ANSWERED_TYPES[mine[0].header.type]) problems.push(...pairingProblems(list).problems);
    problems.push(...proofProblems(half, id, new Set(mine.map((e) => e.digest)), caCertPems, notes));
    lines.push(`${half.side} (${half.role}): ${list.length} envelope record(s), ${half.proofs.length} audit entr${half.proofs.length === 1 ? 'y' : 'ies'} proven, ${half.cosignatures.length} cosignature(s), CRL ${half.crl ? 'included' : 'none'}`);
  }
  const sides = pkg.halves.map((h) => h.half.side);
  if (header) {
    for (const s of [header.from, header.to]) {
      if (sides.includes(s)) continue;
      const how = `the ${s === '430000' ? 'hub' : `node ${s}`} operator runs \`credit audit evidence --config <its config> --envelope ${id} --out half.json\` and the package is made again with \`--with half.json\``;
      if (o.oneSide) notes.push(`the half of ${s} is not in this package: ${how}`);
      else problems.push({ code: 'ERR_EVIDENCE_INCOMPLETE', id, message: `the half of ${s} is missing: ${how}` });
    }
    for (const s of sides) if (s !== header.from && s !== header.to) problems.push(malformed(`${s} is neither side of envelope ${id}`));
  }
  return { envelopeId: id, sides, problems, notes, lines };
}
