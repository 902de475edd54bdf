/**
 * Authentication of local callers: a bearer JWT verified by @fastify/jwt (HS256 only, this node's
 * secret, this node as issuer), then held against policy and its server-side session by the check
 * both servers share (server/session-check.ts: iat/nbf/exp policy, jti, ended, idle, disabled
 * user). Every refusal is audited (aggregated per client address and minute, audit/refusals.ts).
 * The verified caller is `request.caller`, its session `request.sessionId`.
 */
import fastifyJwt from '@fastify/jwt';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Knex } from 'knex';
import type { RefusalAudit } from '../audit/refusals.js';
import { isClassification } from '../protocol/classification.js';
import { isRole, mayUseRoute, type Caller } from './access.js';
import type { AccountsConfig } from '../server/accounts-config.js';
import { nodeError } from './errors.js';
import { currentRequest } from '../server/request-context.js';
import { jwtErrorCode, sessionChecker } from '../server/session-check.js';
import { MAX_SERVICE_TTL_SECONDS } from './tokens.js';
import { nodeAccounts } from './users-store.js';
import type { AuditWriter } from './records-service.js';

declare module 'fastify' {
  interface FastifyRequest {
    caller: Caller;
    sessionId: string;
  }
}

export { CLOCK_SKEW_SECONDS } from '../server/session-check.js';

export async function installAuth(app: FastifyInstance, opts: { secret: Buffer; nodeId: string; audit: AuditWriter }): Promise<void> {
  await app.register(fastifyJwt, {
    secret: opts.secret,
    sign: { algorithm: 'HS256' },
    verify: { algorithms: ['HS256'], allowedIss: opts.nodeId, requiredClaims: ['sub', 'exp', 'iat', 'jti', 'role', 'clearance'] },
  });
  app.decorateRequest('caller', null as unknown as Caller);
  app.decorateRequest('sessionId', '');
}

export interface AuthOptions {
  nodeId: string;
  refusals: RefusalAudit;
  db: Knex;
  accounts: AccountsConfig;
  /** The clock sessions, idle timeouts and token times are judged by. */
  clock: () => Date;
}

/** onRequest hook for /v1 routes (before the body is read): verifies the token and its session, sets request.caller. */
export function authenticate(opts: AuthOptions) {
  const { nodeId, refusals, db, accounts, clock } = opts;
  // one entry per client address, route and code a minute, and a count of the rest (audit/refusals.ts)
  const refused = (request: FastifyRequest, code: string, actor = 'anonymous') =>
    refusals.refused(`addr:${request.ip}`, { actor, actorNode: nodeId, action: 'access.denied', object: `${request.method} ${request.routeOptions.url ?? ''}`, outcome: 'failure', reason: code });
  const check = sessionChecker({ db, store: nodeAccounts, accounts, clock, isRole, isClearance: isClassification, serviceMaxTtlSeconds: MAX_SERVICE_TTL_SECONDS });
  return async (request: FastifyRequest): Promise<void> => {
    let payload: Record<string, unknown>;
    try {
      payload = await request.jwtVerify<Record<string, unknown>>();
    } catch (e) {
      const err = nodeError(jwtErrorCode(e));
      await refused(request, err.code);
      throw err;
    }
    const v = await check.claims(payload);
    if (!v.ok) {
      await refused(request, v.code, v.actor);
      throw nodeError(v.code, v.message);
    }
    const { actor, role, clearance, jti, sessionId } = v;
    request.caller = { actor, role, clearance };
    request.sessionId = jti;
    const rc = currentRequest();
    if (rc) rc.sessionId = sessionId;
    // Separation of duties at the edge: the admin roles reach only their own routes (never a record route).
    if (!mayUseRoute(role, request.routeOptions.url ?? '')) {
      await refused(request, 'ERR_ROLE_DENIED', actor);
      throw nodeError('ERR_ROLE_DENIED', `role ${role} may not use ${request.routeOptions.url ?? ''}`, { role });
    }
  };
}
