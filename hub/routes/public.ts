/** Routes that need no client certificate: liveness, readiness, metrics, protocol info, the CRL, enrolment. */
import type { FastifyInstance } from 'fastify';
import { HUB_NODE_ID } from '../../certs/issue.js';
import { buildCrl, buildSm2RegisterCrl } from '../../certs/revoke.js';
import { certInfo } from '../../certs/pki-crypto.js';
import { storeWritable } from '../../audit/start-checks.js';
import { HUB_MIGRATIONS_TABLE } from '../migrations.js';
import { EXCHANGE_ROUTES, type EnrollRequest, type ProtocolInfo } from '../../protocol/exchange.js';
import { serviceError } from '../../protocol/service-errors.js';
import { describeSuite, usableSuites } from '../../protocol/suites.js';
import { SUPPORTED_VERSIONS } from '../../protocol/version.js';
import type { HubContext } from '../route-context.js';
import { syncProvinceCatalog } from '../catalog-service.js';
import { catalogStore } from '../catalog-store.js';
import { crlCache } from '../crl-cache.js';
import { hubError } from '../errors.js';
import { enrollBody, enrollResponse, errorSchema, protocolInfoResponse } from '../schemas.js';

/** Largest enrol body: a 200-character token and a 16 KiB CSR (protocol's ENROLL_SCHEMA) fit. */
export const ENROLL_BODY_LIMIT = 20 * 1024;

/** How long a built CRL is served before a fresh one is signed. */
export const CRL_CACHE_MS = 60_000;

/** Admitted suite → the hub certificate of its key type (suites whose key the hub does not hold are left out). */
function suiteCerts(ctx: HubContext): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of usableSuites(ctx.config.suites)) {
    const keyType = describeSuite(name)?.keyType;
    const pem = keyType === 'rsa' ? ctx.identity.certPem : keyType === 'ec-p256' ? ctx.identity.ec?.certPem : ctx.identity.sm2?.certPem;
    if (pem !== undefined) out[name] = pem;
  }
  return out;
}

export async function publicRoutes(app: FastifyInstance, opts: { ctx: HubContext }): Promise<void> {
  const { ctx } = opts;
  const status = { type: 'object', properties: { status: { type: 'string' }, nodeId: { type: 'string' } } };

  app.get('/healthz', { schema: { response: { 200: status } } }, async () => ({ status: 'ok', nodeId: HUB_NODE_ID }));

  app.get('/readyz', { schema: { response: { 200: status, 503: errorSchema } } }, async () => {
    if (ctx.state.closing) throw serviceError('ERR_NOT_READY', 'hub is shutting down', { reasons: [{ check: 'closing', message: 'hub is shutting down' }] });
    const reasons: { check: string; message: string }[] = [];
    const store = await storeWritable(ctx.db, HUB_MIGRATIONS_TABLE);
    if (store !== null) reasons.push({ check: 'store', message: store });
    // every identity the hub answers with: RSA, EC P-256 (the nodes' default since issue 23), SM2 — issued at different times, so checked each
    for (const [label, pem] of [['', ctx.identity.certPem], ['EC P-256 ', ctx.identity.ec?.certPem], ['SM2 ', ctx.identity.sm2?.certPem]] as const) {
      if (pem === undefined) continue;
      const notAfter = certInfo(pem).notAfter;
      const days = (notAfter.getTime() - ctx.clock().getTime()) / 86_400_000;
      if (days < 7) reasons.push({ check: 'certificate', message: `the hub ${label}certificate ${days <= 0 ? 'expired' : `expires in ${Math.floor(days)} day(s):`} ${notAfter.toISOString()}; restart the hub to re-issue it` });
    }
    if (reasons.length > 0) throw serviceError('ERR_NOT_READY', `not ready: ${reasons.map((r) => r.message).join('; ')}`, { reasons });
    return { status: 'ready', nodeId: HUB_NODE_ID };
  });

  app.get('/metrics', async (_request, reply) => {
    const text = await ctx.metrics.registry.metrics();
    return reply.type(ctx.metrics.registry.contentType).send(text);
  });

  app.get(EXCHANGE_ROUTES.protocol, { schema: { response: { 200: protocolInfoResponse } } }, async (): Promise<ProtocolInfo> => ({
    hubNodeId: HUB_NODE_ID,
    versions: [...SUPPORTED_VERSIONS],
    suites: usableSuites(ctx.config.suites),
    hubCertPem: ctx.identity.certPem,
    suiteCerts: suiteCerts(ctx),
    caCertPem: ctx.ca.certPem,
    maxEnvelopeBytes: ctx.config.maxEnvelopeBytes,
    windowMs: ctx.config.windowMs,
  }));

  // one build per CRL_CACHE_MS, concurrent requests at expiry awaiting it (hub/crl-cache.ts)
  const crl = crlCache((now) => buildCrl(ctx.ca, { now }), ctx.clock, CRL_CACHE_MS, () => ctx.metrics.crlBuilds.inc({ crl: 'rsa' }));
  app.get(EXCHANGE_ROUTES.crl, async (_request, reply) => {
    const pem = await crl.get();
    return reply.type('application/pkix-crl').header('cache-control', `max-age=${CRL_CACHE_MS / 1000}`).send(pem);
  });

  // the SM2 root's CRL: the same register, signed SM2-with-SM3 (ID 1234567812345678), cached the same way
  const sm2Crl = crlCache((now) => buildSm2RegisterCrl(ctx.ca, ctx.ca.sm2!.issuer, { now }), ctx.clock, CRL_CACHE_MS, () => ctx.metrics.crlBuilds.inc({ crl: 'sm2' }));
  app.get(EXCHANGE_ROUTES.sm2Crl, { schema: { response: { 404: errorSchema } } }, async (_request, reply) => {
    if (ctx.ca.sm2 === undefined) throw hubError('ERR_SM2_CA_ABSENT', 'this hub has no SM2 root (`credit ca init --algorithm sm2` in its CA directory): it issues no SM2 certificates and publishes no SM2 CRL');
    const pem = await sm2Crl.get();
    return reply.type('application/pkix-crl').header('cache-control', `max-age=${CRL_CACHE_MS / 1000}`).send(pem);
  });

  // the province supplementary catalog: signed by the hub, so served to anyone like the CRL
  app.get(EXCHANGE_ROUTES.catalog, { schema: { response: { 404: errorSchema } } }, async (_request, reply) => {
    await syncProvinceCatalog(ctx);
    const c = await catalogStore.latest(ctx.db);
    if (c === null) throw hubError('ERR_CATALOG_NOT_PUBLISHED', 'the hub operator has published no province catalog yet (credit hub catalog publish)');
    return reply.type('application/json; charset=utf-8').header('x-catalog-serial', String(c.serial)).send(c.document);
  });

  app.post(
    EXCHANGE_ROUTES.enroll,
    { bodyLimit: ENROLL_BODY_LIMIT, schema: { body: enrollBody, response: { 200: enrollResponse, 400: errorSchema, 401: errorSchema, 403: errorSchema, 409: errorSchema, 413: errorSchema } } },
    async (request) => ctx.enrolment.enroll(request.body as EnrollRequest),
  );
}
