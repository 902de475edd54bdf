/** GET /v1/subjects/:code/report: the signed credit report (JSON; `Accept: application/pdf` for the PDF). docs/credit-report.md */
import type { FastifyInstance } from 'fastify';
import type { NodeContext } from '../context.js';
import { authErrors, errorSchema } from '../schemas.js';

const reportSchema = {
  summary: "the subject's credit report (信用报告), signed by this node: what the caller may see of the subject query, in the sections of 《公共信用信息报告标准(2021年版)》; Accept: application/pdf gives the sealed PDF",
  tags: ['subjects'],
  params: { type: 'object', required: ['code'], properties: { code: { type: 'string', minLength: 1, maxLength: 64 } } },
  querystring: {
    type: 'object',
    additionalProperties: false,
    properties: { purpose: { type: 'string', minLength: 2, maxLength: 200, pattern: '^[^\\u0000]*$', description: 'why restricted data is read (audited with each release)' } },
  },
  produces: ['application/json', 'application/pdf'],
  response: { 503: { description: 'ERR_REPORT_NO_SIGNER', ...errorSchema }, ...authErrors },
};

export async function reportRoutes(app: FastifyInstance, opts: { ctx: NodeContext }): Promise<void> {
  const { reports } = opts.ctx;
  app.get<{ Params: { code: string }; Querystring: { purpose?: string } }>('/subjects/:code/report', { schema: reportSchema }, async (request, reply) => {
    const wantsPdf = /\bapplication\/pdf\b/i.test(request.headers.accept ?? '');
    if (wantsPdf) {
      const pdf = await reports.pdf(request.caller, request.params.code, request.query.purpose);
      return reply.type('application/pdf').header('content-disposition', 'attachment; filename="credit-report.pdf"').send(pdf);
    }
    return reply.type('application/json; charset=utf-8').send(await reports.json(request.caller, request.params.code, request.query.purpose));
  });
}
