/**
 * The auditors' offline verifier: reads an export bundle line by line (bundle.ts) with only
 * the CA certificate(s), and stops at the first problem, naming the seq and the reason:
 *
 * - an entry whose leaf hash does not recompute, or whose hash differs from the prevHash the next
 *   entry recorded, or entries re-hashed so a signed root no longer matches → ERR_AUDIT_ENTRY_MODIFIED
 * - a seq skipped (the missing seq appears nowhere later) → ERR_AUDIT_GAP
 * - a seq skipped that appears later, or a seq repeated → ERR_AUDIT_REORDERED
 * - fewer entries than the header declares, or entries no signed checkpoint covers → ERR_AUDIT_TRUNCATED
 * - a checkpoint signature that does not verify → ERR_AUDIT_CHECKPOINT_SIGNATURE
 * - a signer certificate missing, not chaining to the CA, not valid at the checkpoint's time, or
 *   speaking for another node → ERR_AUDIT_UNTRUSTED_SIGNER
 * - a hub cosignature malformed, not following a verified checkpoint of the same tree size, root
 *   and time, or whose signature does not verify → ERR_AUDIT_COSIGNATURE; its certificate missing,
 *   not the hub's (CN 430000), not from the CA or not valid when it cosigned → ERR_AUDIT_UNTRUSTED_SIGNER
 *   (for the hub's own log the witnesses are the nodes: cosign.ts witnessRule)
 * - a log on SM (header `hash: "sm3"`: SM3 leaves and tree) whose checkpoint or cosignature is
 *   signed by a non-SM2 key, or a SHA-256 log signed by an SM2 key → ERR_AUDIT_ALGORITHM_MIXED
 * - with VerifyOptions (verify-policy.ts): another node's log than expected, an unwitnessed latest
 *   checkpoint, disagreement with the witness's records, a revoked signer
 *
 * Pure apart from the crypto calls: no files, no database.
 */
import { certFacts, chainProblem, hashAlgOfCert, sameHex, splitPemCerts, verifyText, type AuditHashAlg, type CertFacts } from './crypto.js';
import { checkpointText, GENESIS_HASH, hashEntry, type AuditEntry, type Checkpoint } from './entry.js';
import { type AuditErrorCode } from './errors.js';
import { CompactRange } from './merkle.js';
import { protocolError } from '../protocol/errors.js';
import { type BundleHeader, type CheckpointLine } from './bundle.js';
import { checkpointShapeProblem, entryShapeProblem, headerShapeProblem, isCount } from './bundle-shape.js';
import { cosignatureMismatch, epochOf, cosignatureProblem, cosignatureShapeProblem, type CosignatureBody } from './cosign.js';
import { breakLine, epochGap, checkpointRevocationProblem, cosignatureRevocationProblem, revocationOf, witnessedRoots, type VerifyOptions, type WitnessBreak } from './verify-policy.js';

export type { VerifyOptions } from './verify-policy.js';

export interface SignerSummary {
  nodeId: string;
  fingerprint: string;
  subject: string;
}

export interface VerifyReport {
  ok: boolean;
  code?: AuditErrorCode;
  seq?: number;
  line?: number;
  reason?: string;
  entries: number;
  checkpoints: number;
  /** Hub cosignatures verified (signature, hub certificate from the CA, matching checkpoint). */
  cosignatures: number;
  /** cosignedAt of the latest verified cosignature, and the largest tree size cosigned. */
  latestCosignedAt: string | null;
  cosignedTreeSize: number | null;
  /** Node id the checkpoints were signed for (null before the first verified checkpoint). */
  signer: string | null;
  signers: SignerSummary[];
  from: number | null;
  to: number | null;
  firstTime: string | null;
  lastTime: string | null;
  /** Tree size and root of the last verified checkpoint. */
  treeSize: number | null;
  rootHash: string | null;
  /** Entries after the largest cosigned tree size (null when the latest checkpoint is cosigned). */
  unwitnessed: { from: number; to: number } | null;
  /** Witness records (VerifyOptions.witnessed) of this node matched against the bundle's roots. */
  witnessRecordsChecked: number;
  /** Witness resets of this node (VerifyOptions.witnessBreaks): where its witnessed history was broken, and why. */
  witnessBreaks: WitnessBreak[];
  /** The log's hash algorithm as its header declares it (sha256, or sm3 for a log on SM: SM3 hashes, SM2 signatures); null before a header was read. */
  hash: AuditHashAlg | null;
}

