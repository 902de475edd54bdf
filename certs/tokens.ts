/**
 * One-time enrolment tokens: `cf1_` + 256 random bits in base64url. Only the SHA-256 of a token is
 * stored; redeeming one checks, in order: known (ERR_TOKEN_INVALID), not cancelled (ERR_TOKEN_CANCELLED),
 * unused (ERR_TOKEN_USED), unexpired (ERR_TOKEN_EXPIRED), for this node id (ERR_TOKEN_NODE_MISMATCH), then marks it used.
 * A token presented for the wrong node is not consumed.
 */
import { assertNodeId } from '../protocol/identifiers.js';
import { certError } from './errors.js';
import { randomTokenBytes, sha256Hex } from './pki-crypto.js';
import type { TokenRecord, TokenStore } from './types.js';

/** Token functions take the CA (its `tokens`) or any TokenStore, e.g. the hub's database store. */
export type TokenHolder = TokenStore | { tokens: TokenStore };

function storeOf(h: TokenHolder): TokenStore {
  return 'tokens' in h ? h.tokens : h;
}

export const TOKEN_PREFIX = 'cf1_';
const TOKEN_SHAPE = /^cf1_[A-Za-z0-9_-]{43}$/;

export function assertGrade(grade: unknown): number {
  if (typeof grade !== 'number' || !Number.isInteger(grade) || grade < 1 || grade > 4) {
    throw certError('ERR_GRADE_INVALID', `protection grade must be 1, 2, 3 or 4, got ${JSON.stringify(grade)}`);
  }
  return grade;
}

export interface CreateTokenOptions {
  nodeId: string;
  grade: number;
  ttlMs: number;
  now?: Date;
}

/** A new one-time token for `nodeId` at `grade`, valid for `ttlMs`; only its hash is stored. */
export async function createEnrolmentToken(holder: TokenHolder, o: CreateTokenOptions): Promise<{ token: string; expiresAt: Date }> {
  const store = storeOf(holder);
  const nodeId = assertNodeId(o.nodeId);
  const grade = assertGrade(o.grade);
  if (!Number.isFinite(o.ttlMs) || o.ttlMs <= 0) throw new RangeError('ttlMs must be a positive number of milliseconds');
  const now = o.now ?? new Date();
  const token = TOKEN_PREFIX + randomTokenBytes(32).toString('base64url');
  const expiresAt = new Date(now.getTime() + o.ttlMs);
  await store.putToken({ hash: sha256Hex(token), nodeId, grade, createdAt: now.toISOString(), expiresAt: expiresAt.toISOString() });
  return { token, expiresAt };
}

/**
 * The token's record when it could be redeemed now: shape (ERR_TOKEN_INVALID), known
 * (ERR_TOKEN_INVALID), not cancelled (ERR_TOKEN_CANCELLED), unused (ERR_TOKEN_USED), unexpired
 * (ERR_TOKEN_EXPIRED). Marks nothing: enrolment calls it before it reads the CSR, so a request
 * without a live token costs one hash and one lookup.
 */
export async function checkEnrolmentToken(holder: TokenHolder, token: unknown, now: Date = new Date()): Promise<TokenRecord> {
  const store = storeOf(holder);
  if (typeof token !== 'string' || !TOKEN_SHAPE.test(token)) throw certError('ERR_TOKEN_INVALID', 'enrolment token is malformed');
  const rec = await store.findToken(sha256Hex(token));
  if (!rec) throw certError('ERR_TOKEN_INVALID', 'enrolment token is unknown');
  if (rec.cancelledAt !== undefined) throw certError('ERR_TOKEN_CANCELLED', `enrolment token was cancelled at ${rec.cancelledAt}`);
  if (rec.usedAt !== undefined) throw certError('ERR_TOKEN_USED', `enrolment token was used at ${rec.usedAt}`);
  if (now.getTime() >= Date.parse(rec.expiresAt)) throw certError('ERR_TOKEN_EXPIRED', `enrolment token expired at ${rec.expiresAt}`);
  return rec;
}

/** Checks a token for `nodeId` and marks it used (single use, also under concurrent redemption). */
export async function redeemEnrolmentToken(holder: TokenHolder, token: string, o: { nodeId: string; now?: Date }): Promise<{ nodeId: string; grade: number }> {
  const store = storeOf(holder);
  const now = o.now ?? new Date();
  const rec = await checkEnrolmentToken(store, token, now);
  if (rec.nodeId !== o.nodeId) throw certError('ERR_TOKEN_NODE_MISMATCH', `enrolment token is for node ${rec.nodeId}, not ${o.nodeId}`);
  if (!(await store.markTokenUsed(rec.hash, now))) throw certError('ERR_TOKEN_USED', 'enrolment token has just been used or cancelled');
  return { nodeId: rec.nodeId, grade: rec.grade };
}

/** Parses a TTL such as `30m`, `24h`, `7d` (or plain seconds) into milliseconds; undefined if bad. */
export function parseTtl(text: string): number | undefined {
  const m = /^(\d+)([smhd]?)$/.exec(text.trim());
  if (!m) return undefined;
  const n = Number(m[1]);
  const unit = { '': 1000, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] as '' | 's' | 'm' | 'h' | 'd'];
  return n > 0 ? n * unit : undefined;
}
