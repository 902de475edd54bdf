/**
 * One audit entry: its fields, the canonical bytes its leaf hash covers, its database row, and
 * the signed checkpoint. The leaf hash is SHA-256(0x00 || canonical JSON of every field except
 * the leaf hash itself, absent fields as null), so the previous entry's hash is part of it; SM3
 * instead of SHA-256 in a log created on SM (log-meta.ts).
 */
import { canonicalize } from '../protocol/canonical-json.js';
import { isClassification, type Classification } from '../protocol/classification.js';
import { leafHash, type AuditHashAlg } from './crypto.js';
import { auditError } from './errors.js';
import type { AuditEvent } from './types.js';

export const GENESIS_HASH = '0'.repeat(64);

export interface AuditEntry {
  seq: number;
  /** UTC, ISO 8601 with milliseconds. */
  time: string;
  actor: string;
  actorNode: string | null;
  action: string;
  object: string | null;
  class: Classification | null;
  outcome: 'success' | 'failure';
  reason: string | null;
  prevHash: string;
  leafHash: string;
}

export interface Checkpoint {
  treeSize: number;
  rootHash: string;
  time: string;
  nodeId: string;
  /** RSA PKCS#1 v1.5 SHA-256 (or ECDSA P-256, or SM2-with-SM3 in an SM log) over checkpointText(), base64. */
  signature: string;
  /** SHA-256 of the signer certificate's DER, hex. */
  signerFingerprint: string;
}

/** The bytes a leaf hash covers. */
export function leafInput(e: Omit<AuditEntry, 'leafHash'>): string {
  return canonicalize({
    seq: e.seq,
    time: e.time,
    actor: e.actor,
    actorNode: e.actorNode,
    action: e.action,
    object: e.object,
    class: e.class,
    outcome: e.outcome,
    reason: e.reason,
    prevHash: e.prevHash,
  });
}

export function hashEntry(e: Omit<AuditEntry, 'leafHash'>, alg: AuditHashAlg = 'sha256'): string {
  return leafHash(leafInput(e), alg).toString('hex');
}

/**
 * The text a checkpoint signature covers. A checkpoint of an SM log (SM3 hashes) also signs
 * `"hash":"sm3"`, so its signature can never be taken for one over a SHA-256 tree.
 */
export function checkpointText(c: Pick<Checkpoint, 'treeSize' | 'rootHash' | 'time' | 'nodeId'>, alg: AuditHashAlg = 'sha256'): string {
  const body = { type: 'credit-audit-checkpoint/1', treeSize: c.treeSize, rootHash: c.rootHash, time: c.time, nodeId: c.nodeId };
  return canonicalize(alg === 'sha256' ? body : { ...body, hash: alg });
}

const str = (v: unknown, max: number) => typeof v === 'string' && v.length > 0 && v.length <= max;
const optStr = (v: unknown, max: number) => v === undefined || v === null || (typeof v === 'string' && v.length <= max);

/** Refuses an event that cannot be stored as given (ERR_AUDIT_EVENT_INVALID naming the field). */
export function assertEvent(e: AuditEvent): void {
  const bad: string[] = [];
  if (typeof e !== 'object' || e === null) throw auditError('ERR_AUDIT_EVENT_INVALID', 'audit event must be an object');
  if (!str(e.actor, 200)) bad.push('actor');
  if (!optStr(e.actorNode, 16)) bad.push('actorNode');
  if (!str(e.action, 64)) bad.push('action');
  if (!optStr(e.object, 400)) bad.push('object');
  if (e.class !== undefined && !isClassification(e.class)) bad.push('class');
  if (e.outcome !== 'success' && e.outcome !== 'failure') bad.push('outcome');
  if (!optStr(e.reason, 2000)) bad.push('reason');
  if (bad.length) throw auditError('ERR_AUDIT_EVENT_INVALID', `audit event has bad fields: ${bad.join(', ')}`, { fields: bad });
}

/** The next entry after (seq - 1, prevHash). */
export function makeEntry(e: AuditEvent, seq: number, time: Date, prevHash: string, alg: AuditHashAlg = 'sha256'): AuditEntry {
  const base = {
    seq,
    time: time.toISOString(),
    actor: e.actor,
    actorNode: e.actorNode ?? null,
    action: e.action,
    object: e.object ?? null,
    class: e.class ?? null,
    outcome: e.outcome,
    reason: e.reason ?? null,
    prevHash,
  };
  return { ...base, leafHash: hashEntry(base, alg) };
}

export interface EntryRow {
  seq: number | string;
  time: string;
  actor: string;
  actor_node: string | null;
  action: string;
  object: string | null;
  class: string | null;
  outcome: string;
  reason: string | null;
  prev_hash: string;
  leaf_hash: string;
}

export function toRow(e: AuditEntry): EntryRow {
  return {
    seq: e.seq, time: e.time, actor: e.actor, actor_node: e.actorNode, action: e.action, object: e.object,
    class: e.class, outcome: e.outcome, reason: e.reason, prev_hash: e.prevHash, leaf_hash: e.leafHash,
  };
}

export function fromRow(r: EntryRow): AuditEntry {
  return {
    seq: Number(r.seq), time: r.time, actor: r.actor, actorNode: r.actor_node, action: r.action, object: r.object,
    class: r.class as Classification | null, outcome: r.outcome as 'success' | 'failure', reason: r.reason,
    prevHash: r.prev_hash, leafHash: r.leaf_hash,
  };
}

export interface CheckpointRow {
  tree_size: number | string;
  root_hash: string;
  time: string;
  node_id: string;
  signature: string;
  signer_fingerprint: string;
  cert_pem: string;
  chain_pems: string;
}

export function checkpointFromRow(r: CheckpointRow): Checkpoint {
  return { treeSize: Number(r.tree_size), rootHash: r.root_hash, time: r.time, nodeId: r.node_id, signature: r.signature, signerFingerprint: r.signer_fingerprint };
}
