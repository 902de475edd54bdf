/**
 * One log line per request instead of Fastify's two, and none at info for the routes nodes poll
 * (GET distributions, CRLs, protocol, witness state, health, metrics): those are logged at debug
 * unless they fail. A hub with 100 nodes polling every few seconds otherwise writes ~15 MB per node
 * per day of "incoming request" / "request completed". A failure (5xx) is logged at error, a 503
 * ERR_HUB_BUSY ("not now": hub/batch-admission.ts) at warn.
 */
import type { FastifyInstance } from 'fastify';
import { EXCHANGE_ROUTES } from '../protocol/exchange.js';
import { answeredBusy } from './batch-admission.js';

const POLLED_ROUTES: ReadonlySet<string> = new Set([EXCHANGE_ROUTES.distributions, EXCHANGE_ROUTES.crl, EXCHANGE_ROUTES.sm2Crl, EXCHANGE_ROUTES.protocol, EXCHANGE_ROUTES.checkpointLatest, '/healthz', '/readyz', '/metrics']);

/** Call with Fastify's request logging off (`logController: new LogController({ disableRequestLogging: true })`). */
export function installRequestLog(app: FastifyInstance): void {
  app.addHook('onResponse', async (request, reply) => {
    const status = reply.statusCode;
    const polled = request.method === 'GET' && POLLED_ROUTES.has(request.routeOptions.url ?? '');
    // ERR_HUB_BUSY says "not now" (hub/batch-admission.ts): a warning, not a failure
    const level = answeredBusy(request) ? 'warn' : status >= 500 ? 'error' : polled && status < 400 ? 'debug' : 'info';
    request.log[level]({ req: request, res: { statusCode: status }, responseTime: Math.round(reply.elapsedTime) }, 'request completed');
  });
}
