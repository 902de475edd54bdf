/**
 * The hub operator's web console (issue 20 items 1, 3; docs/consoles.md): the shared console
 * (server/console/) with the hub's operator accounts and pages. A request's session is the hub's
 * own: the cookie carries the access token POST /v1/login returns, checked by the same session check
 * as the operator routes (idle timeout, disabled user, logout). Each page names the API route it
 * stands for (route config `hubApi`) and is refused unless the role may use that route
 * (hub/accounts.ts HUB_ROLE_ROUTES, the API's own table; a refusal is audited); every change is made
 * by asking the hub's own API with the operator's token (api.inject), so it is checked and audited
 * exactly as the API does it.
 */
import { readFileSync } from 'node:fs';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { HUB_NODE_ID } from '../../certs/issue.js';
import { TLS_POLICY } from '../../certs/tls.js';
import { accountError } from '../../server/account-errors.js';
import { createConsoleApp, type NavItem } from '../../server/console/console-app.js';
import { currentRequest, installRequestContext, withRequestSource } from '../../server/request-context.js';
import { bearerToken, consoleCsrfKey, hubTotpKey, mayUseHubRoute, type HubRole } from '../accounts.js';
import { toHttpError } from '../http-errors.js';
import { fastifyTrustProxy } from '../../server/trust-proxy.js';
import type { AuditEvent } from '../../audit/types.js';
import { hubAuditPages } from './audit-pages.js';
import { nodePages } from './node-pages.js';
import { overviewPages } from './overview-pages.js';
import { qualityPages } from './quality-pages.js';
import { tokenPages } from './token-pages.js';
import { userPages } from './user-pages.js';

/** The navigation: each entry shown to the roles that may use the API route its page stands for. */
export const HUB_NAV: readonly NavItem[] = [
  { href: '/overview', label: '概览', roles: ['operator'] },
  { href: '/nodes', label: '节点', roles: ['operator'] },
  { href: '/tokens', label: '注册令牌', roles: ['operator'] },
  { href: '/revoke', label: '吊销', roles: ['operator'] },
  { href: '/quality', label: '数据质量', roles: ['operator'] },
  { href: '/audit', label: '审计日志', roles: ['auditor'] },
  { href: '/users', label: '账户与会话', roles: ['sysadmin', 'secadmin'] },
];

const HOME: Readonly<Record<string, string>> = { operator: '/overview', auditor: '/audit', sysadmin: '/users', secadmin: '/users' };

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The hub API route (`METHOD /v1/…`) a console page stands for: the page is refused unless the role may use it. */
    hubApi?: string;
  }
}

export interface HubConsoleOptions {
  /** Serve plain HTTP (config console.listen.allowPlaintext without tls: a TLS gateway in front). */
  plaintext?: boolean;
}

/** The signed-in operator of a console request. */
export function operatorOf(request: FastifyRequest): { actor: string; user: string; role: HubRole; sessionId: string } {
  const op = request.operator;
  if (!op) throw accountError('ERR_AUTH_MISSING', 'no session');
  return { ...op, user: op.actor.replace(/^user:/, '') };
}

/** Builds the console of the hub whose API app is `api` (built by buildHub); never listens. */
export async function buildHubConsole(api: FastifyInstance, o: HubConsoleOptions = {}): Promise<FastifyInstance> {
  const ctx = api.hubCtx;
  const { config } = ctx;
  const { login, auth } = ctx.operators;
  const tls = config.console?.listen.tls;
  const https = o.plaintext
    ? undefined
    : tls
      ? { cert: readFileSync(tls.certFile), key: readFileSync(tls.keyFile), ...TLS_POLICY }
      : { cert: Buffer.from(ctx.identity.certPem), key: Buffer.from(ctx.identity.keyPem), ...TLS_POLICY };
  // the CSRF key: HKDF of totp.key as the session key is (every hub process with that file derives it; never in the store)
  const csrfSecret = consoleCsrfKey(hubTotpKey(config.dataDir));
  const payload = (token: string) => JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8')) as { jti?: unknown; sub?: unknown };

  return createConsoleApp({
    title: `省公共信用信息平台 ${HUB_NODE_ID} 运维控制台`,
    id: HUB_NODE_ID,
    csrfSecret,
    https,
    trustProxy: fastifyTrustProxy(config.trustProxy), // the API's gateways: src= and the login limit see the client behind them
    onRefused: async (request, code) => {
      // as the API's refusals (hub/app.ts): the signed-in operator when known, else the address
      const who = request.operator ? request.operator.actor : `addr:${request.ip}`;
      const refusal: AuditEvent = { action: 'request.refused', actor: who, actorNode: HUB_NODE_ID, object: `console ${request.method} ${request.routeOptions.url ?? '(no route)'}`, outcome: 'failure', reason: code };
      await ctx.refusals.refused(who, request.operator ? withRequestSource(refusal) : refusal);
    },
    logger: api.log.child({ console: true }),
    toHttpError,
    nav: HUB_NAV,
    home: (role) => HOME[role] ?? '/login',
    session: {
      login: async (c, source) => login.login(c, source),
      authenticate: async (request) => {
        const v = await auth.check.token(bearerToken(request));
        if (!v.ok) throw accountError(v.code, v.message);
        request.operator = { actor: v.actor, role: v.role, sessionId: v.jti };
        const rc = currentRequest();
        if (rc) rc.sessionId = v.jti;
      },
      logout: async (request) => {
        const op = operatorOf(request);
        await login.logout(op.user, op.sessionId);
      },
      endPrevious: async (token) => {
        let p: { sub?: unknown; jti?: unknown };
        try {
          p = api.jwt.verify<{ sub?: unknown; jti?: unknown }>(token, { ignoreExpiration: true } as never);
        } catch {
          return; // not a token of this hub: nothing to end
        }
        if (typeof p.jti === 'string' && typeof p.sub === 'string') await login.logout(p.sub.replace(/^user:/, ''), p.jti);
      },
      sessionId: (request) => operatorOf(request).sessionId,
      sessionIdOf: (token) => String(payload(token).jti ?? ''),
      who: (request) => {
        const op = operatorOf(request);
        return { user: op.user, role: op.role, clearance: 'none' };
      },
    },
    prepare: async (app) => {
      installRequestContext(app); // entries the console writes carry the operator's address and session, as on /v1
    },
    pages: async (app) => {
      // the API's role table, per page: refused (and audited, as the API's refusals are) unless the role may use the route
      app.addHook('preHandler', async (request) => {
        const route = request.routeOptions.config?.hubApi;
        if (!route) return;
        const op = operatorOf(request);
        const [method, url] = route.split(' ') as [string, string];
        if (mayUseHubRoute(op.role, method, url)) return;
        await ctx.refusals.refused(op.actor, { action: 'request.refused', actor: op.actor, actorNode: HUB_NODE_ID, object: `console ${request.method} ${request.routeOptions.url ?? ''}`, outcome: 'failure', reason: `ERR_ROLE_DENIED (${route})` });
        throw accountError('ERR_ROLE_DENIED', `角色 ${op.role} 无权使用此页面（对应 ${route}）[ERR_ROLE_DENIED]`, { role: op.role });
      });
      await app.register(overviewPages, { api });
      await app.register(nodePages, { api });
      await app.register(tokenPages, { api });
      await app.register(qualityPages, { api });
      await app.register(userPages, { api });
      await app.register(hubAuditPages, { api });
    },
  });
}
