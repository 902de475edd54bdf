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
import type { ServerResponse } from 'node:http';
import { batchAdmission, BUSY_RETRY_AFTER_S, markBusy, uploadDeadlineMs, type BatchSlot } from '../batch-admission.js';
import { hubError } from '../errors.js';
import { distributionsFeedQuery, enrollResponse, noticesFeedQuery, envelopeSchema, mtlsErrors, renewBody } from '../schemas.js';

function peerOf(request: FastifyRequest): Peer {
  return request.peer!;
}

/** ERR_HUB_BUSY for a batch whose connection closed before it was taken (no answer reaches anyone). */
function closedBeforeTaken() {
  return hubError('ERR_HUB_BUSY', 'the connection closed before the batch was taken; send it again', { retryAfter: BUSY_RETRY_AFTER_S, reason: 'closed' });
}

/**
 * Ends an admitted batch's slot when its handler never begins: at the response's or the connection's
 * close, or at the upload's deadline (the connection is then closed and a warning logged). The
 * listeners and the timer are removed once the handler begins (it releases the slot itself) or the
 * slot ends, so a kept-alive connection does not gather one per batch. Returns the detaching
 * function, for the handler to call when it begins.
 */
function guardUpload(request: FastifyRequest, response: ServerResponse, slot: BatchSlot, deadlineMs: number): () => void {
  const socket = request.raw.socket;
  const detach = () => {
    clearTimeout(timer);
    socket?.off('close', gone);
    response.off('close', gone);
  };
  const gone = () => {
    detach();
    if (!slot.begun) slot.release();
  };
  const timer = setTimeout(() => {
    detach();
    if (slot.begun || slot.released) return;
    request.log.warn({ node: request.peer?.nodeId, deadlineMs, contentLength: request.headers['content-length'] }, `batch upload not complete after ${deadlineMs} ms: connection closed, its place freed`);
    slot.release();
    request.raw.destroy();
  }, deadlineMs);
  timer.unref();
  socket?.once('close', gone);
  response.once('close', gone);
  return detach;
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
  const admission = batchAdmission(ctx.config.intakeMaxNodes, undefined, ctx.config.intakeTurnMs); // the default clock: monotonic
  const slots = new WeakMap<FastifyRequest, { slot: BatchSlot; detach: () => void }>();
  app.post(
    EXCHANGE_ROUTES.batches,
    {
      ...post,
      preParsing: async (request, reply, payload) => {
        // a connection already gone (the node timed out or stopped while the client check ran, or a
        // request pipelined behind one on a closed connection): nothing to admit, nobody to answer
        if (request.raw.destroyed || request.raw.socket?.destroyed) {
          markBusy(request);
          throw closedBeforeTaken();
        }
        let slot: BatchSlot;
        try {
          slot = admission.admit(peerOf(request).nodeId);
        } catch (e) {
          markBusy(request);
          throw e;
        }
        slots.set(request, { slot, detach: guardUpload(request, reply.raw, slot, uploadDeadlineMs(Number(request.headers['content-length'] ?? Number.NaN), ctx.config.maxEnvelopeBytes, ctx.config.batchUploadGraceMs)) });
        return payload;
      },
    },
    async (request) => {
      const held = slots.get(request);
      if (!held || held.slot.released) {
        markBusy(request);
        throw closedBeforeTaken();
      }
      const { slot, detach } = held;
      slot.begin();
      detach(); // the handler releases it from here on
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
