/**
 * 数据质量: the 市州 ranking of a month, the nodes' indicators and the table per 数据来源单位 ×
 * type, as GET /v1/operator/quality answers them (docs/quality.md), each exportable as CSV (the
 * tables `credit hub quality --csv [--ranking]` writes).
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { qualityTables, toCsv, type QualityReport } from '../../protocol/quality-report.js';
import { callApi } from '../../server/console/api.js';
import { pct } from './overview-pages.js';

const QUALITY_API = 'GET /v1/operator/quality';
const monthSchema = { type: 'string', pattern: '^$|^[0-9]{4}-[0-9]{2}$' };

export async function qualityPages(app: FastifyInstance, opts: { api: FastifyInstance }): Promise<void> {
  const { api } = opts;
  const ctx = api.hubCtx;
  const report = async (request: FastifyRequest, month: string | undefined) =>
    (await callApi<QualityReport>(api, request, 'GET', `/v1/operator/quality${month ? `?month=${month}` : ''}`)).body;
  /** This month and the eleven before it (China time is close enough for a menu). */
  const months = () => {
    const now = ctx.clock();
    return Array.from({ length: 12 }, (_, i) => new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() - i, 1)).toISOString().slice(0, 7));
  };

  app.get<{ Querystring: { month?: string } }>('/quality', { schema: { querystring: { type: 'object', properties: { month: monthSchema } } }, config: { hubApi: QUALITY_API } }, async (request, reply) => {
    const month = request.query.month === undefined ? months()[0] : request.query.month || undefined;
    const r = await report(request, month);
    return reply.page('/hub/console/views/quality', { pageTitle: '数据质量', r, month: month ?? '', months: months(), pct, units: r.units.slice(0, 100) });
  });

  app.get<{ Querystring: { month?: string; table?: 'ranking' | 'units' } }>(
    '/quality.csv',
    { schema: { querystring: { type: 'object', properties: { month: monthSchema, table: { type: 'string', enum: ['ranking', 'units'] } } } }, config: { hubApi: QUALITY_API } },
    async (request, reply) => {
      const month = request.query.month || undefined;
      const table = request.query.table ?? 'ranking';
      const tables = qualityTables(await report(request, month));
      return reply.type('text/csv; charset=utf-8').header('content-disposition', `attachment; filename="quality-${table}-${month ?? 'all'}.csv"`).send(toCsv(tables[table]));
    },
  );
}
