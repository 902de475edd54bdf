/**
 * The hub's audit viewer (server/console/audit-pages.ts) for its `auditor` role: allowed exactly
 * when the role may use GET /v1/audit/export (hub/accounts.ts HUB_ROLE_ROUTES; a refusal is
 * audited), checkpoints verified against the provincial CA (the hub signs them with its own
 * certificate) with the nodes' witness cosignatures, and the bundle exported through that route.
 */
import type { FastifyInstance } from 'fastify';
import { HUB_NODE_ID } from '../../certs/issue.js';
import { accountError } from '../../server/account-errors.js';
import { auditViewer } from '../../server/console/audit-pages.js';
import { callApi } from '../../server/console/api.js';
import { mayUseHubRoute } from '../accounts.js';
import { operatorOf } from './app.js';

export async function hubAuditPages(app: FastifyInstance, opts: { api: FastifyInstance; maxVerifyRange?: number }): Promise<void> {
  const { api } = opts;
  const ctx = api.hubCtx;
  await auditViewer(app, {
    db: ctx.db,
    audit: ctx.operators.audit as typeof ctx.operators.audit & { checkpoint: () => Promise<{ treeSize: number } | null> },
    signer: HUB_NODE_ID,
    cosigner: '节点见证副署',
    caPems: () => [ctx.ca.certPem, ...(ctx.ca.sm2 ? [ctx.ca.sm2.certPem] : [])],
    ...(opts.maxVerifyRange ? { maxVerifyRange: opts.maxVerifyRange } : {}),
    actor: (request) => operatorOf(request).actor,
    authorize: async (request) => {
      const op = operatorOf(request);
      if (mayUseHubRoute(op.role, 'GET', '/v1/audit/export')) return;
      await ctx.refusals.refused(op.actor, { action: 'request.refused', actor: op.actor, actorNode: HUB_NODE_ID, object: `console ${request.method} ${request.routeOptions.url ?? ''}`, outcome: 'failure', reason: 'ERR_ROLE_DENIED (GET /v1/audit/export)' });
      throw accountError('ERR_ROLE_DENIED', `角色 ${op.role} 无权查看审计日志（对应 GET /v1/audit/export）[ERR_ROLE_DENIED]`, { role: op.role });
    },
    exportNdjson: async (request, range) => {
      const q = new URLSearchParams();
      if (range.from) q.set('from', String(range.from));
      if (range.to) q.set('to', String(range.to));
      return (await callApi(api, request, 'GET', `/v1/audit/export${q.size ? `?${q}` : ''}`)).raw;
    },
  });
}
