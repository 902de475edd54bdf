/** GET /v1/exchange/status: the hub exchange at a glance (auditors and admins; no personal data). */
import type { FastifyInstance } from 'fastify';
import type { NodeContext } from '../context.js';
import { nodeError } from '../errors.js';
import { authErrors, errorSchema } from '../schemas.js';

const statusSchema = {
  summary: 'the hub exchange: outbox backlog, batches and receipts, inbox cursor, certificate, witnessing, last error',
  tags: ['exchange'],
  response: {
    200: {
      type: 'object',
      properties: {
        nodeId: { type: 'string' },
        hubUrl: { type: 'string' },
        grade: { type: 'integer' },
        certificate: { type: 'object', properties: { serial: { type: 'string' }, notAfter: { type: 'string' }, renewFrom: { type: 'string' } } },
        outbox: { type: 'object', properties: { pending: { type: 'integer', description: 'outbox rows not yet cut into a batch' } } },
        batches: {
          type: 'object',
          properties: {
            pending: { type: 'integer', description: 'batches without a receipt yet' },
            accepted: { type: 'integer' },
            refused: { type: 'integer' },
            lastSeq: { type: 'integer' },
          },
        },
        inbox: { type: 'object', properties: { cursor: { type: 'integer' }, applied: { type: 'integer', description: 'records and withdrawals applied since start' } } },
        witness: { type: ['object', 'null'], properties: { treeSize: { type: 'integer' }, cosignedAt: { type: 'string' } } },
        hubCheckpointRefused: {
          type: ['object', 'null'],
          description: 'the hub\'s audit checkpoints this node refuses to cosign round after round (e.g. ERR_AUDIT_INCONSISTENT: the hub\'s log no longer extends the head this node cosigned), or null; audited as a failed hub.checkpoint.cosign at the first round and hourly',
          properties: { code: { type: 'string' }, since: { type: 'string' }, rounds: { type: 'integer' }, treeSize: { type: 'integer' } },
        },
        hubWitnessReset: {
          type: ['object', 'null'],
          description: 'the witness reset of the hub\'s log armed by this node\'s operator and not used yet (credit node witness reset-arm; docs/audit-format.md §10b), or null',
          properties: { id: { type: 'integer' }, restoredTo: { type: 'string' }, armedAt: { type: 'string' }, expiresAt: { type: 'string' }, abandonTo: { type: 'integer' }, expired: { type: 'boolean' } },
        },
        provinceCatalog: {
          type: ['object', 'null'],
          description: 'the province supplementary catalog (地方补充目录) this node holds: serial, publication time, type codes',
          properties: { serial: { type: 'integer' }, publishedAt: { type: 'string' }, types: { type: 'array', items: { type: 'string' } } },
        },
        lastError: { type: ['object', 'null'], properties: { loop: { type: 'string' }, code: { type: 'string' }, message: { type: 'string' }, at: { type: 'string' } } },
      },
    },
    503: { description: 'ERR_HUB_UNAVAILABLE: this node has no hub', ...errorSchema },
    ...authErrors,
  },
};

export async function exchangeRoutes(app: FastifyInstance, opts: { ctx: NodeContext }): Promise<void> {
  const { ctx } = opts;
  app.get('/exchange/status', { schema: statusSchema }, async (request) => {
    // operational status, no record content: the auditor, and the officer (the monitor of demo and fault cluster: no admin role gets a service token)
    if (request.caller.role !== 'officer') await ctx.records.authorize(request.caller, 'audit.read', 'exchange');
    if (!ctx.exchange) throw nodeError('ERR_HUB_UNAVAILABLE', 'this node is not connected to a hub (no `hub` in its config)', { reason: 'not-configured' });
    return ctx.exchange.status();
  });
}
