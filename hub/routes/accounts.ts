/**
 * Operator accounts over HTTP (issue 18): POST /v1/login and /v1/password (no token: both factors
 * in the body), and behind a session (hub/accounts.ts operatorAuth): POST /v1/logout, GET
 * /v1/users (sysadmin, secadmin), POST /v1/users/:name/disable and GET /v1/sessions (sysadmin),
 * GET /v1/audit/export (auditor: the hub's audit log as a signed NDJSON bundle). The roles' routes
 * are hub/accounts.ts HUB_ROLE_ROUTES.
 */
import type { FastifyInstance } from 'fastify';
import { exportBundle, toNdjson } from '../../audit/index.js';
import { HUB_NODE_ID } from '../../certs/issue.js';
import type { Credentials } from '../../server/login-service.js';
import { hubAccounts } from '../accounts.js';
import type { HubContext } from '../route-context.js';
import { errorSchema } from '../schemas.js';
import { USER_NAME_SCHEMA } from '../../server/user-name.js';

const credentials = {
  user: { type: 'string', minLength: 1, maxLength: 64 },
  password: { type: 'string', minLength: 1, maxLength: 256 },
  otp: { type: 'string', minLength: 1, maxLength: 16, description: 'the current 6-digit TOTP code' },
} as const;

export const sessionErrors = { 401: errorSchema, 403: errorSchema } as const;

const userView = {
  type: 'object',
  properties: { name: { type: 'string' }, role: { type: 'string' }, disabled: { type: 'boolean' }, passwordSetAt: { type: 'string' }, createdAt: { type: 'string' } },
};

/** The routes that take no token. */
export async function hubLoginRoutes(app: FastifyInstance, opts: { ctx: HubContext }): Promise<void> {
  const { login } = opts.ctx.operators;
  app.post<{ Body: Credentials }>(
    '/v1/login',
    {
      schema: {
        summary: 'operator login with password and TOTP code: a short access token bound to a server-side session',
        body: { type: 'object', required: ['user', 'password', 'otp'], additionalProperties: false, properties: credentials },
        response: {
          200: { type: 'object', properties: { token: { type: 'string' }, tokenType: { type: 'string' }, expiresAt: { type: 'string' }, idleTimeoutSeconds: { type: 'integer' }, role: { type: 'string' } } },
          400: errorSchema, 401: errorSchema, 403: errorSchema, 423: errorSchema, 429: errorSchema,
        },
      },
    },
    async (request) => login.login(request.body, request.ip),
  );
  app.post<{ Body: Credentials & { newPassword: string } }>(
    '/v1/password',
    {
      schema: {
        summary: 'change the password (both factors of the current one; also when it has expired); ends every session of the user',
        body: { type: 'object', required: ['user', 'password', 'otp', 'newPassword'], additionalProperties: false, properties: { ...credentials, newPassword: { type: 'string', minLength: 1, maxLength: 256 } } },
        response: { 204: { type: 'null' }, 400: errorSchema, 401: errorSchema, 422: errorSchema, 423: errorSchema, 429: errorSchema },
      },
    },
    async (request, reply) => {
      await login.changePassword(request.body, request.ip);
      return reply.status(204).send();
    },
  );
}

/** The account routes that need a session (registered inside the operatorAuth hook). */
export async function hubAccountRoutes(app: FastifyInstance, opts: { ctx: HubContext }): Promise<void> {
  const { ctx } = opts;
  const { login, users, audit } = ctx.operators;

  app.post('/v1/logout', { schema: { summary: 'end this session', response: { 204: { type: 'null' }, ...sessionErrors } } }, async (request, reply) => {
    const op = request.operator!;
    await login.logout(op.actor.replace(/^user:/, ''), op.sessionId);
    return reply.status(204).send();
  });

  app.get('/v1/users', { schema: { summary: 'the operator register (no secrets)', response: { 200: { type: 'array', items: userView }, ...sessionErrors } } }, async () =>
    (await users.list()).map(({ clearance: _none, ...u }) => u),
  );

  app.post<{ Params: { name: string } }>(
    '/v1/users/:name/disable',
    { schema: { summary: 'disable an operator account: refused at once, live sessions included', params: { type: 'object', required: ['name'], properties: { name: USER_NAME_SCHEMA } }, response: { 200: { type: 'object', properties: { sessionsEnded: { type: 'integer' } } }, 404: errorSchema, ...sessionErrors } } },
    async (request) => ({ sessionsEnded: await users.disable(request.operator!.actor, request.params.name, request.operator!.role) }),
  );

  app.get('/v1/sessions', { schema: { summary: 'live operator sessions', response: { ...sessionErrors } } }, async () =>
    (await hubAccounts.listSessions(ctx.db, 'login')).map((s) => ({ id: s.id, user: s.user, role: s.role, issuedAt: s.issuedAt, expiresAt: s.expiresAt, lastSeenAt: s.lastSeenAt, source: s.source })),
  );

  app.get<{ Querystring: { from?: number; to?: number } }>(
    '/v1/audit/export',
    {
      schema: {
        summary: "the hub's audit log as a signed export bundle (NDJSON; `credit audit verify` checks it offline)",
        querystring: { type: 'object', additionalProperties: false, properties: { from: { type: 'integer', minimum: 1 }, to: { type: 'integer', minimum: 1 } } },
        response: { 409: errorSchema, ...sessionErrors },
      },
    },
    async (request, reply) => {
      await ctx.audit.checkpoint(); // signs up to now
      const r = await exportBundle(ctx.db, { ...(request.query.from ? { from: request.query.from } : {}), ...(request.query.to ? { to: request.query.to } : {}) });
      await audit.record({ actor: request.operator!.actor, actorNode: HUB_NODE_ID, action: 'audit.export', object: `seq:${r.from}-${r.to}`, outcome: 'success' });
      return reply.type('application/x-ndjson').send(toNdjson(r.lines));
    },
  );
}
