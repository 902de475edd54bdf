/** /v1/records, /v1/subjects and /v1/objections: thin handlers over the services. */
import type { FastifyInstance } from 'fastify';
import type { NodeContext } from '../context.js';
import { nodeError } from '../errors.js';
import type { WithdrawReason } from '../records-store.js';
import { createRecordsSchema, getRecordSchema, objectSchema, resolveSchema, subjectSchema, withdrawSchema } from '../schemas.js';

export async function recordRoutes(app: FastifyInstance, opts: { ctx: NodeContext }): Promise<void> {
  const { records, repair } = opts.ctx;

  app.post('/records', { schema: createRecordsSchema }, async (request, reply) => {
    const inputs = Array.isArray(request.body) ? (request.body as unknown[]) : [request.body];
    const result = await records.create(request.caller, inputs);
    return reply.status(result.accepted > 0 ? 201 : 200).send(result);
  });

  app.get<{ Params: { id: string }; Querystring: { purpose?: string } }>('/records/:id', { schema: getRecordSchema }, async (request) =>
    records.get(request.caller, request.params.id, request.query.purpose),
  );

  app.get<{ Params: { code: string }; Querystring: { purpose?: string; includeWithdrawn?: boolean; scope?: 'local' | 'province' } }>('/subjects/:code', { schema: subjectSchema }, async (request) => {
    if (request.query.scope === 'province') {
      if (!opts.ctx.province) throw nodeError('ERR_HUB_UNAVAILABLE', 'this node is not connected to a hub (no `hub` in its config)', { reason: 'not-configured' });
      return opts.ctx.province(request.caller, request.params.code, request.query.purpose);
    }
    return records.bySubject(request.caller, request.params.code, { purpose: request.query.purpose, includeWithdrawn: request.query.includeWithdrawn === true });
  });

  app.post<{ Params: { id: string }; Body: { grounds: string } }>('/records/:id/objections', { schema: objectSchema }, async (request, reply) =>
    reply.status(201).send(await repair.object(request.caller, request.params.id, request.body.grounds)),
  );

  app.post<{ Params: { id: string }; Body: { outcome: 'upheld' | 'rejected'; note?: string } }>('/objections/:id/resolve', { schema: resolveSchema }, async (request) =>
    repair.resolveObjection(request.caller, request.params.id, request.body.outcome, request.body.note),
  );

  app.post<{ Params: { id: string }; Body: { reason: WithdrawReason; note?: string } }>('/records/:id/withdraw', { schema: withdrawSchema }, async (request) =>
    repair.withdraw(request.caller, request.params.id, request.body.reason, request.body.note),
  );
}
