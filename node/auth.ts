/**
 * Authentication of local users: a bearer JWT verified by @fastify/jwt (HS256 only, this node's
 * secret, this node as issuer). `alg: none`, a tampered payload, another key and an expired token
 * are all refused with 401 and a code; every refusal is audited (aggregated per client address and
 * minute, audit/refusals.ts). The verified caller is
 * `request.caller`.
 */
import fastifyJwt from '@fastify/jwt';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { RefusalAudit } from '../audit/refusals.js';
import { isClassification } from '../protocol/classification.js';
import { isRole, type Caller } from './access.js';
import { nodeError } from './errors.js';
import type { AuditWriter } from './records-service.js';

declare module 'fastify' {
  interface FastifyRequest {
    caller: Caller;
  }
}

function authError(e: unknown) {
  const code = (e as { code?: string }).code;
  if (code === 'FST_JWT_NO_AUTHORIZATION_IN_HEADER') return nodeError('ERR_AUTH_MISSING');
  if (code === 'FST_JWT_AUTHORIZATION_TOKEN_EXPIRED') return nodeError('ERR_AUTH_EXPIRED');
  return nodeError('ERR_AUTH_INVALID');
}

export async function installAuth(app: FastifyInstance, opts: { secret: Buffer; nodeId: string; audit: AuditWriter }): Promise<void> {
  await app.register(fastifyJwt, {
    secret: opts.secret,
    sign: { algorithm: 'HS256' },
    verify: { algorithms: ['HS256'], allowedIss: opts.nodeId, requiredClaims: ['sub', 'exp', 'role', 'clearance'] },
  });
  app.decorateRequest('caller', null as unknown as Caller);
}

/** No control characters or lone surrogates, and short enough to be stored as `user:NAME` (created_by, filed_by: 128). */
const USER_NAME = /^[^\u0000-\u001f\u007f\ud800-\udfff]+$/u;
function isUserName(sub: unknown): sub is string {
  return typeof sub === 'string' && sub.length <= 120 && USER_NAME.test(sub);
}

/** onRequest hook for /v1 routes (before the body is read): verifies the token, sets request.caller. */
export function authenticate(nodeId: string, refusals: RefusalAudit) {
  // one entry per client address, route and code a minute, and a count of the rest (audit/refusals.ts)
  const refused = (request: FastifyRequest, code: string) =>
    refusals.refused(`addr:${request.ip}`, { actor: 'anonymous', actorNode: nodeId, action: 'access.denied', object: `${request.method} ${request.routeOptions.url ?? ''}`, outcome: 'failure', reason: code });
  return async (request: FastifyRequest): Promise<void> => {
    let payload: Record<string, unknown>;
    try {
      payload = await request.jwtVerify<Record<string, unknown>>();
    } catch (e) {
      const err = authError(e);
      await refused(request, err.code);
      throw err;
    }
    const { sub, role, clearance } = payload;
    if (!isUserName(sub) || !isRole(role) || !isClassification(clearance)) {
      await refused(request, 'ERR_AUTH_INVALID');
      throw nodeError('ERR_AUTH_INVALID', 'token claims sub/role/clearance are not ones this node knows');
    }
    request.caller = { actor: `user:${sub}`, role, clearance };
  };
}
