/**
 * The operator's day-to-day routes behind a session (role `operator`, hub/accounts.ts): the node
 * register, enrolment tokens (list; make one — shown once; cancel a node's unused ones), revocation of a node, and the
 * province-wide data-quality view. The same work `credit hub nodes|token|tokens|revoke|quality`
 * does from the shell; every change audited with the operator, src= and sid=.
 */
import { quality } from '../replica.js';
import type { FastifyInstance } from 'fastify';
import { isRevocationReason, REVOCATION_REASONS, type RevocationReason } from '../../certs/crl.js';
import { HUB_NODE_ID } from '../../certs/issue.js';
import { assertGrade } from '../../certs/tokens.js';
import { QUALITY_REPORT_SCHEMA } from '../../protocol/quality-schema.js';
import { cancelTokens, listTokens, makeToken, revokeNode } from '../enrolment-service.js';
import { nodesStore } from '../nodes-store.js';
import { provinceQuality } from '../quality-service.js';
import type { HubContext } from '../route-context.js';
import { errorSchema } from '../schemas.js';
import { sessionErrors } from './accounts.js';

const MAX_TOKEN_TTL_SECONDS = 30 * 86_400;
const nodeParams = { type: 'object', required: ['node'], properties: { node: { type: 'string', pattern: '^[0-9]{6}$' } } };

export async function operatorRoutes(app: FastifyInstance, opts: { ctx: HubContext }): Promise<void> {
  const { ctx } = opts;
  const { audit } = ctx.operators;

  app.get('/v1/operator/nodes', { schema: { summary: 'the node register: grade, status, certificate expiry, last seen, counters', response: { ...sessionErrors } } }, async () => nodesStore.list(ctx.db));

  app.get('/v1/operator/tokens', { schema: { summary: 'enrolment tokens (ids and status, never the tokens)', response: { ...sessionErrors } } }, async () => listTokens(ctx.ca, ctx.clock()));

  app.post<{ Body: { node: string; grade: number; ttlSeconds?: number; name?: string } }>(
    '/v1/operator/tokens',
    {
      schema: {
        summary: 'make a one-time enrolment token for a node (in the answer once; only its hash is kept)',
        body: {
          type: 'object', required: ['node', 'grade'], additionalProperties: false,
          properties: { node: { type: 'string', pattern: '^[0-9]{6}$' }, grade: { type: 'integer', minimum: 1, maximum: 4 }, ttlSeconds: { type: 'integer', minimum: 60, maximum: MAX_TOKEN_TTL_SECONDS, default: 86_400 }, name: { type: 'string', minLength: 1, maxLength: 100 } },
        },
        response: { 200: { type: 'object', properties: { node: { type: 'string' }, token: { type: 'string' }, expiresAt: { type: 'string' } } }, 400: errorSchema, ...sessionErrors },
      },
    },
    async (request) => {
      const { node, ttlSeconds = 86_400, name } = request.body;
      const grade = assertGrade(request.body.grade);
      const m = await makeToken(ctx.db, ctx.ca, { nodeId: node, grade, ttlMs: ttlSeconds * 1000, now: ctx.clock(), ...(name === undefined ? {} : { name: name.trim() }) });
      await audit.record({ action: 'token.mint', actor: request.operator!.actor, actorNode: HUB_NODE_ID, object: `node:${node}`, outcome: 'success', reason: `grade=${grade} expires=${m.expiresAt.toISOString()}` });
      return { node, token: m.token, expiresAt: m.expiresAt.toISOString() };
    },
  );

  app.post<{ Params: { node: string } }>(
    '/v1/operator/nodes/:node/tokens/cancel',
    {
      schema: {
        summary: "cancel the node's unused enrolment tokens (they answer ERR_TOKEN_CANCELLED from then on); as `credit hub tokens cancel`",
        params: nodeParams,
        response: { 200: { type: 'object', properties: { node: { type: 'string' }, cancelled: { type: 'integer' } } }, 400: errorSchema, ...sessionErrors },
      },
    },
    async (request) => ({ node: request.params.node, cancelled: await cancelTokens(ctx.ca, { nodeId: request.params.node, audit, actor: request.operator!.actor, now: ctx.clock() }) }),
  );

  app.post<{ Params: { node: string }; Body: { reason?: RevocationReason } }>(
    '/v1/operator/nodes/:node/revoke',
    {
      schema: {
        summary: "cut a node off: its certificates revoked, unused tokens cancelled (effective on its next request)",
        params: nodeParams,
        body: { type: 'object', additionalProperties: false, properties: { reason: { type: 'string', enum: [...REVOCATION_REASONS] } } },
        response: { 200: { type: 'object', properties: { node: { type: 'string' }, revoked: { type: 'array', items: { type: 'string' } } } }, 400: errorSchema, ...sessionErrors },
      },
    },
    async (request) => {
      const reason = request.body?.reason ?? 'keyCompromise';
      if (!isRevocationReason(reason)) throw new TypeError('unreachable: the schema checks the reason');
      const revoked = await revokeNode(ctx.db, ctx.ca, { nodeId: request.params.node, reason, audit, actor: request.operator!.actor, now: ctx.clock() });
      return { node: request.params.node, revoked };
    },
  );

  app.get<{ Querystring: { month?: string } }>(
    '/v1/operator/quality',
    { schema: { summary: 'the province-wide data-quality indicators and the 市州 ranking (docs/quality.md)', querystring: { type: 'object', additionalProperties: false, properties: { month: { type: 'string', pattern: '^[0-9]{4}-[0-9]{2}$' } } }, response: { 200: QUALITY_REPORT_SCHEMA, ...sessionErrors } } },
    async (request) => quality(ctx, (db) => provinceQuality(db, { now: ctx.clock(), ...(request.query.month ? { month: request.query.month } : {}) })),
  );
}
