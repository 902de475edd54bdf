/**
 * GET /v1/quality over mutual TLS: a node's indicators as the hub measures them (timeliness,
 * exchange success, duplicates across nodes), with the province's 市州 ranking. A node reads itself;
 * a 市州 node (code ending 00) also the units of its city (ERR_QUALITY_SCOPE_DENIED otherwise).
 * The province-wide view is the operator's: `credit hub quality`.
 */
import { quality } from '../replica.js';
import type { FastifyInstance } from 'fastify';
import { QUALITY_QUERY_SCHEMA, QUALITY_REPORT_SCHEMA } from '../../protocol/quality-schema.js';
import type { HubContext } from '../route-context.js';
import { checkClient } from '../client-check.js';
import { hubError } from '../errors.js';
import { provinceQuality } from '../quality-service.js';
import { mtlsErrors } from '../schemas.js';

export function mayRead(peer: string, node: string): boolean {
  return node === peer || (peer.endsWith('00') && node.slice(0, 4) === peer.slice(0, 4));
}

export async function qualityRoutes(app: FastifyInstance, opts: { ctx: HubContext }): Promise<void> {
  const { ctx } = opts;
  app.addHook('onRequest', async (request) => {
    await checkClient(ctx, request);
  });
  app.get<{ Querystring: { month?: string; node?: string } }>(
    '/v1/quality',
    { schema: { summary: "the caller's data-quality indicators as the hub measures them, and the 市州 ranking (docs/quality.md)", querystring: QUALITY_QUERY_SCHEMA, response: { 200: QUALITY_REPORT_SCHEMA, ...mtlsErrors } } },
    async (request) => {
      const peer = request.peer!.nodeId;
      const node = request.query.node ?? peer;
      if (!mayRead(peer, node)) throw hubError('ERR_QUALITY_SCOPE_DENIED', `node ${peer} may not read the quality indicators of ${node}`, { node, peer });
      const month = request.query.month;
      const province = await quality(ctx, (db) => provinceQuality(db, { now: ctx.clock(), ...(month ? { month } : {}) }));
      const own = await quality(ctx, (db) => provinceQuality(db, { now: ctx.clock(), node, ...(month ? { month } : {}) }));
      return { ...own, ...(province.ranking ? { ranking: province.ranking } : {}) };
    },
  );
}
