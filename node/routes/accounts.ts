/**
 * Accounts over HTTP (issue 18): POST /v1/login and /v1/password (no token: both factors in the
 * body), POST /v1/logout, and the admin roles' own routes — GET /v1/users (sysadmin, secadmin),
 * POST /v1/users/:name/disable (sysadmin), POST /v1/users/:name/authorize (secadmin),
 * GET /v1/sessions (sysadmin), GET /v1/audit/export (auditor: the signed NDJSON bundle).
 */
import type { FastifyInstance } from 'fastify';
import { exportBundle, toNdjson } from '../../audit/index.js';
import { CLASSIFICATIONS, type Classification } from '../../protocol/classification.js';
import { ROLES, type Role } from '../access.js';
import type { NodeContext } from '../context.js';
import type { Credentials, LoginService } from '../login-service.js';
import { listSessions } from '../sessions-store.js';
import type { UsersService } from '../users-service.js';
import { authErrors, errorSchema } from '../schemas.js';
import { USER_NAME_SCHEMA } from '../../server/user-name.js';

const err = (description: string) => ({ description, ...errorSchema });
const credentials = {
  user: { type: 'string', minLength: 1, maxLength: 64 },
  password: { type: 'string', minLength: 1, maxLength: 256 },
  otp: { type: 'string', minLength: 1, maxLength: 16, description: 'the current 6-digit TOTP code' },
} as const;

const loginSchema = {
  summary: 'log in with password and TOTP code: a short access token bound to a server-side session',
  tags: ['accounts'],
  security: [],
  body: { type: 'object', required: ['user', 'password', 'otp'], additionalProperties: false, properties: credentials },
  response: {
    200: {
      type: 'object',
      properties: { token: { type: 'string' }, tokenType: { type: 'string' }, expiresAt: { type: 'string' }, idleTimeoutSeconds: { type: 'integer' }, role: { type: 'string' }, clearance: { type: 'string' } },
    },
    400: err('ERR_REQUEST_INVALID'),
    401: err('ERR_LOGIN_FAILED (the same answer whatever was wrong)'),
    403: err('ERR_PASSWORD_EXPIRED'),
    423: err('ERR_ACCOUNT_LOCKED'),
    429: err('ERR_RATE_LIMITED'),
  },
};

const passwordSchema = {
  summary: 'change the password (both factors of the current one; also when it has expired); ends every session of the user',
  tags: ['accounts'],
  security: [],
  body: { type: 'object', required: ['user', 'password', 'otp', 'newPassword'], additionalProperties: false, properties: { ...credentials, newPassword: { type: 'string', minLength: 1, maxLength: 256 } } },
  response: { 204: { type: 'null' }, 401: err('ERR_LOGIN_FAILED'), 422: err('ERR_PASSWORD_WEAK'), 423: err('ERR_ACCOUNT_LOCKED'), 429: err('ERR_RATE_LIMITED') },
};

const userView = {
  type: 'object',
  properties: { name: { type: 'string' }, role: { type: 'string' }, clearance: { type: 'string' }, disabled: { type: 'boolean' }, passwordSetAt: { type: 'string' }, createdAt: { type: 'string' } },
};
const nameParams = { type: 'object', required: ['name'], properties: { name: USER_NAME_SCHEMA } };

/** The routes that take no token. */
export async function loginRoutes(app: FastifyInstance, opts: { login: LoginService }): Promise<void> {
  app.post<{ Body: Credentials }>('/login', { schema: loginSchema }, async (request) => opts.login.login(request.body, request.ip));
  app.post<{ Body: Credentials & { newPassword: string } }>('/password', { schema: passwordSchema }, async (request, reply) => {
    await opts.login.changePassword(request.body, request.ip);
    return reply.status(204).send();
  });
}

