/**
 * The hub's operator accounts (issue 18): who may use the hub's operator and admin routes, and the
 * register, login and session check behind them — the logic the node's accounts use too
 * (server/: argon2id + TOTP, lockout, sessions with jti, idle timeout, the TOTP secret sealed at
 * rest), over hub_users / hub_sessions. The node-facing routes (mutual TLS, signed envelopes) know
 * nothing of this.
 *
 * Roles: `operator` runs the hub day to day (nodes, enrolment tokens, revocation, data quality);
 * the three admin duties (三权分立) are `sysadmin` (the register and sessions: no node or exchange
 * data), `secadmin` (reviews the register: who holds which role) and `auditor` (the audit log and
 * its export only). One account holds one role; roles are set by `credit hub user add` only.
 * Hub accounts carry no clearance (operators read no record content): it is always `none`.
 */
import { join } from 'node:path';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Knex } from 'knex';
import type { AuditEvent } from '../audit/types.js';
import { HUB_NODE_ID } from '../certs/issue.js';
import { accountError } from '../server/account-errors.js';
import type { AccountsConfig } from '../server/accounts-config.js';
import { accountsStore } from '../server/accounts-store.js';
import { signAccessToken } from '../server/access-token.js';
import { deriveKey, readOrCreateKeyFile } from '../server/credentials.js';
import { loginService } from '../server/login-service.js';
import { currentRequest } from '../server/request-context.js';
import { sessionChecker } from '../server/session-check.js';
import { usersService } from '../server/users-service.js';

export const HUB_ROLES = ['operator', 'sysadmin', 'secadmin', 'auditor'] as const;
export type HubRole = (typeof HUB_ROLES)[number];
export const HUB_ADMIN_ROLES: readonly HubRole[] = ['sysadmin', 'secadmin', 'auditor'];
export const HUB_CLEARANCE = 'none';
export type HubClearance = typeof HUB_CLEARANCE;

export const isHubRole = (x: unknown): x is HubRole => typeof x === 'string' && (HUB_ROLES as readonly string[]).includes(x);
const isHubClearance = (x: unknown): x is HubClearance => x === HUB_CLEARANCE;

/**
 * Role → the session routes it may use (checked before any handler; default deny: a route not
 * listed for a role, including any added later, answers ERR_ROLE_DENIED). Keys are route URLs as
 * registered, prefixed with the method.
 */
export const HUB_ROLE_ROUTES: Readonly<Record<HubRole, readonly string[]>> = Object.freeze({
  operator: ['POST /v1/logout', 'GET /v1/operator/nodes', 'POST /v1/operator/nodes/:node/revoke', 'GET /v1/operator/tokens', 'POST /v1/operator/tokens', 'POST /v1/operator/nodes/:node/tokens/cancel', 'GET /v1/operator/quality'],
  sysadmin: ['POST /v1/logout', 'GET /v1/users', 'POST /v1/users/:name/disable', 'GET /v1/sessions'],
  secadmin: ['POST /v1/logout', 'GET /v1/users'],
  auditor: ['POST /v1/logout', 'GET /v1/audit/export'],
});

export function mayUseHubRoute(role: HubRole, method: string, url: string): boolean {
  return HUB_ROLE_ROUTES[role].includes(`${method} ${url}`);
}

export const hubAccounts = accountsStore<HubRole, HubClearance>('hub');

/** The key TOTP secrets of hub accounts are sealed with: DATADIR/totp.key (every hub process needs the same file). */
export function hubTotpKey(dataDir: string): Buffer {
  return readOrCreateKeyFile(join(dataDir, 'totp.key'));
}

/** What the HKDF of the session signing key is bound to (RFC 5869 `info`). */
export const SESSION_KEY_INFO = 'credit hub session jwt v1';

/**
 * The HS256 key of operator access tokens: HKDF-SHA256 of DATADIR/totp.key (hubTotpKey), info
 * SESSION_KEY_INFO. Never stored: the database alone does not let anyone forge an operator session,
 * and every hub process with the same totp.key derives the same key.
 */
