/**
 * 账户与会话 for the admin duties (三权分立): the operator register (GET /v1/users: sysadmin and
 * secadmin), live sessions (GET /v1/sessions: sysadmin) and disabling an account (POST
 * /v1/users/:name/disable: sysadmin, after the browser's confirmation), each through the API as
 * the signed-in user. Accounts are added and given roles with `credit hub user add` only.
 */
import type { FastifyInstance } from 'fastify';
import { ROLE_NAMES } from '../../server/console/messages.js';
import { callApi } from '../../server/console/api.js';
import { mayUseHubRoute } from '../accounts.js';
import { operatorOf } from './app.js';

export async function userPages(app: FastifyInstance, opts: { api: FastifyInstance }): Promise<void> {
  const { api } = opts;
  app.get<{ Querystring: { disabled?: string } }>('/users', { schema: { querystring: { type: 'object', properties: { disabled: { type: 'string', maxLength: 64 } } } }, config: { hubApi: 'GET /v1/users' } }, async (request, reply) => {
    const { role } = operatorOf(request);
    const users = (await callApi<{ name: string; role: string; disabled: boolean; passwordSetAt: string; createdAt: string }[]>(api, request, 'GET', '/v1/users')).body;
    const sessions = mayUseHubRoute(role, 'GET', '/v1/sessions') ? (await callApi<Record<string, string>[]>(api, request, 'GET', '/v1/sessions')).body : null;
    return reply.page('/hub/console/views/users', { pageTitle: '账户与会话', users, sessions, roleNames: ROLE_NAMES, mayDisable: mayUseHubRoute(role, 'POST', '/v1/users/:name/disable'), disabled: request.query.disabled });
  });
  app.post<{ Params: { name: string } }>(
    '/users/:name/disable',
    { schema: { params: { type: 'object', required: ['name'], properties: { name: { type: 'string', minLength: 1, maxLength: 64 } } } }, config: { hubApi: 'POST /v1/users/:name/disable' } },
    async (request, reply) => {
      await callApi(api, request, 'POST', `/v1/users/${encodeURIComponent(request.params.name)}/disable`);
      return reply.redirect(`/users?disabled=${encodeURIComponent(request.params.name)}`, 303);
    },
  );
}
