/** GET /v1/quality: the node's data-quality indicators (the auditor: action audit.read; counts only, no record content). */
import type { FastifyInstance } from 'fastify';
import type { NodeContext } from '../context.js';
import { QUALITY_QUERY_SCHEMA, QUALITY_REPORT_SCHEMA } from '../../protocol/quality-schema.js';
import { nodeQuality } from '../quality-service.js';
import { errorSchema } from '../schemas.js';

export async function qualityRoutes(app: FastifyInstance, opts: { ctx: NodeContext; clock: () => Date }): Promise<void> {
  const { ctx } = opts;
  const querystring = { ...QUALITY_QUERY_SCHEMA, properties: { month: QUALITY_QUERY_SCHEMA.properties.month } };
  app.get<{ Querystring: { month?: string } }>(
    '/quality',
    { schema: { summary: 'data-quality indicators of this node per 数据来源单位 × type (docs/quality.md)', tags: ['quality'], querystring, response: { 200: QUALITY_REPORT_SCHEMA, 403: errorSchema } } },
    async (request) => {
      await ctx.records.authorize(request.caller, 'audit.read', 'quality');
      return nodeQuality(ctx.db, { nodeId: ctx.config.nodeId, now: opts.clock(), ...(request.query.month ? { month: request.query.month } : {}) });
    },
  );
}
