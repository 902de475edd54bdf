/** Routes that need no client certificate: liveness, readiness, metrics, protocol info, the CRL, enrolment. */
import type { FastifyInstance } from 'fastify';
import { HUB_NODE_ID } from '../../certs/issue.js';
import { buildCrl } from '../../certs/revoke.js';
import { EXCHANGE_ROUTES, type EnrollRequest, type ProtocolInfo } from '../../protocol/exchange.js';
import { serviceError } from '../../protocol/service-errors.js';
import { usableSuites } from '../../protocol/suites.js';
import { SUPPORTED_VERSIONS } from '../../protocol/version.js';
import type { HubContext } from '../app.js';
import { enrollBody, enrollResponse, errorSchema, protocolInfoResponse } from '../schemas.js';

/** Largest enrol body: a 200-character token and a 16 KiB CSR (protocol's ENROLL_SCHEMA) fit. */
export const ENROLL_BODY_LIMIT = 20 * 1024;

/** How long a built CRL is served before a fresh one is signed. */
export const CRL_CACHE_MS = 60_000;

export async function publicRoutes(app: FastifyInstance, opts: { ctx: HubContext }): Promise<void> {
  const { ctx } = opts;
  const status = { type: 'object', properties: { status: { type: 'string' }, nodeId: { type: 'string' } } };

  app.get('/healthz', { schema: { response: { 200: status } } }, async () => ({ status: 'ok', nodeId: HUB_NODE_ID }));

  app.get('/readyz', { schema: { response: { 200: status, 503: errorSchema } } }, async () => {
    if (ctx.state.closing) throw serviceError('ERR_NOT_READY', 'hub is shutting down');
    try {
      await ctx.db.raw('select 1');
    } catch (e) {
      throw serviceError('ERR_NOT_READY', `store does not answer: ${(e as Error).message}`);
    }
    return { status: 'ready', nodeId: HUB_NODE_ID };
  });

  app.get('/metrics', async (_request, reply) => {
    const text = await ctx.metrics.registry.metrics();
    return reply.type(ctx.metrics.registry.contentType).send(text);
  });

  app.get(EXCHANGE_ROUTES.protocol, { schema: { response: { 200: protocolInfoResponse } } }, async (): Promise<ProtocolInfo> => ({
    hubNodeId: HUB_NODE_ID,
    versions: [...SUPPORTED_VERSIONS],
    suites: usableSuites(),
    hubCertPem: ctx.identity.certPem,
    caCertPem: ctx.ca.certPem,
    maxEnvelopeBytes: ctx.config.maxEnvelopeBytes,
    windowMs: ctx.config.windowMs,
  }));

  let crl: { pem: string; at: number } | null = null;
  app.get(EXCHANGE_ROUTES.crl, async (_request, reply) => {
    const now = ctx.clock();
    if (crl === null || now.getTime() - crl.at >= CRL_CACHE_MS || now.getTime() < crl.at) crl = { pem: await buildCrl(ctx.ca, { now }), at: now.getTime() };
    return reply.type('application/pkix-crl').header('cache-control', `max-age=${CRL_CACHE_MS / 1000}`).send(crl.pem);
  });

  app.post(
    EXCHANGE_ROUTES.enroll,
    { bodyLimit: ENROLL_BODY_LIMIT, schema: { body: enrollBody, response: { 200: enrollResponse, 400: errorSchema, 401: errorSchema, 403: errorSchema, 409: errorSchema, 413: errorSchema } } },
    async (request) => ctx.enrolment.enroll(request.body as EnrollRequest),
  );
}
