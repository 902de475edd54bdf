/**
 * 注册令牌: the list (GET /v1/operator/tokens: ids and states, never the tokens), a new one-time
 * token for a node with its grade and time to live (POST /v1/operator/tokens: shown on the answer
 * page once, only its hash is kept), and cancelling a node's unused tokens (POST
 * /v1/operator/nodes/:node/tokens/cancel, after the browser's confirmation). Each as the operator,
 * through the API: checked and audited (token.mint, node.tokens.cancel) as there.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { toCsv } from '../../protocol/quality-report.js';
import { callApi } from '../../server/console/api.js';
import type { ListedToken } from '../enrolment-service.js';

const TOKEN_STATUS: Readonly<Record<string, { word: string; colour: string }>> = {
  outstanding: { word: '未使用', colour: 'green' }, used: { word: '已使用', colour: 'grey' }, expired: { word: '已过期', colour: 'amber' }, cancelled: { word: '已取消', colour: 'red' },
};
export const TTL_HOURS = [1, 24, 72, 168, 720] as const;

export async function tokenPages(app: FastifyInstance, opts: { api: FastifyInstance }): Promise<void> {
  const { api } = opts;
  const ctx = api.hubCtx;

  const listed = async (request: FastifyRequest, status = '') =>
    (await callApi<ListedToken[]>(api, request, 'GET', '/v1/operator/tokens')).body.filter((t) => !status || t.status === status);
  const page = async (request: FastifyRequest, extra: Record<string, unknown> = {}, status = '') =>
    ({ pageTitle: '注册令牌', tokens: await listed(request, status), status, statusNames: TOKEN_STATUS, ttls: TTL_HOURS, now: ctx.clock().toISOString(), ...extra });
  const statusSchema = { type: 'string', enum: ['', ...Object.keys(TOKEN_STATUS)] };

  app.get<{ Querystring: { cancelled?: string; n?: number; status?: string } }>(
    '/tokens',
    { schema: { querystring: { type: 'object', properties: { cancelled: { type: 'string', pattern: '^[0-9]{6}$' }, n: { type: 'integer', minimum: 0 }, status: statusSchema } } }, config: { hubApi: 'GET /v1/operator/tokens' } },
    async (request, reply) => reply.page('/hub/console/views/tokens', await page(request, request.query.cancelled ? { cancelled: { node: request.query.cancelled, n: request.query.n ?? 0 } } : {}, request.query.status)),
  );
  app.get<{ Querystring: { status?: string } }>(
    '/tokens.csv',
    { schema: { querystring: { type: 'object', properties: { status: statusSchema } } }, config: { hubApi: 'GET /v1/operator/tokens' } },
    async (request, reply) => {
      const rows = (await listed(request, request.query.status)).map((t) => [t.id, t.nodeId, String(t.grade), TOKEN_STATUS[t.status]?.word ?? t.status, t.createdAt, t.expiresAt, t.usedAt ?? '', t.cancelledAt ?? '']);
      return reply.type('text/csv; charset=utf-8').header('content-disposition', 'attachment; filename="hub-tokens.csv"').send(toCsv([['令牌编号', '节点', '等保等级', '状态', '签发', '有效期至', '使用时间', '取消时间'], ...rows]));
    },
  );

  app.post<{ Body: { node: string; name?: string; grade: number; ttlHours: number } }>(
    '/tokens',
    {
      schema: {
        body: {
          type: 'object', required: ['node', 'grade', 'ttlHours'],
          properties: { node: { type: 'string', pattern: '^[0-9]{6}$' }, name: { type: 'string', maxLength: 100 }, grade: { type: 'integer', minimum: 1, maximum: 4 }, ttlHours: { type: 'integer', enum: [...TTL_HOURS] }, _csrf: { type: 'string' } },
        },
      },
      config: { hubApi: 'POST /v1/operator/tokens' },
    },
    async (request, reply) => {
      const { node, grade, ttlHours } = request.body;
      const name = request.body.name?.trim();
      const made = (await callApi<{ node: string; token: string; expiresAt: string }>(api, request, 'POST', '/v1/operator/tokens', { payload: { node, grade, ttlSeconds: ttlHours * 3600, ...(name ? { name } : {}) } })).body;
      // shown once: this answer is not cached (no-store) and the token is not kept
      return reply.page('/hub/console/views/tokens', await page(request, { issued: { ...made, grade } }));
    },
  );

  app.post<{ Body: { node: string } }>(
    '/tokens/cancel',
    { schema: { body: { type: 'object', required: ['node'], properties: { node: { type: 'string', pattern: '^[0-9]{6}$' }, _csrf: { type: 'string' } } } }, config: { hubApi: 'POST /v1/operator/nodes/:node/tokens/cancel' } },
    async (request, reply) => {
      const r = (await callApi<{ cancelled: number }>(api, request, 'POST', `/v1/operator/nodes/${request.body.node}/tokens/cancel`)).body;
      return reply.redirect(`/tokens?cancelled=${request.body.node}&n=${r.cancelled}`, 303);
    },
  );
}
