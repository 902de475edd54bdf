/**
 * 节点 (the register, filtered by 市州, grade and state, exported as CSV), a node's page
 * (certificate history, last contact, its exchange as the hub saw it: feed lag, latest envelopes,
 * refused batches with their codes; its data quality) and 吊销 (reason, a confirmation page on
 * which the operator types the node's code, then POST /v1/operator/nodes/:node/revoke as the
 * operator). Pages stand for GET /v1/operator/nodes, revocation for its POST route.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { REVOCATION_REASONS } from '../../certs/crl.js';
import { cityOf } from '../../protocol/quality-indicators.js';
import { toCsv, type QualityReport } from '../../protocol/quality-report.js';
import { callApi } from '../../server/console/api.js';
import { serviceError } from '../../protocol/service-errors.js';
import { envelopesStore } from '../envelopes-store.js';
import { hubError } from '../errors.js';
import { feedCursorsStore } from '../feed-cursors-store.js';
import type { HubNode } from '../nodes-store.js';
import { expectedNodes, provinceQuality } from '../quality-service.js';
import { receivableClasses } from '../release-policy.js';
import { daysLeft, nodeState, pct } from './overview-pages.js';

const NODES_API = 'GET /v1/operator/nodes';
const REVOKE_API = 'POST /v1/operator/nodes/:node/revoke';

export const REASON_NAMES: Readonly<Record<string, string>> = { keyCompromise: '密钥泄露（keyCompromise）', superseded: '已被替换（superseded）', cessationOfOperation: '停止运行（cessationOfOperation）' };
const STATE_NAMES: Readonly<Record<string, string>> = { active: '在线', silent: '24 小时无联络', pending: '待注册', revoked: '已吊销' };

interface NodeFilter {
  city?: string; grade?: string; state?: string;
}
const filterSchema = {
  type: 'object',
  properties: { city: { type: 'string', pattern: '^$|^[0-9]{6}$' }, grade: { type: 'string', pattern: '^$|^[1-4]$' }, state: { type: 'string', enum: ['', 'active', 'silent', 'pending', 'revoked'] } },
};
const nodeParams = { type: 'object', required: ['node'], properties: { node: { type: 'string', pattern: '^[0-9]{6}$' } } };

export async function nodePages(app: FastifyInstance, opts: { api: FastifyInstance }): Promise<void> {
  const { api } = opts;
  const ctx = api.hubCtx;

  const cities = async () => (await expectedNodes(ctx.reader)).nodes.filter((n) => n.code.endsWith('00')).map((n) => ({ code: n.code, name: n.name }));

  const listed = async (request: FastifyRequest<{ Querystring: NodeFilter }>) => {
    const now = ctx.clock();
    const q = request.query;
    const all = (await callApi<HubNode[]>(api, request, 'GET', '/v1/operator/nodes')).body.map((n) => ({ ...n, state: nodeState(n, now), daysLeft: daysLeft(n.certNotAfter, now) }));
    const rows = all.filter((n) => (!q.city || cityOf(n.nodeId) === q.city) && (!q.grade || n.grade === Number(q.grade)) && (!q.state || n.state.key === q.state));
    const keep = new URLSearchParams(Object.entries(q).filter(([, v]) => v !== undefined && v !== '').map(([k, v]): [string, string] => [k, String(v)])).toString();
    return { rows, total: all.length, query: q, keep, checkedAt: now.toISOString() };
  };

  app.get<{ Querystring: NodeFilter }>('/nodes', { schema: { querystring: filterSchema }, config: { hubApi: NODES_API } }, async (request, reply) =>
    reply.page('/hub/console/views/nodes', { pageTitle: '节点', cities: await cities(), stateNames: STATE_NAMES, ...(await listed(request)) }),
  );
  app.get<{ Querystring: NodeFilter }>('/nodes/table', { schema: { querystring: filterSchema }, config: { hubApi: NODES_API } }, async (request, reply) =>
    reply.page('/hub/console/views/nodes-table', { ...(await listed(request)) }),
  );
  app.get<{ Querystring: NodeFilter }>('/nodes.csv', { schema: { querystring: filterSchema }, config: { hubApi: NODES_API } }, async (request, reply) => {
    const { rows } = await listed(request);
    const table = [['节点代码', '名称', '等保等级', '状态', '最近联络', '证书有效期至', '上报批次', '上报条数', '分发条数', '查询次数'], ...rows.map((n) => [n.nodeId, n.name ?? '', String(n.grade), n.state.word, n.lastSeenAt ?? '', n.certNotAfter ?? '', String(n.batchesIn), String(n.recordsIn), String(n.recordsOut), String(n.queries)])];
    return reply.type('text/csv; charset=utf-8').header('content-disposition', 'attachment; filename="hub-nodes.csv"').send(toCsv(table));
  });

  app.get<{ Params: { node: string }; Querystring: { revoked?: string } }>('/nodes/:node', { schema: { params: nodeParams }, config: { hubApi: NODES_API } }, async (request, reply) => {
    const now = ctx.clock();
    const { node } = request.params;
    const n = (await callApi<HubNode[]>(api, request, 'GET', '/v1/operator/nodes')).body.find((x) => x.nodeId === node);
    if (!n) throw hubError('ERR_NODE_UNKNOWN', `节点 ${node} 未在本枢纽注册 [ERR_NODE_UNKNOWN]`, { nodeId: node });
    const certs = (await ctx.ca.certs.listIssued()).filter((c) => c.nodeId === node).reverse();
    const lag = n.status === 'active' ? await feedCursorsStore.lag(ctx.reader, node, receivableClasses(n.grade)) : { items: 0, oldestAt: null };
    const recent = await envelopesStore.recentOf(ctx.reader, node, 10);
    const refused = await envelopesStore.recentOf(ctx.reader, node, 10, { refusedOnly: true });
    const quality: QualityReport = await provinceQuality(ctx.reader, { now, node });
    const tokens = (await callApi<{ nodeId: string; status: string }[]>(api, request, 'GET', '/v1/operator/tokens').catch(() => ({ body: [] }))).body.filter((t) => t.nodeId === node);
    return reply.page('/hub/console/views/node', {
      pageTitle: `节点 ${node}`, n, state: nodeState(n, now), daysLeft: daysLeft(n.certNotAfter, now), certs, lag, lagSeconds: lag.oldestAt ? Math.round((now.getTime() - Date.parse(lag.oldestAt)) / 1000) : 0,
      recent, refused, indicators: quality.totals.indicators, submitted: quality.totals.counters.submitted, pct, reasonNames: REASON_NAMES, reasons: REVOCATION_REASONS,
      outstandingTokens: tokens.filter((t) => t.status === 'outstanding').length, justRevoked: request.query.revoked !== undefined, checkedAt: now.toISOString(),
    });
  });

  // 吊销: choose the node and reason → a confirmation page (nothing changes) → POST with the node's code typed again
  app.get<{ Querystring: { node?: string } }>('/revoke', { schema: { querystring: { type: 'object', properties: { node: { type: 'string', pattern: '^$|^[0-9]{6}$' } } } }, config: { hubApi: REVOKE_API } }, async (request, reply) => {
    const nodes = (await callApi<HubNode[]>(api, request, 'GET', '/v1/operator/nodes')).body;
    const revokedCerts = (await ctx.ca.certs.listIssued()).filter((c) => c.status === 'revoked').sort((a, b) => (b.revokedAt ?? '').localeCompare(a.revokedAt ?? '')).slice(0, 50);
    return reply.page('/hub/console/views/revoke', { pageTitle: '吊销', nodes: nodes.filter((n) => n.status !== 'revoked'), revokedNodes: nodes.filter((n) => n.status === 'revoked'), revokedCerts, chosen: request.query.node ?? '', reasons: REVOCATION_REASONS, reasonNames: REASON_NAMES });
  });
  app.get<{ Querystring: { node: string; reason: string } }>(
    '/revoke/confirm',
    { schema: { querystring: { type: 'object', required: ['node', 'reason'], properties: { node: { type: 'string', pattern: '^[0-9]{6}$' }, reason: { type: 'string', enum: [...REVOCATION_REASONS] } } } }, config: { hubApi: REVOKE_API } },
    async (request, reply) => {
      const { node, reason } = request.query;
      const n = (await callApi<HubNode[]>(api, request, 'GET', '/v1/operator/nodes')).body.find((x) => x.nodeId === node);
      if (!n) throw hubError('ERR_NODE_UNKNOWN', `节点 ${node} 未在本枢纽注册 [ERR_NODE_UNKNOWN]`, { nodeId: node });
      const active = (await ctx.ca.certs.listIssued()).filter((c) => c.nodeId === node && c.status === 'active');
      return reply.page('/hub/console/views/revoke-confirm', { pageTitle: '确认吊销', n, reason, reasonName: REASON_NAMES[reason], active });
    },
  );
  app.post<{ Params: { node: string }; Body: { reason: string; confirm: string } }>(
    '/nodes/:node/revoke',
    {
      schema: { params: nodeParams, body: { type: 'object', required: ['reason', 'confirm'], properties: { reason: { type: 'string', enum: [...REVOCATION_REASONS] }, confirm: { type: 'string', maxLength: 6 }, _csrf: { type: 'string' } } } },
      config: { hubApi: REVOKE_API },
    },
    async (request, reply) => {
      const { node } = request.params;
      if (request.body.confirm.trim() !== node) throw serviceError('ERR_REQUEST_INVALID', `确认栏须输入节点代码 ${node}（输入的是「${request.body.confirm.slice(0, 6)}」）：未吊销 [ERR_REQUEST_INVALID]`, { field: 'confirm' });
      await callApi(api, request, 'POST', `/v1/operator/nodes/${node}/revoke`, { payload: { reason: request.body.reason } });
      return reply.redirect(`/nodes/${node}?revoked=1`, 303);
    },
  );
}
