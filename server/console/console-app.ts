/**
 * A web console (docs/consoles.md): one Fastify instance on its own listener, server-rendered
 * pages (@fastify/view + Eta) with small htmx fragments, for the node's clerks and auditors and the
 * hub's operators and auditors — each server brings its own pages (node/console/, hub/console/) and
 * its own session rules; this module is what they share:
 * - login form (user, password, TOTP) → the server's login service → the access token in the
 *   `__Host-credit-session-<id>` cookie (HttpOnly, Secure, SameSite=Strict; named after the console,
 *   as cookies are scoped by host, not port); every other request is
 *   authenticated from that cookie by the server's own session check (idle timeout, disabled user,
 *   logout all apply), a refused session goes back to the login page with its code;
 * - CSRF double submit before login, then a token bound to the session (HMAC of its jti) on every
 *   state-changing request; audited reads (route config `sameOrigin`) only from within the console
 *   (`Sec-Fetch-Site: same-origin` or `none`); a new login ends the session of the cookie presented; a strict Content-Security-Policy (no inline
 *   script or style), no caching of pages;
 * - htmx, uPlot and the console's own script served from memory (assets.ts);
 * - errors as zh-CN text with the ERR_ code: a page, or for an htmx request a fragment.
 */
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import fastifyView from '@fastify/view';
import { Eta } from 'eta';
import { fileURLToPath } from 'node:url';
import type { SecureContextOptions } from 'node:tls';
import { clientErrorHandler, frameworkErrors, type ErrorBody } from '../http-errors.js';
import { loggableError } from '../logger.js';
import { installAssets, type AssetUrls } from './assets.js';
import { clerkMessage, ROLE_NAMES } from './messages.js';
import { randomBytes } from 'node:crypto';
import { addCookie, consoleSecurity, cookie, cookiesOf, CSRF_FIELD, securityHeaders } from './security.js';

/** Where Eta finds templates: the repository (or dist/) root, so `/server/console/views/…` and `/node/console/views/…` both resolve. */
export const TEMPLATE_ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const LAYOUT = '/server/console/views/layout';

export interface ConsoleUser {
  user: string;
  role: string;
  clearance: string;
}

/** The server's accounts, as the console uses them. */
export interface ConsoleSession {
  /** Both factors checked by the server's login service; the token the cookie will carry. */
  login(c: { user: string; password: string; otp: string }, source: string): Promise<{ token: string; expiresAt: string; role: string }>;
  /** Ends the session of a token presented with a new login (ignores a token that does not verify). */
  endPrevious?(token: string): Promise<void>;
  /** The server's own session check of `authorization: Bearer <cookie>` (throws its refusal). */
  authenticate(request: FastifyRequest): Promise<void>;
  logout(request: FastifyRequest): Promise<void>;
  /** The authenticated caller. */
  who(request: FastifyRequest): ConsoleUser;
  /** The authenticated request's session id (jti): the CSRF token is bound to it. */
  sessionId(request: FastifyRequest): string;
  /** A token's session id (jti), read without verifying (the token was just issued by login). */
  sessionIdOf(token: string): string;
}

export interface NavItem {
  href: string;
  label: string;
  /** Roles that see the entry (the pages check again through the services). */
  roles: readonly string[];
}

export interface ConsoleOptions {
  /** Shown in the title bar, e.g. `长沙市（430100）信用节点`. */
  title: string;
  /** Names this console's cookies (`__Host-credit-session-<id>`): letters, digits, `_`, `-`. */
  id: string;
  /** Key of the session-bound CSRF tokens; default a random key per process (tokens end with a restart). */
  csrfSecret?: Buffer;
  https?: (SecureContextOptions & { cert: Buffer; key: Buffer }) | undefined;
  logger: FastifyBaseLogger;
  bodyLimit?: number;
  toHttpError(error: unknown): { status: number; body: ErrorBody };
  session: ConsoleSession;
  nav: readonly NavItem[];
  /** Where a role lands after login. */
  home(role: string): string;
  /** The server's `trustProxy` (server/trust-proxy.ts, the API's checked list): behind a listed gateway, request.ip is the client named by X-Forwarded-For. */
  trustProxy?: false | string[];
  /**
   * Audits a refusal the console itself makes (a session refused: ERR_AUTH_INVALID, ERR_AUTH_EXPIRED,
   * ERR_SESSION_ENDED …, and every ERR_CSRF_INVALID), as the server's API audits its refusals
   * (`request.refused`); called from the error handler before the answer.
   */
  onRefused?(request: FastifyRequest, code: string): Promise<void>;
  /** Called first (e.g. the server's request-context hook and JWT verifier). */
  prepare?(app: FastifyInstance): Promise<void>;
  /** The server's pages, registered behind the session check and the CSRF check. */
  pages(app: FastifyInstance): Promise<void>;
}