interface Pending {
  /** The seq that should have come next. */
  expected: number;
  /** 'entry': another seq came instead; 'checkpoint': a checkpoint came before its entries. */
  kind: 'entry' | 'checkpoint';
  line: number;
  reason: string;
  laterEntries: number;
}

type Fail = { code: AuditErrorCode; seq: number | undefined; line: number; reason: string };

export class BundleVerifier {
  private readonly anchors: CertFacts[];
  private lineNo = 0;
  private header: BundleHeader | null = null;
  private readonly certs = new Map<string, CertFacts>();
  private range: CompactRange | null = null;
  /** The log's hash algorithm (header `hash`; sha256 when absent). */
  private alg: AuditHashAlg = 'sha256';
  private expected = 1;
  private prevHash: string = GENESIS_HASH;
  private lastCovered = 0;
  private pending: Pending | null = null;
  private failure: Fail | null = null;
  private readonly signers = new Map<string, SignerSummary>();
  private counts = { entries: 0, checkpoints: 0, cosignatures: 0 };
  private times: { first: string | null; last: string | null } = { first: null, last: null };
  private verified: { treeSize: number; rootHash: string } | null = null;
  /** Verified checkpoints by tree size, for the cosignatures that follow them. */
  private readonly checkpointsAt = new Map<number, Checkpoint>();
  private cosigned: { at: string | null; treeSize: number | null } = { at: null, treeSize: null };
  /** Verified checkpoints' signer serial and line, for the revocation check at the end. */
  private readonly checkpointMeta = new Map<number, { serial: string; time: string; line: number }>();
  /** Earliest trusted cosignedAt per tree size. */
  private readonly firstCosigned = new Map<number, string>();
  /** Witness records of this bundle's node: tree size → root the witness cosigned. */
  private witnessed = new Map<number, string>();
  /** Per witness, the largest witness epoch its verified cosignatures state, and where (docs/audit-format.md §10a, §10b). */
  private readonly maxEpoch = new Map<string, { epoch: number; treeSize: number }>();
  private witnessChecked = 0;

  /** `caPem`: one or more PEM CA certificates (ERR_KEY_UNREADABLE when none can be read). */
  constructor(caPem: string | readonly string[], private readonly opts: VerifyOptions = {}) {
    const pems = (typeof caPem === 'string' ? [caPem] : caPem).flatMap(splitPemCerts);
    try {
      this.anchors = pems.map(certFacts);
    } catch {
      throw protocolError('ERR_KEY_UNREADABLE', 'a CA certificate given to the verifier cannot be read');
    }
    if (this.anchors.length === 0) throw protocolError('ERR_KEY_UNREADABLE', 'no PEM CA certificate given to the verifier');
  }

  /** True while more lines are worth reading. */
  get open(): boolean {
    return this.failure === null;
  }

  private fail(code: AuditErrorCode, seq: number | undefined, reason: string): void {
    this.failure ??= { code, seq, line: this.lineNo, reason };
  }

