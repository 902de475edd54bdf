/**
 * The export bundle: NDJSON, one JSON object per line, each with a `type`:
 *   header      first line: format, nodeId, from, to, entries, prevHash (leaf hash of entry from-1),
 *               frontier (compact range of leaves 1..from-1, so a ranged or pruned bundle can
 *               still recompute the signed roots), exportedAt
 *   cert        a signer certificate (role "signer"), an intermediate (role "chain") or the hub
 *               certificate that cosigned checkpoints (role "witness"), PEM
 *   entry       one audit entry with its seq, all fields, prevHash and leafHash
 *   checkpoint  a signed tree head, placed right after the entry at its treeSize
 *   cosignature the hub's countersignature of the checkpoint just before it (cosign.ts), without
 *               the certificate (a `cert` line, found by signerFingerprint)
 * A bundle always ends with a checkpoint whose treeSize is `to`.
 */
import type { CosignatureBody } from './cosign.js';
import type { AuditEntry, Checkpoint } from './entry.js';

export const BUNDLE_FORMAT = 'credit-audit-bundle/1';

export interface BundleHeader {
  type: 'header';
  format: typeof BUNDLE_FORMAT;
  nodeId: string | null;
  from: number;
  to: number;
  entries: number;
  prevHash: string;
  frontier: string[];
  exportedAt: string;
  /** `sm3` for a log on SM (SM3 hashes, SM2 signatures); absent for SHA-256. */
  hash?: 'sm3';
}

export interface CertLine {
  type: 'cert';
  role: 'signer' | 'chain' | 'witness';
  fingerprint: string;
  pem: string;
}

export type EntryLine = { type: 'entry' } & AuditEntry;
export type CheckpointLine = { type: 'checkpoint' } & Checkpoint;

export type CosignatureLine = CosignatureBody;

export type BundleLine = BundleHeader | CertLine | EntryLine | CheckpointLine | CosignatureLine;

/** Serialises lines as NDJSON (JSON.stringify; the hashes cover canonical forms, not these bytes). */
export function toNdjson(lines: Iterable<BundleLine>): string {
  let out = '';
  for (const l of lines) out += JSON.stringify(l) + '\n';
  return out;
}
