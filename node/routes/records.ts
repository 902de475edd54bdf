/** /v1/records and /v1/subjects: thin handlers over the services (objections and repairs: objection routes). */
import type { FastifyInstance } from 'fastify';
import type { NodeContext } from '../context.js';
import { nodeError } from '../errors.js';
import type { WithdrawReason } from '../records-store.js';
import { correctSchema, createRecordsSchema, getRecordSchema, objectSchema, resolveSchema, subjectSchema, versionsSchema, withdrawSchema } from '../schemas.js';

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

  app.get<{ Params: { id: string }; Querystring: { purpose?: string } }>('/records/:id/versions', { schema: versionsSchema }, async (request) =>
    records.versions(request.caller, request.params.id, request.query.purpose),
  );

  app.post<{ Params: { id: string }; Body: { classification?: string; fields: Record<string, unknown>; note?: string } }>('/records/:id/corrections', { schema: correctSchema }, async (request) =>
    records.correct(request.caller, request.params.id, request.body, request.body.note),
  );

  app.get<{ Params: { code: string }; Querystring: { purpose?: string; includeWithdrawn?: boolean; scope?: 'local' | 'province' } }>('/subjects/:code', { schema: subjectSchema }, async (request) => {
    if (request.query.scope === 'province') {
      if (!opts.ctx.province) throw nodeError('ERR_HUB_UNAVAILABLE', 'this node is not connected to a hub (no `hub` in its config)', { reason: 'not-configured' });
      return opts.ctx.province(request.caller, request.params.code, request.query.purpose);
    }
    return records.bySubject(request.caller, request.params.code, { purpose: request.query.purpose, includeWithdrawn: request.query.includeWithdrawn === true });
  });

  // objections and credit repair: routes/objections.ts

  app.post<{ Params: { id: string }; Body: { reason: WithdrawReason; note?: string } }>('/records/:id/withdraw', { schema: withdrawSchema }, async (request) =>
    repair.withdraw(request.caller, request.params.id, request.body.reason, request.body.note),
  );
}