export function sessionSigningKey(totpKey: Uint8Array): Buffer {
  return deriveKey(totpKey, SESSION_KEY_INFO);
}

/** What the HKDF of the console's CSRF key is bound to (RFC 5869 `info`): distinct from the session key's. */
export const CONSOLE_CSRF_KEY_INFO = 'credit hub console csrf v1';

/** The key of the operator console's session-bound CSRF tokens: HKDF-SHA256 of totp.key, info CONSOLE_CSRF_KEY_INFO; never stored. */
export function consoleCsrfKey(totpKey: Uint8Array): Buffer {
  return deriveKey(totpKey, CONSOLE_CSRF_KEY_INFO);
}

export interface HubAccountsDeps {
  db: Knex;
  /** A request-aware writer (server/request-context.ts): entries carry src= and sid=. */
  audit: { record(e: AuditEvent): Promise<number> };
  accounts: AccountsConfig;
  totpKey: Uint8Array;
  clock: () => Date;
}

export function hubUsersService(deps: HubAccountsDeps) {
  return usersService<HubRole, HubClearance>({
    db: deps.db, store: hubAccounts, audit: deps.audit, actorNode: HUB_NODE_ID, issuer: `credit-hub-${HUB_NODE_ID}`,
    adminRoles: HUB_ADMIN_ROLES, addCommand: 'credit hub user add', accounts: deps.accounts, totpKey: deps.totpKey, clock: deps.clock,
  });
}

export function hubLoginService(deps: HubAccountsDeps & { signingKey: Uint8Array; beforeVerify?: (user: string) => Promise<void> }) {
  return loginService<HubRole, HubClearance>({
    db: deps.db, store: hubAccounts, audit: deps.audit, actorNode: HUB_NODE_ID, totpKey: deps.totpKey, accounts: deps.accounts, clock: deps.clock,
    issueToken: (c, issued) => signAccessToken(deps.signingKey, HUB_NODE_ID, c, issued),
    ...(deps.beforeVerify ? { beforeVerify: deps.beforeVerify } : {}),
  });
}

export interface Operator {
  /** `user:<name>` */
  actor: string;
  role: HubRole;
  /** The session (jti). */
  sessionId: string;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** The operator of a session route (operatorAuth). */
    operator?: Operator;
  }
}

/** The bearer token of an Authorization header, if any. */
export function bearerToken(request: FastifyRequest): string | undefined {
  const h = request.headers.authorization;
  if (typeof h !== 'string') return undefined;
  const m = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(h);
  return m?.[1];
}

/**
 * The onRequest hook of the operator and admin routes: the session check (server/session-check.ts,
 * a function of the token string: the console's cookie will call it too), then the role's routes.
 * Refusals are audited by the hub's error handler (401, 403).
 */
export function operatorAuth(deps: { db: Knex; accounts: AccountsConfig; clock: () => Date; verifyToken(token: string): Promise<Record<string, unknown>> }) {
  const check = sessionChecker({ db: deps.db, store: hubAccounts, accounts: deps.accounts, clock: deps.clock, isRole: isHubRole, isClearance: isHubClearance, serviceMaxTtlSeconds: 0, verifyToken: deps.verifyToken });
  const hook = async (request: FastifyRequest, _reply?: FastifyReply): Promise<void> => {
    const v = await check.token(bearerToken(request));
    if (!v.ok) throw accountError(v.code, v.message);
    request.operator = { actor: v.actor, role: v.role, sessionId: v.jti };
    const rc = currentRequest();
    if (rc) rc.sessionId = v.sessionId;
    const url = request.routeOptions.url ?? '';
    if (!mayUseHubRoute(v.role, request.method, url)) throw accountError('ERR_ROLE_DENIED', `role ${v.role} may not use ${request.method} ${url}`, { role: v.role });
  };
  return { check, hook };
}