  push(text: string): void {
    if (this.failure) return;
    this.lineNo++;
    const raw = text.trim();
    if (raw === '') return;
    let o: Record<string, unknown>;
    try {
      const v: unknown = JSON.parse(raw);
      if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error('not an object');
      o = v as Record<string, unknown>;
    } catch {
      if (this.pending) return;
      if (raw.startsWith('{"type":"entry"')) return this.fail('ERR_AUDIT_ENTRY_MODIFIED', this.expected, `line ${this.lineNo} (the entry expected to be seq ${this.expected}) is not valid JSON`);
      if (raw.startsWith('{"type":"checkpoint"')) return this.fail('ERR_AUDIT_CHECKPOINT_SIGNATURE', undefined, `line ${this.lineNo} (a checkpoint) is not valid JSON`);
      if (raw.startsWith('{"type":"cosignature"')) return this.fail('ERR_AUDIT_COSIGNATURE', undefined, `line ${this.lineNo} (a cosignature) is not valid JSON`);
      return this.fail('ERR_AUDIT_BUNDLE_MALFORMED', undefined, `line ${this.lineNo} is not a JSON object`);
    }
    if (this.pending) return this.scan(o);
    if (this.header === null && o.type !== 'header') return this.fail('ERR_AUDIT_BUNDLE_MALFORMED', undefined, 'the first line is not the bundle header');
    switch (o.type) {
      case 'header': return this.onHeader(o);
      case 'cert': return this.onCert(o);
      case 'entry': return this.onEntry(o);
      case 'checkpoint': return this.onCheckpoint(o);
      case 'cosignature': return this.onCosignature(o);
      default: return this.fail('ERR_AUDIT_BUNDLE_MALFORMED', undefined, `line ${this.lineNo} has an unknown type ${JSON.stringify(o.type)}`);
    }
  }

  /** After a skipped seq: is it somewhere later (re-ordered) or nowhere (a gap)? */
  private scan(o: Record<string, unknown>): void {
    const p = this.pending!;
    if (o.type !== 'entry') return;
    p.laterEntries++;
    if (o.seq === p.expected) {
      this.lineNo = p.line;
      this.fail('ERR_AUDIT_REORDERED', p.expected, `${p.reason}; seq ${p.expected} comes later, out of order`);
    }
  }

  private onHeader(o: Record<string, unknown>): void {
    if (this.header) return this.fail('ERR_AUDIT_BUNDLE_MALFORMED', undefined, `line ${this.lineNo} is a second header`);
    const problem = headerShapeProblem(o);
    if (problem) return this.fail('ERR_AUDIT_BUNDLE_MALFORMED', undefined, `header: ${problem}`);
    const h = o as unknown as BundleHeader;
    try {
      this.alg = h.hash ?? 'sha256';
      this.range = CompactRange.fromHex(h.from - 1, h.frontier, this.alg);
    } catch (e) {
      return this.fail('ERR_AUDIT_BUNDLE_MALFORMED', undefined, `header: ${(e as Error).message}`);
    }
    this.header = h;
    this.expected = h.from;
    this.lastCovered = h.from - 1;
    this.prevHash = h.prevHash;
    if (this.opts.node !== undefined && h.nodeId !== this.opts.node) {
      return this.fail('ERR_AUDIT_UNTRUSTED_SIGNER', undefined, `the bundle is the audit log of node ${h.nodeId}, not of node ${this.opts.node} (--node)`);
    }
    if (h.nodeId !== null && this.opts.witnessed !== undefined) {
      const missing = epochGap(h.nodeId, new Map(), this.opts.witnessBreaks ?? [], this.opts.witnessed); // the witness file on its own: archived heads, contiguous epochs
      if (missing) return this.fail('ERR_AUDIT_RESET_MISSING', undefined, missing);
    }
    if (h.nodeId !== null) {
      let roots: Map<number, string>;
      try {
        roots = witnessedRoots(h.nodeId, this.opts.witnessed ?? [], this.opts.witnessBreaks ?? []);
      } catch (e) {
        return this.fail('ERR_AUDIT_INCONSISTENT', undefined, (e as Error).message);
      }
      for (const [size, root] of roots) if (size >= h.from - 1) this.witnessed.set(size, root);
    }
    this.checkWitnessed();
  }

