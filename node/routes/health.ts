/** Liveness, readiness and metrics: no token needed, no personal data. */
import type { FastifyInstance } from 'fastify';
import type { NodeContext } from '../context.js';
import { errorSchema } from '../schemas.js';
import { serviceError } from '../../protocol/service-errors.js';

export async function healthRoutes(app: FastifyInstance, opts: { ctx: NodeContext }): Promise<void> {
  const { ctx } = opts;
  const status = { type: 'object', properties: { status: { type: 'string' }, nodeId: { type: 'string' } } };

  app.get('/healthz', { schema: { summary: 'the process is up', tags: ['ops'], response: { 200: status } } }, async () => ({ status: 'ok', nodeId: ctx.config.nodeId }));

  app.get('/readyz', { schema: { summary: 'the store answers and the node is not shutting down', tags: ['ops'], response: { 200: status, 503: errorSchema } } }, async () => {
    if (ctx.state.closing) throw serviceError('ERR_NOT_READY', 'node is shutting down');
    try {
      await ctx.db.raw('select 1');
    } catch (e) {
      throw serviceError('ERR_NOT_READY', `store does not answer: ${(e as Error).message}`);
    }
    return { status: 'ready', nodeId: ctx.config.nodeId };
  });

  app.get('/metrics', { schema: { summary: 'Prometheus text format', tags: ['ops'] } }, async (_request, reply) => {
    const text = await ctx.metrics.registry.metrics();
    return reply.type(ctx.metrics.registry.contentType).send(text);
  });
}
