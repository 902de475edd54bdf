/**
 * The consoles' browser-facing security, in one place: response headers (a Content-Security-Policy
 * that allows no inline script or style, no framing, no referrer), cookies (parse and write; the
 * session cookie is `HttpOnly; Secure; SameSite=Strict`, `__Host-` prefixed so no sibling host can
 * set it) and CSRF protection (consoleSecurity): before login a double-submit token in its own
 * cookie, after login a token bound to the session (HMAC of its jti), echoed by every
 * state-changing request in the `x-csrf-token` header or the `_csrf` form field, compared in
 * constant time (ERR_CSRF_INVALID otherwise); audited reads require `Sec-Fetch-Site: same-origin`
 * (or none). SameSite=Strict does not separate ports of one host: hence per-console cookie names.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { serviceError } from '../../protocol/service-errors.js';

/** Cookie name prefixes; each console appends its own id (consoleSecurity). */
export const SESSION_COOKIE = '__Host-credit-session';
export const CSRF_COOKIE = '__Host-credit-csrf';
export const CSRF_HEADER = 'x-csrf-token';
export const CSRF_FIELD = '_csrf';

export const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
].join('; ');

/** Headers on every console answer (pages, fragments, files, errors). */
export function securityHeaders(reply: FastifyReply): void {
  void reply.headers({
    'content-security-policy': CONTENT_SECURITY_POLICY,
    'x-content-type-options': 'nosniff',
    'x-frame-options': 'DENY',
    'referrer-policy': 'no-referrer',
    'cross-origin-opener-policy': 'same-origin',
    'cross-origin-resource-policy': 'same-origin',
    'permissions-policy': 'camera=(), microphone=(), geolocation=()',
  });
  if (!reply.hasHeader('cache-control')) void reply.header('cache-control', 'no-store');
}

/** The cookies a request carries (first value of each name wins). */
export function cookiesOf(request: FastifyRequest): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of String(request.headers.cookie ?? '').split(';')) {
    const i = part.indexOf('=');
    if (i < 1) continue;
    const name = part.slice(0, i).trim();
    if (name in out) continue;
    try {
      out[name] = decodeURIComponent(part.slice(i + 1).trim());
    } catch {
      /* not URI-encoded: ignored */
    }
  }
  return out;
}

/** A `Set-Cookie` value: always Path=/, Secure, HttpOnly and SameSite=Strict (`__Host-` needs the first two). */
export function cookie(name: string, value: string, o: { maxAgeSeconds?: number } = {}): string {
  return [`${name}=${encodeURIComponent(value)}`, 'Path=/', 'Secure', 'HttpOnly', 'SameSite=Strict', ...(o.maxAgeSeconds !== undefined ? [`Max-Age=${o.maxAgeSeconds}`] : [])].join('; ');
}

export function addCookie(reply: FastifyReply, value: string): void {
  const prev = reply.getHeader('set-cookie');
  const list = prev === undefined ? [] : Array.isArray(prev) ? prev.map(String) : [String(prev)];
  void reply.header('set-cookie', [...list, value]);
}

/**
 * One console's cookie names and CSRF rules. Browsers scope cookies by host, not port: two consoles
 * on one host (the node's and the hub's, or two nodes') would share one cookie name, so each console
 * names its cookies after itself (`__Host-credit-session-<id>`, `__Host-credit-csrf-<id>`).
 * Before login the CSRF token is a random double-submit token; at login it is rotated to
 * HMAC-SHA256(secret, session jti), so a signed-in request is held against its own session's token
 * (a token planted in the cookie jar by a sibling host is worth nothing).
 */
export interface ConsoleSecurity {
  sessionCookie: string;
  csrfCookie: string;
  /** The token bound to session `jti`. */
  bound(jti: string): string;
  /** The token the page renders: the bound one for a session, else the cookie's (or a new one set on the reply). */
  token(request: FastifyRequest, reply: FastifyReply, jti?: string): string;
  /** Throws ERR_CSRF_INVALID unless the request echoes the expected token (header or form field; only the header with `headerOnly`). */
  assert(request: FastifyRequest, jti?: string, o?: { headerOnly?: boolean }): void;
  /** Throws ERR_CSRF_INVALID unless `Sec-Fetch-Site` says the browser navigated within this origin (or from the address bar). */
  assertSameOrigin(request: FastifyRequest): void;
}

export function consoleSecurity(id: string, secret: Buffer): ConsoleSecurity {
  if (!/^[A-Za-z0-9_-]{1,40}$/.test(id)) throw new Error(`console id ${id}: letters, digits, _ and - only`);
  const sessionCookie = `${SESSION_COOKIE}-${id}`;
  const csrfCookie = `${CSRF_COOKIE}-${id}`;
  const bound = (jti: string) => createHmac('sha256', secret).update(`console-csrf\u0000${id}\u0000${jti}`).digest('base64url');
  return {
    sessionCookie,
    csrfCookie,
    bound,
    token(request, reply, jti) {
      if (jti) return bound(jti);
      const have = cookiesOf(request)[csrfCookie];
      if (have && /^[A-Za-z0-9_-]{43}$/.test(have)) return have;
      const fresh = randomBytes(32).toString('base64url');
      addCookie(reply, cookie(csrfCookie, fresh));
      request.headers.cookie = `${request.headers.cookie ? `${request.headers.cookie}; ` : ''}${csrfCookie}=${fresh}`;
      return fresh;
    },
    assert(request, jti, o = {}) {
      const expected = jti ? bound(jti) : cookiesOf(request)[csrfCookie];
      const body = request.body as Record<string, unknown> | undefined;
      const fromBody = !o.headerOnly && body && typeof body === 'object' && !isStream(body) ? body[CSRF_FIELD] : undefined;
      const header = request.headers[CSRF_HEADER];
      const given = typeof header === 'string' ? header : typeof fromBody === 'string' ? fromBody : undefined;
      if (!expected || !given) throw serviceError('ERR_CSRF_INVALID', '请求缺少防跨站伪造令牌，请刷新页面后重试 [ERR_CSRF_INVALID]', { reason: expected ? 'token missing' : 'cookie missing' });
      const a = Buffer.from(expected);
      const b = Buffer.from(given);
      if (a.length !== b.length || !timingSafeEqual(a, b)) throw serviceError('ERR_CSRF_INVALID', '防跨站伪造令牌不匹配，请刷新页面后重试 [ERR_CSRF_INVALID]', { reason: 'token mismatch' });
    },
    assertSameOrigin(request) {
      const site = request.headers['sec-fetch-site'];
      if (site === 'same-origin' || site === 'none') return;
      throw serviceError('ERR_CSRF_INVALID', '此页面只能从本控制台内打开，请在控制台中重新打开 [ERR_CSRF_INVALID]', { reason: `sec-fetch-site ${typeof site === 'string' ? site.slice(0, 20) : 'missing'}` });
    },
  };
}

function isStream(x: object): boolean {
  return typeof (x as { pipe?: unknown }).pipe === 'function';
}
