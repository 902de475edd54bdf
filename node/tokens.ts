/**
 * Local user tokens: HS256 JWTs signed with the node's secret, carrying `sub` (user), `role`,
 * `clearance`, `iss` (the node id) and `exp`. Issued by `credit node token`; verified by
 * @fastify/jwt in auth.ts.
 */
import { SignJWT } from 'jose';
import type { Classification } from '../protocol/classification.js';
import type { Role } from './access.js';

export interface TokenRequest {
  user: string;
  role: Role;
  clearance: Classification;
  /** Lifetime in seconds. */
  ttlSeconds: number;
}

export async function issueToken(secret: Uint8Array, nodeId: string, req: TokenRequest, now: Date = new Date()): Promise<string> {
  const iat = Math.floor(now.getTime() / 1000);
  return new SignJWT({ role: req.role, clearance: req.clearance })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(req.user)
    .setIssuer(nodeId)
    .setIssuedAt(iat)
    .setExpirationTime(iat + req.ttlSeconds)
    .sign(secret);
}