  /** Compares the root at the current size with the witness's record of that size, if any. */
  private checkWitnessed(): void {
    const range = this.range!;
    const expected = this.witnessed.get(range.size);
    if (expected === undefined) return;
    this.witnessChecked++;
    const root = range.root().toString('hex');
    if (!sameHex(root, expected)) {
      this.fail('ERR_AUDIT_INCONSISTENT', range.size, `the witness cosigned root ${expected} at tree size ${range.size}, the bundle's entries give ${root}: the log was rewritten, or started afresh, after the witness saw it`);
    }
  }

  /** Why a signature by `cert` does not belong in this log (its key signs with another algorithm), or null. */
  private mixed(cert: CertFacts, what: string): string | null {
    const signs = hashAlgOfCert(cert.pem);
    if (signs === this.alg) return null;
    return `${what} is signed by ${signs === 'sm3' ? 'an SM2' : 'an RSA/EC'} certificate in a log hashed with ${this.alg}: one log never mixes algorithms`;
  }

  private onCert(o: Record<string, unknown>): void {
    if (typeof o.pem !== 'string') return this.fail('ERR_AUDIT_BUNDLE_MALFORMED', undefined, `line ${this.lineNo}: a cert line without pem`);
    try {
      const c = certFacts(o.pem);
      this.certs.set(c.fingerprint, c);
    } catch {
      // An unreadable certificate is simply absent: a checkpoint naming it fails as untrusted.
    }
  }

  private onEntry(o: Record<string, unknown>): void {
    const e = this.expected;
    const h = this.header!;
    const range = this.range!;
    const claimed = isCount(o.seq) && o.seq !== e ? ` (the line claims seq ${String(o.seq)})` : '';
    const shape = entryShapeProblem(o);
    if (shape) return this.fail('ERR_AUDIT_ENTRY_MODIFIED', e, `entry at line ${this.lineNo}${claimed}: ${shape}`);
    const entry = o as unknown as AuditEntry;
    if (!sameHex(hashEntry(entry, this.alg), entry.leafHash)) return this.fail('ERR_AUDIT_ENTRY_MODIFIED', e, `entry at line ${this.lineNo}${claimed}: its content does not match its leaf hash`);
    if (entry.seq > e) {
      this.pending = { expected: e, kind: 'entry', line: this.lineNo, reason: `seq ${entry.seq} follows seq ${e - 1}`, laterEntries: 0 };
      return;
    }
    if (entry.seq < e) return this.fail('ERR_AUDIT_REORDERED', entry.seq, `seq ${entry.seq} appears again after seq ${e - 1}`);
    if (entry.seq > h.to) return this.fail('ERR_AUDIT_BUNDLE_MALFORMED', entry.seq, `seq ${entry.seq} lies beyond the range ${h.from}..${h.to} the header declares`);
    if (!sameHex(entry.prevHash, this.prevHash)) {
      if (e === h.from) return this.fail('ERR_AUDIT_ENTRY_MODIFIED', e, `entry ${e}'s prevHash differs from the one the header states for entry ${e - 1}`);
      return this.fail('ERR_AUDIT_ENTRY_MODIFIED', e - 1, `entry ${e - 1}'s hash differs from the prevHash entry ${e} recorded`);
    }
    range.append(Buffer.from(entry.leafHash, 'hex'));
    this.prevHash = entry.leafHash;
    this.expected = e + 1;
    this.counts.entries++;
    this.times.first ??= entry.time;
    this.times.last = entry.time;
    this.checkWitnessed();
  }

