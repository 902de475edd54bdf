/** Liveness, readiness and metrics: no token needed, no personal data. */
import type { FastifyInstance } from 'fastify';
import type { NodeContext } from '../context.js';
import { errorSchema } from '../schemas.js';
import { serviceError } from '../../protocol/service-errors.js';
import { notReadyReasons } from '../readiness.js';

export async function healthRoutes(app: FastifyInstance, opts: { ctx: NodeContext; clock?: () => Date }): Promise<void> {
  const { ctx } = opts;
  const status = { type: 'object', properties: { status: { type: 'string' }, nodeId: { type: 'string' } } };

  app.get('/healthz', { schema: { summary: 'the process is up', tags: ['ops'], response: { 200: status } } }, async () => ({ status: 'ok', nodeId: ctx.config.nodeId }));

  app.get('/readyz', { schema: { summary: 'ready: not shutting down, the store takes writes, the hub answered within 15 minutes, the certificate valid for 7 more days and not revoked', tags: ['ops'], response: { 200: status, 503: errorSchema } } }, async () => {
    const reasons = await notReadyReasons(ctx, (opts.clock ?? (() => new Date()))());
    if (reasons.length > 0) throw serviceError('ERR_NOT_READY', `not ready: ${reasons.map((r) => r.message).join('; ')}`, { reasons });
    return { status: 'ready', nodeId: ctx.config.nodeId };
  });

  app.get('/metrics', { schema: { summary: 'Prometheus text format', tags: ['ops'] } }, async (_request, reply) => {
    const text = await ctx.metrics.registry.metrics();
    return reply.type(ctx.metrics.registry.contentType).send(text);
  });
}
