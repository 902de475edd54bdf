/**
 * The city node's web console (issue 20 items 2 and 3; docs/consoles.md): the shared console
 * (server/console/) with this node's accounts and pages. A request's session is the node's own:
 * the cookie carries the access token POST /v1/login returns, checked by the same hook as /v1
 * (idle timeout, disabled user, logout). Pages that show records ask the node's own API with that
 * token (api.ts), so what a clerk sees is exactly what the API answers the same user — masked,
 * withheld, refused and audited the same way; the audit viewer calls audit/ after the services'
 * role check.
 */
import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { TLS_POLICY } from '../../certs/tls.js';
import { createConsoleApp, type NavItem } from '../../server/console/console-app.js';
import { installAuth } from '../auth.js';
import { toHttpError } from '../http-errors.js';
import { installRequestContext } from '../../server/request-context.js';
import { fastifyTrustProxy } from '../../server/trust-proxy.js';
import { auditPages } from './audit-pages.js';
import { recordPages } from './record-pages.js';
import { statusPages } from './status-pages.js';

export const NODE_NAV: readonly NavItem[] = [
  { href: '/import', label: '数据上报', roles: ['submitter', 'officer'] },
  { href: '/subjects', label: '主体查询', roles: ['query', 'officer'] },
  { href: '/queues', label: '异议与修复', roles: ['officer'] },
  { href: '/exchange', label: '交换状态', roles: ['officer', 'auditor'] },
  { href: '/audit', label: '审计日志', roles: ['auditor'] },
  { href: '/account', label: '我的账户', roles: ['submitter', 'query', 'officer', 'auditor', 'sysadmin', 'secadmin'] },
];

const HOME: Readonly<Record<string, string>> = { submitter: '/import', officer: '/import', query: '/subjects', auditor: '/audit' };

export interface NodeConsoleOptions {
  /** The CA certificate(s) the audit viewer verifies checkpoints and cosignatures against; default: the enrolment's ca.pem. */
  caPems?: readonly string[];
  /** The most audit entries the viewer verifies for one page (default MAX_VERIFY_RANGE, 10,000). */
  maxVerifyRange?: number;
}

/** Builds the console of the node whose API app is `api` (built by buildApp); never listens. */
export async function buildNodeConsole(api: FastifyInstance, o: NodeConsoleOptions = {}): Promise<FastifyInstance> {
  const ctx = api.nodeCtx;
  const { login, authenticate } = api.nodeAccess;
  const { config } = ctx;
  const tls = config.console?.listen.tls;
  const user = (request: FastifyRequest) => request.caller.actor.replace(/^user:/, '');
  return createConsoleApp({
    title: `信用节点 ${config.nodeId} 控制台`,
    id: config.nodeId,
    csrfSecret: createHmac('sha256', config.jwtSecret).update('console-csrf').digest(),
    https: tls ? { cert: readFileSync(tls.certFile), key: readFileSync(tls.keyFile), ...TLS_POLICY } : undefined,
    trustProxy: fastifyTrustProxy(config.trustProxy), // the API's gateways: src= and the login limit see the client behind them
    onRefused: async (request, code) => {
      if (code !== 'ERR_CSRF_INVALID') return; // a refused session is audited by the session check itself (node/auth.ts), as on /v1
      // as /v1's refusals (node/auth.ts): one entry per client address, route and code a minute
      const actor = request.caller?.actor ?? 'anonymous';
      await ctx.refusals.refused(`addr:${request.ip}`, { actor, actorNode: config.nodeId, action: 'access.denied', object: `console ${request.method} ${request.routeOptions.url ?? '(no route)'}`, outcome: 'failure', reason: code });
    },
    logger: api.log.child({ console: true }),
    toHttpError,
    nav: NODE_NAV,
    home: (role) => HOME[role] ?? '/account',
    session: {
      login: async (c, source) => login.login(c, source),
      authenticate: (request) => authenticate(request),
      logout: (request) => login.logout(user(request), request.sessionId),
      endPrevious: async (token) => {
        let p: { sub?: unknown; jti?: unknown };
        try {
          p = api.jwt.verify<{ sub?: unknown; jti?: unknown }>(token, { ignoreExpiration: true } as never);
        } catch {
          return; // not a token of this node: nothing to end
        }
        if (typeof p.jti === 'string' && typeof p.sub === 'string') await login.logout(p.sub.replace(/^user:/, ''), p.jti);
      },
      sessionId: (request) => request.sessionId,
      sessionIdOf: (token) => String((JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8')) as { jti?: unknown }).jti ?? ''),
      who: (request) => ({ user: user(request), role: request.caller.role, clearance: request.caller.clearance }),
    },
    prepare: async (app) => {
      installRequestContext(app); // audit entries carry the clerk's address and session, as on /v1
      await installAuth(app, { secret: config.jwtSecret, nodeId: config.nodeId, audit: ctx.audit });
    },
    pages: async (app) => {
      await app.register(recordPages, { api });
      await app.register(statusPages, { api });
      await app.register(auditPages, { ctx, api, ...(o.caPems ? { caPems: o.caPems } : {}), ...(o.maxVerifyRange ? { maxVerifyRange: o.maxVerifyRange } : {}) });
    },
  });
}
