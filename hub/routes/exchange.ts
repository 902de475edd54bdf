/**
 * The mutual-TLS exchange routes. Every request passes the client check first (client-check.ts).
 * Envelope bodies are taken as the raw JSON text (application/json only, up to maxEnvelopeBytes)
 * and read by protocol's open(), which checks the envelope schema and reports every bad field.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { EXCHANGE_ROUTES, type RenewRequest } from '../../protocol/exchange.js';
import { NOTICE_ROUTES } from '../../protocol/notices.js';
import type { HubContext } from '../route-context.js';
import { checkClient, type Peer } from '../client-check.js';
import { peerSm2Cert, SM2_CERT_HEADER } from '../answer-keys.js';
import { witnessRoutes } from './witness.js';
import { batchAdmission, type BatchSlot } from '../batch-admission.js';
import { hubError } from '../errors.js';
import { distributionsFeedQuery, enrollResponse, noticesFeedQuery, envelopeSchema, mtlsErrors, renewBody } from '../schemas.js';

function peerOf(request: FastifyRequest): Peer {
  return request.peer!;
}

/** Routes whose body is an envelope (raw JSON text). */
export async function envelopeRoutes(app: FastifyInstance, opts: { ctx: HubContext }): Promise<void> {
  const { ctx } = opts;
  const bodyLimit = ctx.config.maxEnvelopeBytes;
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/json', { parseAs: 'string', bodyLimit }, (_request, body, done) => done(null, body));
  app.addHook('onRequest', async (request) => {
    await checkClient(ctx, request);
    // a node on the national suite names its SM2 certificate: the feeds it fetches are sealed to it
    const sm2 = await peerSm2Cert(ctx, request.peer!, request.headers[SM2_CERT_HEADER]);
    if (sm2 !== undefined) request.peer = { ...request.peer!, sm2CertPem: sm2 };
  });
  const post = { bodyLimit, schema: { response: { 200: envelopeSchema, ...mtlsErrors } } };

  // batches: admitted before their body is read, at most intakeMaxNodes nodes at once (hub/batch-admission.ts)
  const admission = batchAdmission(ctx.config.intakeMaxNodes);
  const slots = new WeakMap<FastifyRequest, BatchSlot>();
  app.post(
    EXCHANGE_ROUTES.batches,
    {
      ...post,
      preParsing: async (request, reply, payload) => {
        const slot = admission.admit(peerOf(request).nodeId);
        slots.set(request, slot);
        // the handler never began (body too large or cut off, the client gone): the slot ends with the response
        reply.raw.once('close', () => {
          if (!slot.begun) slot.release();
        });
        return payload;
      },
    },
    async (request) => {
      const slot = slots.get(request);
      if (!slot || slot.released) throw hubError('ERR_HUB_BUSY', 'the connection closed before the batch was taken; send it again', { retryAfter: 1, reason: 'closed' });
      slot.begin();
      try {
        return await ctx.intake.receive(peerOf(request), String(request.body ?? ''));
      } finally {
        slot.release();
      }
    },
  );

  app.post(EXCHANGE_ROUTES.queries, post, async (request) => ctx.queries.answer(peerOf(request), String(request.body ?? '')));

  app.get(EXCHANGE_ROUTES.distributions, { schema: { querystring: distributionsFeedQuery, response: { 200: envelopeSchema, ...mtlsErrors } } }, async (request) => {
    const q = request.query as { after: number; limit: number; mark?: string };
    return (await ctx.distributions.feed(peerOf(request), { after: q.after, limit: q.limit, ...(q.mark !== undefined ? { mark: q.mark } : {}) })).envelope;
  });

  app.post(NOTICE_ROUTES.notices, post, async (request) => ctx.notices.receive(peerOf(request), String(request.body ?? '')));
  app.get(NOTICE_ROUTES.notices, { schema: { querystring: noticesFeedQuery, response: { 200: envelopeSchema, ...mtlsErrors } } }, async (request) => {
    const q = request.query as { after: number; limit: number; mark?: string };
    return ctx.notices.feed(peerOf(request), { after: q.after, limit: q.limit, ...(q.mark !== undefined ? { mark: q.mark } : {}) });
  });

  await app.register(witnessRoutes, { ctx });
}

/** Mutual-TLS routes with a plain JSON body. */
export async function renewRoutes(app: FastifyInstance, opts: { ctx: HubContext }): Promise<void> {
  const { ctx } = opts;
  app.addHook('onRequest', async (request) => {
    await checkClient(ctx, request);
  });
  app.post(EXCHANGE_ROUTES.renew, { schema: { body: renewBody, response: { 200: enrollResponse, ...mtlsErrors } } }, async (request) => ctx.enrolment.renew(peerOf(request), request.body as RenewRequest));
}
