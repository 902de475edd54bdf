/**
 * Access tokens of either server: HS256 JWTs signed with the server's secret, carrying `sub`
 * (user), `role`, `clearance`, `iss` (the node id, or 430000 for the hub), `iat`, `exp` and `jti` —
 * the id of the server-side session without which session-check.ts refuses the token.
 */
import { SignJWT } from 'jose';

export interface AccessClaims {
  user: string;
  role: string;
  clearance: string;
  /** Lifetime in seconds. */
  ttlSeconds: number;
  jti: string;
}

/** Signs a token for session `jti` (the caller records the session first). */
export async function signAccessToken(secret: Uint8Array, issuer: string, c: AccessClaims, now: Date = new Date()): Promise<string> {
  const iat = Math.floor(now.getTime() / 1000);
  return new SignJWT({ role: c.role, clearance: c.clearance })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(c.user)
    .setIssuer(issuer)
    .setIssuedAt(iat)
    .setExpirationTime(iat + c.ttlSeconds)
    .setJti(c.jti)
    .sign(secret);
}
