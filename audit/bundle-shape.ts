/** Shape checks of bundle lines (bundle.ts) for the offline verifier: why a line is not what its type says. */
import { GENESIS_HASH } from './entry.js';
import { BUNDLE_FORMAT } from './bundle.js';

const ENTRY_KEYS = ['type', 'seq', 'time', 'actor', 'actorNode', 'action', 'object', 'class', 'outcome', 'reason', 'prevHash', 'leafHash'] as const;
const CHECKPOINT_KEYS = ['type', 'treeSize', 'rootHash', 'time', 'nodeId', 'signature', 'signerFingerprint'] as const;
const HEX64 = /^[0-9a-f]{64}$/;
const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
export const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
export const isHex = (v: unknown): v is string => typeof v === 'string' && HEX64.test(v);
const strOrNull = (v: unknown) => v === null || typeof v === 'string';
const sameKeys = (o: Record<string, unknown>, keys: readonly string[]) => Object.keys(o).length === keys.length && keys.every((k) => Object.hasOwn(o, k));

export function entryShapeProblem(o: Record<string, unknown>): string | null {
  if (!sameKeys(o, ENTRY_KEYS)) return 'its fields are not those of an audit entry';
  if (!isCount(o.seq) || o.seq < 1) return 'seq is not a positive whole number';
  if (typeof o.time !== 'string' || !ISO.test(o.time)) return 'time is not a UTC ISO time with milliseconds';
  if (typeof o.actor !== 'string' || typeof o.action !== 'string') return 'actor or action is not a string';
  if (!strOrNull(o.actorNode) || !strOrNull(o.object) || !strOrNull(o.class) || !strOrNull(o.reason)) return 'an optional field is neither a string nor null';
  if (o.outcome !== 'success' && o.outcome !== 'failure') return 'outcome is neither success nor failure';
  if (!isHex(o.prevHash) || !isHex(o.leafHash)) return 'prevHash or leafHash is not a 32-byte hex digest';
  return null;
}

export function checkpointShapeProblem(o: Record<string, unknown>): string | null {
  if (!sameKeys(o, CHECKPOINT_KEYS)) return 'its fields are not those of a checkpoint';
  if (!isCount(o.treeSize) || o.treeSize < 1) return 'treeSize is not a positive whole number';
  if (!isHex(o.rootHash) || !isHex(o.signerFingerprint)) return 'rootHash or signerFingerprint is not a SHA-256 hex digest';
  if (typeof o.time !== 'string' || !ISO.test(o.time)) return 'time is not a UTC ISO time with milliseconds';
  if (typeof o.nodeId !== 'string' || typeof o.signature !== 'string') return 'nodeId or signature is not a string';
  return null;
}

export function headerShapeProblem(o: Record<string, unknown>): string | null {
  if (o.format !== BUNDLE_FORMAT) return `format is not ${BUNDLE_FORMAT}`;
  if (typeof o.nodeId !== 'string') return 'nodeId is not a string';
  if (!isCount(o.from) || !isCount(o.to) || !isCount(o.entries) || o.from < 1 || o.to < o.from) return 'from, to or entries is not a valid range';
  if (o.entries !== o.to - o.from + 1) return 'entries does not equal to − from + 1';
  if (!isHex(o.prevHash) || !Array.isArray(o.frontier) || !o.frontier.every(isHex)) return 'prevHash or frontier is not made of SHA-256 hex digests';
  if (o.hash !== undefined && o.hash !== 'sm3') return 'hash is neither absent (SHA-256) nor "sm3"';
  if (o.from === 1 && (o.prevHash !== GENESIS_HASH || o.frontier.length !== 0)) return 'a bundle from seq 1 must start from the genesis hash and an empty frontier';
  return null;
}
