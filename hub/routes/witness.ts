/**
 * Checkpoint witnessing: GET /v1/checkpoints/latest (what the hub last cosigned for the calling
 * node) and POST /v1/checkpoints (a 'checkpoint' envelope → the hub's cosignature). Registered
 * inside the envelope routes, so both pass the client check and take raw envelope bodies.
 */
import type { FastifyInstance } from 'fastify';
import { EXCHANGE_ROUTES, type WitnessState } from '../../protocol/exchange.js';
import type { HubContext } from '../route-context.js';
import { cosignatureResponse, mtlsErrors, witnessStateQuery, witnessStateResponse } from '../schemas.js';

export async function witnessRoutes(app: FastifyInstance, opts: { ctx: HubContext }): Promise<void> {
  const { ctx } = opts;
  app.get(EXCHANGE_ROUTES.checkpointLatest, { schema: { querystring: witnessStateQuery, response: { 200: witnessStateResponse, ...mtlsErrors } } }, async (request): Promise<WitnessState> =>
    ctx.witness.latest(request.peer!, request.query as { before?: string; hubFrom?: number }),
  );
  app.post(EXCHANGE_ROUTES.checkpoints, { bodyLimit: ctx.config.maxEnvelopeBytes, schema: { response: { 200: cosignatureResponse, ...mtlsErrors } } }, async (request) =>
    ctx.witness.cosign(request.peer!, String(request.body ?? '')),
  );
}
