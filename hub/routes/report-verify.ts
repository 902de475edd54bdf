/**
 * POST /v1/reports/verify (no client certificate: anyone a report is presented to may ask): the
 * body is the report file exactly as received — a sealed PDF (application/pdf) or the signed JSON
 * document (application/json), or either as application/octet-stream — and the answer is the
 * verification result (hub/report-verify.ts): 200 `{ valid: true, reportNo, … }` or 200
 * `{ valid: false, code, message }`. Each check is audited as `report.verify` (the report number
 * and the outcome's code; never the subject), aggregated per caller and minute (audit/refusals.ts). The bytes are read raw: JSON is not parsed by
 * Fastify, since one changed byte must fail.
 */
import type { FastifyInstance } from 'fastify';
import { REPORT_MAX_BYTES } from '../../protocol/credit-report.js';
import type { HubContext } from '../route-context.js';
import { verifyPresentedReport } from '../report-verify.js';
import { errorSchema } from '../schemas.js';

/** A sealed PDF carries the signed JSON document in its trailer beside the rendered pages. */
export const REPORT_VERIFY_BODY_LIMIT = 3 * REPORT_MAX_BYTES;

const TYPES = ['application/pdf', 'application/json', 'application/octet-stream'];

const verification = {
  type: 'object',
  required: ['valid', 'checkedAt'],
  properties: {
    valid: { type: 'boolean' },
    checkedAt: { type: 'string' },
    format: { type: 'string', enum: ['pdf', 'json'] },
    code: { type: 'string' },
    message: { type: 'string' },
    reportNo: { type: 'string' },
    issuedAt: { type: 'string' },
    issuer: { type: 'object', properties: { nodeId: { type: 'string' } } },
    subject: { type: 'object', properties: { code: { type: 'string' }, name: { type: ['string', 'null'] } } },
    verificationCode: { type: 'string' },
    entries: { type: 'integer' },
    signer: { type: 'object', properties: { nodeId: { type: 'string' }, serial: { type: 'string' }, revokedAt: { type: ['string', 'null'] }, revocationReason: { type: ['string', 'null'] } } },
  },
} as const;

export async function reportVerifyRoutes(app: FastifyInstance, opts: { ctx: HubContext }): Promise<void> {
  const { ctx } = opts;
  app.removeContentTypeParser(['application/json']);
  app.addContentTypeParser(TYPES, { parseAs: 'buffer', bodyLimit: REPORT_VERIFY_BODY_LIMIT }, (_request, body, done) => done(null, body));
  app.post<{ Body: Buffer }>(
    '/v1/reports/verify',
    {
      bodyLimit: REPORT_VERIFY_BODY_LIMIT,
      schema: { summary: 'verify a credit report (信用报告) PDF or signed JSON: signature, chain to the provincial CA, not revoked at issuedAt (docs/credit-report.md)', response: { 200: verification, 400: errorSchema, 413: errorSchema, 415: errorSchema } },
    },
    async (request) => {
      const r = await verifyPresentedReport(ctx.ca, Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0), ctx.clock());
      // unauthenticated: through the per-minute aggregation, so a flood cannot grow the audit log without bound
      const who = `addr:${request.ip}`;
      await ctx.refusals.refused(who, {
        action: 'report.verify', actor: who, object: r.reportNo ? `report ${r.reportNo}` : 'report (unreadable)',
        outcome: r.valid ? 'success' : 'failure', reason: r.valid ? `valid signer=${r.signer!.nodeId}/${r.signer!.serial}` : r.code!,
      });
      return r;
    },
  );
}