  private onCheckpoint(o: Record<string, unknown>): void {
    const shape = checkpointShapeProblem(o);
    const at = isCount(o.treeSize) ? o.treeSize : undefined;
    if (shape) return this.fail('ERR_AUDIT_CHECKPOINT_SIGNATURE', at, `checkpoint at line ${this.lineNo}: ${shape}`);
    const cp = o as unknown as CheckpointLine;
    const h = this.header!;
    const cert = this.certs.get(cp.signerFingerprint);
    if (!cert) return this.fail('ERR_AUDIT_UNTRUSTED_SIGNER', cp.treeSize, `the signer certificate sha256:${cp.signerFingerprint} is not in the bundle`);
    if (cp.nodeId !== h.nodeId || cert.cn !== cp.nodeId) {
      return this.fail('ERR_AUDIT_UNTRUSTED_SIGNER', cp.treeSize, `the checkpoint is signed for node ${cp.nodeId} by a certificate for "${cert.cn}" in a bundle of node ${h.nodeId}`);
    }
    const intermediates = [...this.certs.values()].filter((c) => c !== cert);
    const problem = chainProblem(cert, intermediates, this.anchors, new Date(cp.time));
    if (problem) return this.fail('ERR_AUDIT_UNTRUSTED_SIGNER', cp.treeSize, problem);
    const mixed = this.mixed(cert, `the checkpoint at tree size ${cp.treeSize}`);
    if (mixed) return this.fail('ERR_AUDIT_ALGORITHM_MIXED', cp.treeSize, mixed);
    if (!verifyText(cert.pem, checkpointText(cp, this.alg), cp.signature)) {
      return this.fail('ERR_AUDIT_CHECKPOINT_SIGNATURE', cp.treeSize, `the signature of the checkpoint at tree size ${cp.treeSize} does not verify with its signer certificate`);
    }
    const range = this.range!;
    let root: Buffer;
    if (cp.treeSize === range.size) {
      root = range.root();
    } else if (cp.treeSize > range.size) {
      this.pending = { expected: range.size + 1, kind: 'checkpoint', line: this.lineNo, reason: `the checkpoint at tree size ${cp.treeSize} comes after seq ${range.size}`, laterEntries: 0 };
      return;
    } else {
      return this.fail('ERR_AUDIT_REORDERED', cp.treeSize, `the checkpoint at tree size ${cp.treeSize} comes after seq ${range.size}`);
    }
    if (!sameHex(root.toString('hex'), cp.rootHash)) {
      return this.fail('ERR_AUDIT_ENTRY_MODIFIED', this.lastCovered + 1, `the root signed at tree size ${cp.treeSize} does not match entries ${this.lastCovered + 1}..${Math.min(cp.treeSize, range.size)}: one of them was changed and re-hashed`);
    }
    this.lastCovered = Math.max(this.lastCovered, Math.min(cp.treeSize, range.size));
    this.counts.checkpoints++;
    this.verified = { treeSize: cp.treeSize, rootHash: cp.rootHash };
    this.checkpointsAt.set(cp.treeSize, cp);
    this.checkpointMeta.set(cp.treeSize, { serial: cert.serial, time: cp.time, line: this.lineNo });
    this.signers.set(cert.fingerprint, { nodeId: cert.cn, fingerprint: cert.fingerprint, subject: cert.subject.replace(/\n/g, ', ') });
  }

