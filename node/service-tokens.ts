/**
 * Service tokens from the command line (`credit node token`, `credit node tokens list|revoke`) and
 * the store beside a node's config: the store is opened (created and migrated first when the node
 * has not run yet, as start-up would), the change is made and audited as the operator
 * (audit/operator.ts: actor cli:<user>@<host>, src=), and the store is closed.
 */
import type { Knex } from 'knex';
import { connect } from '../audit/knex-connect.js';
import { migrateParts, storeLabel } from '../audit/migration-plan.js';
import { withOperatorAudit } from '../audit/operator.js';
import type { AuditSink } from '../audit/types.js';
import { probeStore } from '../audit/start-checks.js';
import type { NodeConfig } from './config.js';
import { NODE_SCHEMA } from './migrations.js';
import { sessionIdOf } from '../server/credentials.js';
import { endSession, findSession, findSessionById, listSessions, type Session } from './sessions-store.js';
import { mintServiceToken, type TokenRequest } from './tokens.js';
import { nodeError } from './errors.js';
import { findUser, sealClearSecrets } from './users-store.js';

/** Runs `fn` on the node's store (migrated) with the operator's audit sink. */
export async function withNodeStore<T>(config: NodeConfig, fn: (db: Knex, audit: AuditSink, actor: string) => Promise<T>): Promise<T> {
  const target = config.databaseTarget;
  const db = await connect(target);
  try {
    await probeStore(db, target);
    await migrateParts(db, NODE_SCHEMA, storeLabel(target));
    await sealClearSecrets(db, config.totpKey);
    return await withOperatorAudit(db, (audit, actor) => fn(db, audit, actor));
  } finally {
    await db.destroy();
  }
}

/** Mints a service token recorded in the node's store; the minting is audited (`user.token.mint`, with its session id, never the jti). */
export async function mintServiceTokenFor(config: NodeConfig, req: TokenRequest, now: Date = new Date()): Promise<{ token: string; jti: string; expiresAt: string }> {
  return withNodeStore(config, async (db, audit, actor) => {
    // a person's name never gets a token that skips their password and TOTP
    if (await findUser(db, req.user)) {
      await audit.record({ action: 'user.token.mint', actor, actorNode: config.nodeId, object: `user:${req.user}`, outcome: 'failure', reason: 'ERR_USER_EXISTS' });
      throw nodeError('ERR_USER_EXISTS', `「${req.user}」是登录用户，不是服务账户：服务令牌只发给服务账户 [ERR_USER_EXISTS]`, { user: req.user });
    }
    const minted = await mintServiceToken(db, config.jwtSecret, config.nodeId, req, now);
    await audit.record({ action: 'user.token.mint', actor, actorNode: config.nodeId, object: `user:${req.user}`, outcome: 'success', reason: `id=${sessionIdOf(minted.jti)} role=${req.role} clearance=${req.clearance} ttl=${req.ttlSeconds}s` });
    return minted;
  });
}

export async function listServiceTokens(config: NodeConfig, all = false): Promise<Session[]> {
  return withNodeStore(config, (db) => listSessions(db, 'service', { all }));
}

/**
 * Revokes one service token (audited, `user.token.revoke`), named by its id as listed (16 hex
 * digits) or by the token's jti; false when it is unknown or already ended. The audit entry names
 * the id, never the jti.
 */
export async function revokeServiceToken(config: NodeConfig, ref: { id: string } | { jti: string }): Promise<boolean> {
  return withNodeStore(config, async (db, audit, actor) => {
    const byId = 'id' in ref ? await findSessionById(db, ref.id) : undefined;
    const s = 'id' in ref ? byId : await findSession(db, ref.jti);
    const named = 'id' in ref ? ref.id : sessionIdOf(ref.jti);
    const which = 'id' in ref ? (byId ? { hash: byId.hash } : undefined) : ref.jti;
    const ok = s?.kind === 'service' && which !== undefined && (await endSession(db, which, 'revoked', new Date()));
    await audit.record({ action: 'user.token.revoke', actor, actorNode: config.nodeId, object: s ? `user:${s.user}` : `session:${named.slice(0, 64)}`, outcome: ok ? 'success' : 'failure', reason: ok ? `id=${s.id}` : `id=${named.slice(0, 64)} unknown or ended` });
    return ok;
  });
}
