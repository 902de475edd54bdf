/** /v1/objections, /v1/records/:id/objections, /v1/repairs, /v1/records/:id/repairs: thin handlers over the services. */
import type { FastifyInstance } from 'fastify';
import type { NodeContext } from '../context.js';
import type { Objection } from '../records-store.js';
import type { RepairStatus } from '../repairs-store.js';
import type { UpstreamDecision } from '../repairs-service.js';
import { applyRepairSchema, decideRepairSchema, listObjectionsSchema, listRepairsSchema, objectSchema, recordObjectionsSchema, recordRepairsSchema, resolveSchema, upstreamRepairsSchema } from '../objections-schemas.js';

export async function objectionRoutes(app: FastifyInstance, opts: { ctx: NodeContext }): Promise<void> {
  const { objections, repairs } = opts.ctx;

  app.post<{ Params: { id: string }; Body: { grounds: string } }>('/records/:id/objections', { schema: objectSchema }, async (request, reply) =>
    reply.status(201).send(await objections.file(request.caller, request.params.id, request.body.grounds)),
  );
  app.get<{ Params: { id: string } }>('/records/:id/objections', { schema: recordObjectionsSchema }, async (request) => objections.forRecord(request.caller, request.params.id));
  app.get<{ Querystring: { status?: Objection['status']; overdue?: boolean } }>('/objections', { schema: listObjectionsSchema }, async (request) =>
    objections.list(request.caller, { ...(request.query.status ? { status: request.query.status } : {}), overdue: request.query.overdue === true }),
  );
  app.post<{ Params: { id: string }; Body: { outcome: 'upheld' | 'rejected'; note?: string } }>('/objections/:id/resolve', { schema: resolveSchema }, async (request) =>
    objections.resolve(request.caller, request.params.id, request.body.outcome, request.body.note),
  );

  app.post<{ Params: { id: string }; Body: { evidence: string[]; commitment: string } }>('/records/:id/repairs', { schema: applyRepairSchema }, async (request, reply) =>
    reply.status(201).send(await repairs.apply(request.caller, request.params.id, request.body)),
  );
  app.get<{ Params: { id: string } }>('/records/:id/repairs', { schema: recordRepairsSchema }, async (request) => repairs.forRecord(request.caller, request.params.id));
  app.get<{ Querystring: { status?: RepairStatus; overdue?: boolean } }>('/repairs', { schema: listRepairsSchema }, async (request) =>
    repairs.list(request.caller, { ...(request.query.status ? { status: request.query.status } : {}), overdue: request.query.overdue === true }),
  );
  app.post<{ Params: { id: string }; Body: { outcome: 'accepted' | 'refused'; reason?: string } }>('/repairs/:id/decision', { schema: decideRepairSchema }, async (request) =>
    repairs.decide(request.caller, request.params.id, request.body.outcome, request.body.reason),
  );
  app.post<{ Body: UpstreamDecision[] }>('/repairs/import', { schema: upstreamRepairsSchema }, async (request) => repairs.importUpstream(request.caller, request.body));
}
