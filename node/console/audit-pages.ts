/**
 * The node's audit viewer (issue 20 item 3; server/console/audit-pages.ts), for the auditor role:
 * the role check and its denial's audit entry are the services' authorize (`audit.read`), the
 * checkpoints verify against the CA certificate the node enrolled with and carry the hub's
 * cosignature, and the bundle is exported through GET /v1/audit/export.
 */
import { existsSync, readFileSync } from 'node:fs';
import type { FastifyInstance } from 'fastify';
import { auditViewer } from '../../server/console/audit-pages.js';
import type { NodeContext } from '../context.js';
import { exchangePaths } from '../exchange/files.js';
import { callApi } from './api.js';

export { MAX_VERIFY_RANGE, type RangeState } from '../../server/console/audit-pages.js';

export async function auditPages(app: FastifyInstance, opts: { ctx: NodeContext; api: FastifyInstance; caPems?: readonly string[]; maxVerifyRange?: number }): Promise<void> {
  const { ctx } = opts;
  await auditViewer(app, {
    db: ctx.db,
    audit: ctx.audit as NodeContext['audit'] & { checkpoint?: () => Promise<{ treeSize: number } | null> },
    signer: ctx.config.nodeId,
    cosigner: '省级枢纽副署',
    caPems: () => {
      if (opts.caPems) return opts.caPems;
      // the provincial roots the node holds: RSA, and SM2 when it enrolled with an SM2 certificate (a log on SM is signed by SM2 keys)
      const p = exchangePaths(ctx.config.dataDir);
      return [p.ca, p.sm2Ca].filter((f) => existsSync(f)).map((f) => readFileSync(f, 'utf8'));
    },
    ...(opts.maxVerifyRange ? { maxVerifyRange: opts.maxVerifyRange } : {}),
    actor: (request) => request.caller.actor,
    authorize: async (request) => {
      await ctx.records.authorize(request.caller, 'audit.read', 'audit');
    },
    exportNdjson: async (request, range) => {
      const q = new URLSearchParams();
      if (range.from) q.set('from', String(range.from));
      if (range.to) q.set('to', String(range.to));
      return (await callApi(opts.api, request, 'GET', `/v1/audit/export${q.size ? `?${q}` : ''}`)).raw;
    },
  });
}
