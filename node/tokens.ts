/**
 * Local tokens: HS256 JWTs signed with the node's secret, carrying `sub` (user), `role`,
 * `clearance`, `iss` (the node id), `iat`, `exp` and `jti` — the id of a server-side session
 * (sessions-store.ts) without which auth.ts refuses the token. Login sessions are minted by
 * login-service.ts; service tokens (import robots) by `credit node token` (mintServiceToken).
 */
import { randomUUID } from 'node:crypto';
import type { Knex } from 'knex';
import { signAccessToken } from '../server/access-token.js';
import type { Classification } from '../protocol/classification.js';
import type { Role } from './access.js';
import { createSession } from './sessions-store.js';

/** Longest lifetime of a service token. */
export const MAX_SERVICE_TTL_SECONDS = 30 * 86400;

export interface TokenRequest {
  user: string;
  role: Role;
  clearance: Classification;
  /** Lifetime in seconds. */
  ttlSeconds: number;
}

/** Signs a token for session `jti` (the caller records the session). */
export async function issueToken(secret: Uint8Array, nodeId: string, req: TokenRequest & { jti: string }, now: Date = new Date()): Promise<string> {
  return signAccessToken(secret, nodeId, req, now);
}

/** A service token: its session row is written in `db` first, then the token is signed. Resolves with the token and its jti. */
export async function mintServiceToken(db: Knex, secret: Uint8Array, nodeId: string, req: TokenRequest, now: Date = new Date()): Promise<{ token: string; jti: string; expiresAt: string }> {
  if (!(req.ttlSeconds > 0 && req.ttlSeconds <= MAX_SERVICE_TTL_SECONDS)) throw new RangeError(`service token lifetime must be 1..${MAX_SERVICE_TTL_SECONDS} s`);
  const jti = randomUUID();
  const issued = new Date(Math.floor(now.getTime() / 1000) * 1000);
  const expiresAt = new Date(issued.getTime() + req.ttlSeconds * 1000).toISOString();
  await createSession(db, { jti, kind: 'service', user: req.user, role: req.role, clearance: req.clearance, issuedAt: issued.toISOString(), expiresAt, source: null });
  return { token: await issueToken(secret, nodeId, { ...req, jti }, issued), jti, expiresAt };
}