/** The routes that need a session (inside the /v1 authentication hook). */
export async function accountRoutes(app: FastifyInstance, opts: { ctx: NodeContext; login: LoginService; users: UsersService }): Promise<void> {
  const { ctx, login, users } = opts;
  const authorize = (caller: Parameters<NodeContext['records']['authorize']>[0], action: Parameters<NodeContext['records']['authorize']>[1], object: string) => ctx.records.authorize(caller, action, object);

  app.post('/logout', { schema: { summary: 'end this session', tags: ['accounts'], response: { 204: { type: 'null' }, ...authErrors } } }, async (request, reply) => {
    await login.logout(request.caller.actor.replace(/^user:/, ''), request.sessionId);
    return reply.status(204).send();
  });

  app.get('/users', { schema: { summary: 'the user register (no secrets)', tags: ['accounts'], response: { 200: { type: 'array', items: userView }, ...authErrors } } }, async (request) => {
    if (request.caller.role !== 'secadmin') await authorize(request.caller, 'user.manage', 'users');
    return users.list();
  });

  app.post<{ Params: { name: string } }>('/users/:name/disable', { schema: { summary: 'disable a user: refused at once, live sessions included', tags: ['accounts'], params: nameParams, response: { 200: { type: 'object', properties: { sessionsEnded: { type: 'integer' } } }, 404: err('ERR_USER_NOT_FOUND'), ...authErrors } } }, async (request) => {
    await authorize(request.caller, 'user.manage', `user:${request.params.name}`);
    return { sessionsEnded: await users.disable(request.caller.actor, request.params.name, request.caller.role) };
  });

  app.post<{ Params: { name: string }; Body: { role: Role; clearance: Classification } }>(
    '/users/:name/authorize',
    {
      schema: {
        summary: "set a user's role and clearance (secadmin; not one's own); the user's sessions end",
        tags: ['accounts'],
        params: nameParams,
        body: { type: 'object', required: ['role', 'clearance'], additionalProperties: false, properties: { role: { type: 'string', enum: [...ROLES] }, clearance: { type: 'string', enum: [...CLASSIFICATIONS] } } },
        response: { 200: userView, 404: err('ERR_USER_NOT_FOUND'), ...authErrors },
      },
    },
    async (request) => {
      await authorize(request.caller, 'user.authorize', `user:${request.params.name}`);
      return users.authorize(request.caller.actor, request.params.name, request.body.role, request.body.clearance);
    },
  );

  app.get('/sessions', { schema: { summary: 'live login sessions and service tokens', tags: ['accounts'], response: { ...authErrors } } }, async (request) => {
    await authorize(request.caller, 'user.manage', 'sessions');
    const rows = [...(await listSessions(ctx.db, 'login')), ...(await listSessions(ctx.db, 'service'))];
    return rows.map((s) => ({ id: s.id, kind: s.kind, user: s.user, role: s.role, clearance: s.clearance, issuedAt: s.issuedAt, expiresAt: s.expiresAt, lastSeenAt: s.lastSeenAt, source: s.source }));
  });

  app.get<{ Querystring: { from?: number; to?: number } }>(
    '/audit/export',
    {
      schema: {
        summary: 'the audit log as a signed export bundle (NDJSON; `credit audit verify` checks it offline)',
        tags: ['audit'],
        querystring: { type: 'object', additionalProperties: false, properties: { from: { type: 'integer', minimum: 1 }, to: { type: 'integer', minimum: 1 } } },
        response: { 409: err('ERR_AUDIT_NO_CHECKPOINT: nothing signed yet'), ...authErrors },
      },
    },
    async (request, reply) => {
      await authorize(request.caller, 'audit.export', 'audit');
      await (ctx.audit as { checkpoint?: () => Promise<unknown> }).checkpoint?.(); // signs up to now when the log has a signer
      const r = await exportBundle(ctx.db, { ...(request.query.from ? { from: request.query.from } : {}), ...(request.query.to ? { to: request.query.to } : {}) });
      await ctx.audit.record({ actor: request.caller.actor, actorNode: ctx.config.nodeId, action: 'audit.export', object: `seq:${r.from}-${r.to}`, outcome: 'success' });
      return reply.type('application/x-ndjson').send(toNdjson(r.lines));
    },
  );
}
