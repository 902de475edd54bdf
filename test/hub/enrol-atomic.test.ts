/**
 * Enrolment, renewal and revocation commit together with their audit entry (issue 22): when the
 * audit write fails, the token stays unused, no certificate is registered, the node is not
 * activated or revoked, and the same request succeeds once the log writes again. Before, the token
 * was gone and an active certificate nobody held stayed in the register, with no `node.enrol` entry.
 */
import t from 'tap';
import { createNodeKeys } from '../../certs/node-keys.js';
import { revokeNode } from '../../hub/enrolment-service.js';
import type { AuditLog } from '../../audit/log.js';
import { engines } from '../helpers/db.js';
import { hubFixture } from './fixture.js';

/** Makes the log's in-transaction append fail until the returned function is called. */
function breakRecordIn(audit: AuditLog): () => void {
  const orig = audit.recordIn;
  audit.recordIn = async () => {
    throw new Error('audit store unavailable (test)');
  };
  return () => void (audit.recordIn = orig);
}

for (const engine of await engines()) {
  t.test(`${engine.name}: a failed audit write undoes enrolment and revocation`, async (t) => {
    const f = await hubFixture(t, { engine, config: { renewMinIntervalSeconds: 1 } });
    const ctx = f.hub.app.hubCtx;
    const db = ctx.db;
    const certsOf = async (node: string) => (await db('hub_certs').where({ node_id: node })).length;
    const entries = async (action: string) => (await db('audit_log').where({ action })).length;

    const token = await f.token('430100', 3);
    const { csrPem } = createNodeKeys('430100');
    let fix = breakRecordIn(ctx.audit);
    const failed = await f.call(f.anonymous, 'POST', '/v1/enroll', { token, csrPem });
    t.equal(failed.status, 500, 'answered as an internal error');
    fix();
    t.equal(await certsOf('430100'), 0, 'no certificate registered');
    t.equal((await db('hub_tokens').where({ node_id: '430100' }).first()).used_at, null, 'token still unused');
    t.equal((await db('hub_nodes').where({ node_id: '430100' }).first()).status, 'pending', 'node not activated');
    t.equal(await entries('node.enrol'), 0);
    const ok = await f.call(f.anonymous, 'POST', '/v1/enroll', { token, csrPem });
    t.equal(ok.status, 200, 'the same token enrols once the log writes again');
    t.equal(await certsOf('430100'), 1);
    t.equal(await entries('node.enrol'), 1, 'one node.enrol entry');

    // revocation: nothing changes without its entry
    const node = await f.enrol('430700', 2);
    fix = breakRecordIn(ctx.audit);
    await t.rejects(revokeNode(db, ctx.ca, { nodeId: '430700', reason: 'keyCompromise', audit: ctx.audit }), /audit store unavailable/);
    fix();
    t.equal((await db('hub_nodes').where({ node_id: '430700' }).first()).status, 'active', 'node not revoked');
    t.same((await db('hub_certs').where({ node_id: '430700' })).map((r: { status: string }) => r.status), ['active'], 'certificate still active');
    t.equal((await f.call(node.agent, 'GET', '/v1/distributions?after=0')).status, 200, 'the node is still served');
    await revokeNode(db, ctx.ca, { nodeId: '430700', reason: 'keyCompromise', audit: ctx.audit });
    t.equal(await entries('node.revoke'), 1, 'one node.revoke entry, with the revocation');
    t.equal((await db('hub_nodes').where({ node_id: '430700' }).first()).status, 'revoked');
  });
}
