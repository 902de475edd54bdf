/**
 * The session check both servers run on an access token (issue 18 item 7): the JWT's signature is
 * verified by @fastify/jwt (HS256 only, the server's secret and issuer), then its claims are held
 * against policy and the server-side session:
 * - `iat` more than 30 s in the future, `nbf` in the future, a lifetime beyond policy (login
 *   sessions: accounts.session.ttlMinutes; service tokens: their maximum) → ERR_AUTH_INVALID;
 * - a `jti` with no session → ERR_AUTH_INVALID; an ended session (logout, disable, idle, revoke)
 *   → ERR_SESSION_ENDED; a login session unused for accounts.session.idleMinutes, or whose user is
 *   disabled or gone, is ended there and then (ERR_SESSION_ENDED); past its expiry → ERR_AUTH_EXPIRED;
 * - claims that do not match the session (user, role, clearance, issue time) → ERR_AUTH_INVALID.
 * No Fastify request in sight: `token(string)` serves a bearer header today and the console's
 * cookie (issue 20) tomorrow. The caller audits and answers the refusal.
 */
import type { Knex } from 'knex';
import type { AccountsConfig } from './accounts-config.js';
import type { AccountsStore, EndReason } from './accounts-store.js';
import { isUserName } from './user-name.js';

/** Tolerated clock difference for `iat` and `nbf`. */
export const CLOCK_SKEW_SECONDS = 30;

export type RefusalCode = 'ERR_AUTH_MISSING' | 'ERR_AUTH_INVALID' | 'ERR_AUTH_EXPIRED' | 'ERR_SESSION_ENDED';

export type SessionVerdict<R extends string, C extends string> =
  | { ok: true; user: string; actor: string; role: R; clearance: C; jti: string; /** The session id for listings and `sid=` (never the jti). */ sessionId: string }
  | { ok: false; code: RefusalCode; message: string; actor?: string };

export interface SessionCheckDeps<R extends string, C extends string> {
  db: Knex;
  store: AccountsStore<R, C>;
  accounts: AccountsConfig;
  clock: () => Date;
  isRole(x: unknown): x is R;
  isClearance(x: unknown): x is C;
  /** Longest lifetime of a service token (0: this server mints none). */
  serviceMaxTtlSeconds: number;
  /** Verifies the token's signature and standard claims (@fastify/jwt's verify), resolving with its payload. */
  verifyToken?(token: string): Promise<Record<string, unknown>>;
}


/** The refusal code of an error @fastify/jwt (fast-jwt) raised while verifying a token. */
export function jwtErrorCode(e: unknown): RefusalCode {
  const code = (e as { code?: string }).code;
  if (code === 'FST_JWT_NO_AUTHORIZATION_IN_HEADER') return 'ERR_AUTH_MISSING';
  if (code === 'FST_JWT_AUTHORIZATION_TOKEN_EXPIRED' || code === 'FAST_JWT_EXPIRED') return 'ERR_AUTH_EXPIRED';
  return 'ERR_AUTH_INVALID';
}

export function sessionChecker<R extends string, C extends string>(deps: SessionCheckDeps<R, C>) {
  const { db, store, accounts, clock } = deps;
  const loginTtl = accounts.session.ttlMinutes * 60;
  const idleMs = accounts.session.idleMinutes * 60_000;
  const no = (code: RefusalCode, message: string, actor?: string): SessionVerdict<R, C> => ({ ok: false, code, message, ...(actor ? { actor } : {}) });

  async function claims(payload: Record<string, unknown>): Promise<SessionVerdict<R, C>> {
    const { sub, role, clearance, jti, iat, exp, nbf } = payload;
    if (!isUserName(sub) || !deps.isRole(role) || !deps.isClearance(clearance) || typeof jti !== 'string' || jti.length > 36 || typeof iat !== 'number' || typeof exp !== 'number') {
      return no('ERR_AUTH_INVALID', 'token claims sub/role/clearance/jti/iat are not ones this server knows');
    }
    const now = clock();
    const nowS = now.getTime() / 1000;
    if (iat > nowS + CLOCK_SKEW_SECONDS) return no('ERR_AUTH_INVALID', 'token issued in the future (iat)');
    if (nbf !== undefined && (typeof nbf !== 'number' || nbf > nowS + CLOCK_SKEW_SECONDS)) return no('ERR_AUTH_INVALID', 'token not valid yet (nbf)');
    if (exp <= nowS) return no('ERR_AUTH_EXPIRED', 'bearer token has expired');
    const session = await store.findSession(db, jti);
    if (!session) return no('ERR_AUTH_INVALID', 'token names no session of this server (jti)');
    const actor = `user:${sub}`;
    if (session.user !== sub || session.role !== role || session.clearance !== clearance || Math.abs(Date.parse(session.issuedAt) / 1000 - iat) > 1) {
      return no('ERR_AUTH_INVALID', 'token claims do not match its session', actor);
    }
    const maxTtl = session.kind === 'login' ? loginTtl : deps.serviceMaxTtlSeconds;
    if (exp - iat > maxTtl || exp * 1000 > Date.parse(session.expiresAt) + 1000) return no('ERR_AUTH_INVALID', 'token lifetime beyond policy (exp)', actor);
    if (session.endedAt) return no('ERR_SESSION_ENDED', `session ended (${session.endReason ?? 'ended'})`, actor);
    const end = async (reason: EndReason, code: 'ERR_AUTH_EXPIRED' | 'ERR_SESSION_ENDED') => {
      await store.endSession(db, jti, reason, now);
      return no(code, `session ended (${reason})`, actor);
    };
    if (Date.parse(session.expiresAt) <= now.getTime()) return end('expired', 'ERR_AUTH_EXPIRED');
    if (session.kind === 'login') {
      const user = await store.findUser(db, sub);
      if (!user || user.disabled) return end('disabled', 'ERR_SESSION_ENDED');
      if (now.getTime() - Date.parse(session.lastSeenAt) > idleMs) return end('idle', 'ERR_SESSION_ENDED');
      if (now.getTime() - Date.parse(session.lastSeenAt) >= 5_000) await store.touchSession(db, jti, now);
    }
    return { ok: true, user: sub, actor, role: session.role, clearance: session.clearance, jti, sessionId: session.id };
  }

  return {
    /** Checks the claims of a token whose signature was verified. */
    claims,
    /** Verifies a token string (a bearer header's, a cookie's), then its claims and session. */
    async token(token: string | undefined): Promise<SessionVerdict<R, C>> {
      if (!token) return no('ERR_AUTH_MISSING', 'no access token: log in (POST /v1/login) and send Authorization: Bearer <token>');
      if (!deps.verifyToken) throw new TypeError('sessionChecker: no verifyToken');
      let payload: Record<string, unknown>;
      try {
        payload = await deps.verifyToken(token);
      } catch (e) {
        const code = jwtErrorCode(e);
        return no(code, code === 'ERR_AUTH_EXPIRED' ? 'bearer token has expired' : 'bearer token is malformed, tampered with or signed with another key');
      }
      return claims(payload);
    },
  };
}

export type SessionChecker<R extends string, C extends string> = ReturnType<typeof sessionChecker<R, C>>;