declare module 'fastify' {
  interface FastifyReply {
    /** Renders a template with the page context (user, navigation, CSRF token, asset URLs); text/html. */
    page(template: string, data?: Record<string, unknown>, status?: number): Promise<FastifyReply>;
  }
  interface FastifyInstance {
    /** The console's CSRF check for a request whose body is not read yet (header token only). */
    consoleCsrf(request: FastifyRequest): void;
  }
  interface FastifyContextConfig {
    /** An audited read, or one that writes (e.g. signs a checkpoint): refused unless `Sec-Fetch-Site` is same-origin or none. */
    sameOrigin?: boolean;
  }
}

const SAFE = new Set(['GET', 'HEAD', 'OPTIONS']);
const SESSION_CODES = new Set(['ERR_AUTH_MISSING', 'ERR_AUTH_INVALID', 'ERR_AUTH_EXPIRED', 'ERR_SESSION_ENDED']);
/** The console's own refusals handed to `onRefused` (the pages' refusals are audited where they are made). */
const AUDITED_CODES = new Set([...SESSION_CODES, 'ERR_CSRF_INVALID']);

export const isHtmx = (request: FastifyRequest) => request.headers['hx-request'] === 'true';

export async function createConsoleApp(o: ConsoleOptions): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: o.logger,
    bodyLimit: o.bodyLimit ?? 65_536,
    ...(o.https ? { https: o.https } : {}),
    trustProxy: o.trustProxy ?? false,
    return503OnClosing: true,
    forceCloseConnections: 'idle',
    frameworkErrors,
    clientErrorHandler,
  }) as unknown as FastifyInstance;
  await o.prepare?.(app);
  await app.register(fastifyView, { engine: { eta: new Eta({ views: TEMPLATE_ROOT, cache: true, autoEscape: true }) }, templates: TEMPLATE_ROOT, production: true });
  const assets: AssetUrls = installAssets(app);
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_request, body, done) => {
    done(null, Object.fromEntries(new URLSearchParams(body as string)));
  });
  app.addHook('onSend', async (_request, reply) => securityHeaders(reply));

  const sec = consoleSecurity(o.id, o.csrfSecret ?? randomBytes(32));
  const signedIn = new WeakMap<FastifyRequest, ConsoleUser & { sid: string }>();
  const context = (request: FastifyRequest, reply: FastifyReply) => {
    const who = signedIn.get(request);
    return {
      title: o.title, assets, csrf: sec.token(request, reply, who?.sid), csrfField: CSRF_FIELD, path: request.url.split('?')[0],
      who, roleName: who ? (ROLE_NAMES[who.role] ?? who.role) : '', nav: who ? o.nav.filter((n) => n.roles.includes(who.role)) : [],
    };
  };
  app.decorateReply('page', async function (this: FastifyReply, template: string, data: Record<string, unknown> = {}, status = 200) {
    const html = (await app.view(template, { ...context(this.request, this), ...data })) as string;
    return this.status(status).type('text/html; charset=utf-8').send(html);
  });

  const toLogin = (reply: FastifyReply, request: FastifyRequest, code?: string) => {
    const to = `/login${code ? `?code=${code}` : ''}`;
    if (isHtmx(request)) return reply.status(401).header('hx-redirect', to).send();
    return reply.redirect(to, 303);
  };

  app.setErrorHandler(async (error: unknown, request, reply) => {
    const { status, body } = o.toHttpError(error);
    if (status >= 500) request.log.error({ error: loggableError(error) }, 'console request failed');
    else request.log.info({ code: body.code, status }, 'console request refused');
    if (AUDITED_CODES.has(body.code)) await o.onRefused?.(request, body.code);
    if (SESSION_CODES.has(body.code)) {
      addCookie(reply, cookie(sec.sessionCookie, '', { maxAgeSeconds: 0 }));
      return toLogin(reply, request, body.code);
    }
    const message = clerkMessage(body);
    if (isHtmx(request)) return reply.page('/server/console/views/error-fragment', { message, code: body.code }, status);
    return reply.page('/server/console/views/error', { message, code: body.code }, status);
  });
  app.setNotFoundHandler(async (request, reply) => {
    const message = clerkMessage({ code: 'ERR_ROUTE_NOT_FOUND', message: 'no such page' });
    if (isHtmx(request)) return reply.page('/server/console/views/error-fragment', { message, code: 'ERR_ROUTE_NOT_FOUND' }, 404);
    return reply.page('/server/console/views/error', { message, code: 'ERR_ROUTE_NOT_FOUND' }, 404);
  });

  // ---- login (no session yet) ----
  const loginPage = (reply: FastifyReply, code: string | undefined, status = 200, user = '') =>
    reply.page('/server/console/views/login', { message: code ? clerkMessage({ code, message: code }) : '', user }, status);
  app.get<{ Querystring: { code?: string } }>('/login', { schema: { querystring: { type: 'object', properties: { code: { type: 'string', pattern: '^ERR_[A-Z_]{1,40}$' } } } } }, async (request, reply) =>
    loginPage(reply, request.query.code),
  );
  const credentials = {
    type: 'object',
    required: ['user', 'password', 'otp'],
    properties: { user: { type: 'string', minLength: 1, maxLength: 64 }, password: { type: 'string', minLength: 1, maxLength: 256 }, otp: { type: 'string', minLength: 1, maxLength: 16 }, [CSRF_FIELD]: { type: 'string' } },
  };
  app.post<{ Body: { user: string; password: string; otp: string } }>('/login', { schema: { body: credentials } }, async (request, reply) => {
    sec.assert(request);
    const previous = cookiesOf(request)[sec.sessionCookie];
    let r: Awaited<ReturnType<ConsoleSession['login']>>;
    try {
      r = await o.session.login({ user: request.body.user, password: request.body.password, otp: request.body.otp.trim() }, request.ip);
    } catch (e) {
      const { status, body } = o.toHttpError(e);
      if (status >= 500) throw e;
      return reply.page('/server/console/views/login', { message: clerkMessage(body), user: request.body.user }, status);
    }
    const maxAge = Math.max(1, Math.floor((Date.parse(r.expiresAt) - Date.now()) / 1000));
    if (previous) await o.session.endPrevious?.(previous); // one browser, one session
    addCookie(reply, cookie(sec.sessionCookie, r.token, { maxAgeSeconds: maxAge }));
    addCookie(reply, cookie(sec.csrfCookie, sec.bound(o.session.sessionIdOf(r.token)))); // rotated, bound to the new session
    return reply.redirect(o.home(r.role), 303);
  });
  app.get('/favicon.ico', async (_request, reply) => reply.redirect(assets.icon, 301));

  // ---- everything else: a session from the cookie, and CSRF on every change ----
  await app.register(async (scope) => {
    scope.addHook('onRequest', async (request, reply) => {
      const token = cookiesOf(request)[sec.sessionCookie];
      if (!token) return toLogin(reply, request);
      request.headers.authorization = `Bearer ${token}`; // only the cookie speaks for a console request
      await o.session.authenticate(request);
      signedIn.set(request, { ...o.session.who(request), sid: o.session.sessionId(request) });
      if (request.routeOptions.config?.sameOrigin) sec.assertSameOrigin(request);
      return undefined;
    });
    scope.addHook('preHandler', async (request) => {
      if (!SAFE.has(request.method)) sec.assert(request, signedIn.get(request)!.sid);
    });
    scope.get('/', async (request, reply) => reply.redirect(o.home(signedIn.get(request)!.role), 303));
    scope.post('/logout', async (request, reply) => {
      await o.session.logout(request);
      addCookie(reply, cookie(sec.sessionCookie, '', { maxAgeSeconds: 0 }));
      return reply.redirect('/login', 303);
    });
    scope.decorate('consoleCsrf', (request: FastifyRequest) => sec.assert(request, signedIn.get(request)?.sid ?? '-', { headerOnly: true }));
    await o.pages(scope);
  });
  return app;
}
