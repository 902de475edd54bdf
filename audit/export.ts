/**
 * Builds an export bundle (bundle.ts) from a store. The bundle must end with a checkpoint at its
 * last entry: the stored one when there is one; otherwise, given a signer, a checkpoint is signed
 * for that size now (and stored); without a signer the range is cut back to the last stored
 * checkpoint (`requestedTo` says so), or ERR_AUDIT_NO_CHECKPOINT when none lies in the range.
 * The hub's stored cosignatures follow the checkpoint they cosign; the hub certificate is a `cert`
 * line with role "witness".
 * `witnessed` ends the bundle at the last checkpoint a witness cosigned instead (nothing is signed):
 * a bundle that `credit audit verify` accepts without --allow-unwitnessed; ERR_AUDIT_UNWITNESSED
 * when no checkpoint in the range is cosigned yet.
 */
import type { Knex } from 'knex';
import { certFingerprint } from './crypto.js';
import { auditError } from './errors.js';
import { BUNDLE_FORMAT, type BundleLine, type CertLine } from './bundle.js';
import type { Cosignature } from './cosign.js';
import { cosignaturesBetween, lastCosignedSize } from './cosign-store.js';
import { readySigner, signCheckpoint, type AuditSigner } from './signer.js';
import { checkpointAt, checkpointsBetween, entries, insertCheckpoint, lastSeq, leafHashes, pruneBase, type StoredCheckpoint } from './store.js';

export interface ExportOptions {
  from?: number;
  to?: number;
  signer?: AuditSigner;
  /** End at the last witness-cosigned checkpoint at or before `to` (excludes `signer`). */
  witnessed?: boolean;
  now?: () => Date;
}

export interface ExportResult {
  lines: BundleLine[];
  from: number;
  to: number;
  checkpoints: number;
  /** Hub cosignatures carried. */
  cosignatures: number;
  /** Set when `to` was cut back: to the last stored checkpoint (no signer), or the last cosigned one (`witnessed`). */
  requestedTo?: number;
}

export async function exportBundle(db: Knex, opts: ExportOptions = {}): Promise<ExportResult> {
  const now = opts.now ?? (() => new Date());
  const base = await pruneBase(db);
  const last = await lastSeq(db);
  const from = opts.from ?? base.firstKept;
  if (from < 1) throw auditError('ERR_AUDIT_RANGE', `seq ${from} is not a sequence number`);
  if (from < base.firstKept) throw auditError('ERR_AUDIT_PRUNED', `entries before ${base.firstKept} have been pruned`);
  let to = opts.to ?? last;
  if (last === 0 || from < 1 || to > last || from > to) throw auditError('ERR_AUDIT_RANGE', `cannot export ${from}..${to}: the log holds ${base.firstKept}..${last}`);

  let requestedTo: number | undefined;
  if (opts.witnessed) {
    if (opts.signer) throw auditError('ERR_AUDIT_RANGE', 'a witnessed export signs nothing: give no signer');
    const size = await lastCosignedSize(db, from, to);
    if (size === null) throw auditError('ERR_AUDIT_UNWITNESSED', `no checkpoint of entries ${from}..${to} carries a witness cosignature yet`, { from, to });
    if (size < to) requestedTo = to;
    to = size;
  }
  let final = await checkpointAt(db, to);
  if (!final && opts.signer) {
    const leaves = await leafHashes(db, base.firstKept, to);
    const range = base.range.clone();
    for (const l of leaves) range.append(l);
    final = signCheckpoint(readySigner(opts.signer, range.alg), to, range.root().toString('hex'), now(), range.alg);
    await insertCheckpoint(db, final);
  }
  if (!final) {
    const inRange = await checkpointsBetween(db, from, to);
    final = inRange.at(-1) ?? null;
    if (!final) throw auditError('ERR_AUDIT_NO_CHECKPOINT', `no signed checkpoint covers entries ${from}..${to}; give --key and --cert to sign one`);
    requestedTo = to;
    to = final.treeSize;
  }

  const before = await leafHashes(db, base.firstKept, from - 1);
  const frontier = base.range.clone();
  for (const l of before) frontier.append(l);
  const prevHash = before.length ? before[before.length - 1]!.toString('hex') : base.prevHash;

  const cps = await checkpointsBetween(db, from, to);
  const certs = new Map<string, CertLine>();
  const addCerts = (c: StoredCheckpoint) => {
    if (!certs.has(c.signerFingerprint)) certs.set(c.signerFingerprint, { type: 'cert', role: 'signer', fingerprint: c.signerFingerprint, pem: c.certPem });
    for (const pem of c.chainPems) {
      const fp = certFingerprint(pem);
      if (!certs.has(fp)) certs.set(fp, { type: 'cert', role: 'chain', fingerprint: fp, pem });
    }
  };
  cps.forEach(addCerts);
  const cosigs = new Map<number, Cosignature[]>();
  for (const c of await cosignaturesBetween(db, from, to)) {
    cosigs.set(c.treeSize, [...(cosigs.get(c.treeSize) ?? []), c]);
    if (!certs.has(c.signerFingerprint)) certs.set(c.signerFingerprint, { type: 'cert', role: 'witness', fingerprint: c.signerFingerprint, pem: c.certPem });
  }

  const list = await entries(db, from, to);
  const lines: BundleLine[] = [
    {
      type: 'header', format: BUNDLE_FORMAT, nodeId: final.nodeId, from, to, entries: to - from + 1,
      prevHash, frontier: frontier.toHex(), exportedAt: now().toISOString(),
      // a log on SM says so; a SHA-256 log's header stays as it always was
      ...(base.range.alg === 'sha256' ? {} : { hash: base.range.alg }),
    },
    ...certs.values(),
  ];
  let ci = 0;
  let carried = 0;
  for (const e of list) {
    lines.push({ type: 'entry', ...e });
    while (ci < cps.length && cps[ci]!.treeSize <= e.seq) {
      const { certPem: _c, chainPems: _p, ...cp } = cps[ci++]!;
      lines.push({ type: 'checkpoint', ...cp });
      for (const { certPem: _h, ...co } of cosigs.get(cp.treeSize) ?? []) {
        lines.push(co);
        carried++;
      }
    }
  }
  return { lines, from, to, checkpoints: cps.length, cosignatures: carried, ...(requestedTo !== undefined ? { requestedTo } : {}) };
}