  private onCosignature(o: Record<string, unknown>): void {
    const at = isCount(o.treeSize) ? o.treeSize : undefined;
    const shape = cosignatureShapeProblem(o, false);
    if (shape) return this.fail('ERR_AUDIT_COSIGNATURE', at, `cosignature at line ${this.lineNo}: ${shape}`);
    const c = o as unknown as CosignatureBody;
    const cp = this.checkpointsAt.get(c.treeSize);
    if (!cp) return this.fail('ERR_AUDIT_COSIGNATURE', c.treeSize, `the cosignature at line ${this.lineNo} is of tree size ${c.treeSize}, but no checkpoint of that size comes before it in the bundle`);
    const mismatch = cosignatureMismatch(c, cp);
    if (mismatch) return this.fail('ERR_AUDIT_COSIGNATURE', c.treeSize, mismatch);
    const cert = this.certs.get(c.signerFingerprint);
    if (!cert) return this.fail('ERR_AUDIT_UNTRUSTED_SIGNER', c.treeSize, `the hub certificate sha256:${c.signerFingerprint} of the cosignature at tree size ${c.treeSize} is not in the bundle`);
    const mixed = this.mixed(cert, `the cosignature at tree size ${c.treeSize}`);
    if (mixed) return this.fail('ERR_AUDIT_ALGORITHM_MIXED', c.treeSize, mixed);
    const problem = cosignatureProblem(c, cert, this.anchors, [...this.certs.values()].filter((x) => x !== cert));
    if (problem) return this.fail(problem.code, c.treeSize, problem.reason);
    const revoked = revocationOf(this.opts.revocations, cert.serial);
    const late = revoked ? cosignatureRevocationProblem(revoked, c.cosignedAt, c.treeSize, c.witness) : null;
    if (late) return this.fail('ERR_AUDIT_REVOKED_SIGNER', c.treeSize, late);
    const first = this.firstCosigned.get(c.treeSize);
    if (first === undefined || c.cosignedAt < first) this.firstCosigned.set(c.treeSize, c.cosignedAt);
    this.counts.cosignatures++;
    if (this.cosigned.at === null || c.cosignedAt > this.cosigned.at) this.cosigned.at = c.cosignedAt;
    this.cosigned.treeSize = Math.max(this.cosigned.treeSize ?? 0, c.treeSize);
    const epoch = epochOf(c);
    if (epoch > (this.maxEpoch.get(c.witness)?.epoch ?? 0)) this.maxEpoch.set(c.witness, { epoch, treeSize: c.treeSize });
  }

  finish(): VerifyReport {
    const h = this.header;
    const size = this.range?.size ?? 0;
    if (!this.failure && this.pending) {
      const p = this.pending;
      this.lineNo = p.line;
      if (p.kind === 'entry' || p.laterEntries > 0) this.fail('ERR_AUDIT_GAP', p.expected, `${p.reason}; seq ${p.expected} is missing`);
      else this.fail('ERR_AUDIT_TRUNCATED', p.expected, `${p.reason}; the entries from seq ${p.expected} on are missing`);
    }
    if (!this.failure) {
      if (!h) this.fail('ERR_AUDIT_BUNDLE_MALFORMED', undefined, 'the bundle is empty');
      else if (size < h.to) this.fail('ERR_AUDIT_TRUNCATED', size + 1, `the header declares entries ${h.from}..${h.to} but the bundle ends after seq ${size}`);
      else if (this.lastCovered < size) this.fail('ERR_AUDIT_TRUNCATED', this.lastCovered + 1, `entries ${this.lastCovered + 1}..${size} are not covered by any signed checkpoint (a final checkpoint was cut off)`);
    }
    if (!this.failure && h) this.finishPolicy(h, size);
    const lastCosigned = this.cosigned.treeSize ?? 0;
    const unwitnessed = h && size > lastCosigned ? { from: Math.max(lastCosigned + 1, h.from), to: size } : null;
    const signers = [...this.signers.values()];
    const f = this.failure;
    return {
      ok: f === null,
      ...(f ? { code: f.code, ...(f.seq !== undefined ? { seq: f.seq } : {}), line: f.line, reason: f.reason } : {}),
      entries: this.counts.entries,
      checkpoints: this.counts.checkpoints,
      cosignatures: this.counts.cosignatures,
      latestCosignedAt: this.cosigned.at,
      cosignedTreeSize: this.cosigned.treeSize,
      signer: signers.length ? [...new Set(signers.map((s) => s.nodeId))].join(',') : null,
      signers,
      from: h?.from ?? null,
      to: h?.to ?? null,
      firstTime: this.times.first,
      lastTime: this.times.last,
      treeSize: this.verified?.treeSize ?? null,
      rootHash: this.verified?.rootHash ?? null,
      unwitnessed,
      witnessRecordsChecked: this.witnessChecked,
      witnessBreaks: h?.nodeId ? (this.opts.witnessBreaks ?? []).filter((b) => b.nodeId === h.nodeId).sort((a, b) => a.epoch - b.epoch) : [],
      hash: h ? this.alg : null,
    };
  }

  /** verify-policy.ts: revoked signers, the witness's records beyond the bundle, the unwitnessed tail. */
  private finishPolicy(h: BundleHeader, size: number): void {
    for (const [treeSize, m] of this.checkpointMeta) {
      const revoked = revocationOf(this.opts.revocations, m.serial);
      const problem = revoked ? checkpointRevocationProblem(revoked, m.time, this.firstCosigned.get(treeSize) ?? null, treeSize) : null;
      if (problem) {
        this.lineNo = m.line;
        return this.fail('ERR_AUDIT_REVOKED_SIGNER', treeSize, problem);
      }
    }
    if (this.opts.witnessed !== undefined && h.nodeId !== null) {
      const missing = epochGap(h.nodeId, new Map([...this.maxEpoch].map(([w, m]) => [w, m.epoch])), this.opts.witnessBreaks ?? [], this.opts.witnessed);
      const at = Math.max(0, ...[...this.maxEpoch.values()].map((m) => m.treeSize));
      if (missing) return this.fail('ERR_AUDIT_RESET_MISSING', at || undefined, missing);
    }
    const beyond = Math.max(0, ...this.witnessed.keys());
    if (beyond > size) {
      return this.fail('ERR_AUDIT_TRUNCATED', size + 1, `the witness cosigned node ${h.nodeId}'s log at tree size ${beyond}, but the bundle ends at ${size}: entries were removed (or export the whole log)`);
    }
    if (this.opts.requireWitness && !this.firstCosigned.has(size)) {
      const last = this.cosigned.treeSize;
      const tail = last ? `entries ${last + 1}..${size} are` : `none of its ${size} entries is`;
      this.fail('ERR_AUDIT_UNWITNESSED', last ? last + 1 : h.from, `the latest checkpoint (tree size ${size}) carries no witness cosignature: ${tail} witnessed, so one key could have rewritten them`);
    }
  }
}

/** Verifies a whole bundle given as text or as lines (sync or async). */
export async function verifyBundle(input: string | Iterable<string> | AsyncIterable<string>, caPem: string | readonly string[], opts: VerifyOptions = {}): Promise<VerifyReport> {
  const v = new BundleVerifier(caPem, opts);
  const lines = typeof input === 'string' ? input.split('\n') : input;
  for await (const l of lines) {
    v.push(l);
    if (!v.open) break;
  }
  return v.finish();
}

/** The one-line summary `credit audit verify` prints. */
export function summaryLine(r: VerifyReport): string {
  if (!r.ok) return `FAILED ${r.code}${r.seq !== undefined ? ` at seq ${r.seq}` : ''}: ${r.reason}`;
  const signers = r.signers.map((s) => `${s.nodeId} (sha256:${s.fingerprint.slice(0, 16)}…)`).join(', ');
  return `OK ${r.entries} entries (seq ${r.from}..${r.to}), ${r.checkpoints} checkpoints, signer ${signers}, ${r.firstTime} .. ${r.lastTime}, root ${r.rootHash} at tree size ${r.treeSize}` +
    (r.hash === 'sm3' ? ' (SM3 hashes, SM2 signatures)' : '') +
    (r.cosignatures ? `, ${r.cosignatures} cosignatures by ${r.signer === '430000' ? 'the nodes' : 'the hub'} verified, latest ${r.latestCosignedAt} (up to tree size ${r.cosignedTreeSize})` : '') +
    (r.witnessRecordsChecked ? `, ${r.witnessRecordsChecked} witness records agree` : '') +
    (r.unwitnessed ? `; WARNING entries ${r.unwitnessed.from}..${r.unwitnessed.to} are not witnessed` : '') +
    r.witnessBreaks.map((b) => `\n${breakLine(b)}`).join('');
}
