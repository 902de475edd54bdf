/**
 * Sessions at rest (review of issue 18): a session row holds SHA-256(jti), never the jti itself, so
 * a reader of the database cannot replay a session; listings show a 16-hex id derived from that
 * hash, and every `sid=` in the audit log is that id — node and hub alike.
 */
import { createHash } from 'node:crypto';
import t from 'tap';
import { hubAccountsFixture } from '../hub/accounts-fixture.js';
import { accountsFixture } from '../node/accounts-fixture.js';

const jtiOf = (authorization: string): string => JSON.parse(Buffer.from(authorization.split('.')[1]!, 'base64url').toString('utf8')).jti;
const sha = (s: string) => createHash('sha256').update(s).digest('hex');

async function checkStore(t: { ok(v: unknown, m: string): void; notOk(v: unknown, m: string): void }, db: import('knex').Knex, table: string, jti: string) {
  const rows = await db(table).select('*');
  t.ok(rows.length > 0, `${table} has rows`);
  t.notOk(JSON.stringify(rows).includes(jti), `${table} holds no raw jti`);
  t.ok(rows.some((r: Record<string, unknown>) => r.jti_hash === sha(jti)), `${table}.jti_hash is SHA-256(jti)`);
  const audit = await db('audit_log').select('reason');
  t.notOk(JSON.stringify(audit).includes(jti), 'no audit entry holds the jti');
  t.ok(audit.some((e: { reason: string | null }) => e.reason?.endsWith(`sid=${sha(jti).slice(0, 16)}`)), 'sid= is the 16-hex id');
}

t.test('node', async (t) => {
  const f = await accountsFixture(t);
  const admin = await f.addUser('sys1', 'sysadmin', 'public');
  const h = await f.session('sys1', admin.password, admin.secret);
  const listed = await f.app.inject({ method: 'GET', url: '/v1/sessions', headers: h });
  t.equal(listed.statusCode, 200);
  const jti = jtiOf(h.authorization);
  t.same(listed.json().map((s: { id: string }) => s.id), [sha(jti).slice(0, 16)], 'listing shows the short id');
  t.notOk(listed.body.includes(jti), 'listing holds no jti');
  await checkStore(t, f.db, 'node_sessions', jti);
  t.equal((await f.app.inject({ method: 'POST', url: '/v1/logout', headers: h })).statusCode, 204, 'logout finds the session by its hash');
  t.equal((await f.app.inject({ method: 'GET', url: '/v1/sessions', headers: h })).json().code, 'ERR_SESSION_ENDED');
});

t.test('hub', async (t) => {
  const f = await hubAccountsFixture(t);
  const admin = await f.addUser('sys1', 'sysadmin');
  const h = await f.session('sys1', admin.password, admin.secret);
  const listed = await f.app.inject({ method: 'GET', url: '/v1/sessions', headers: h });
  t.equal(listed.statusCode, 200);
  const jti = jtiOf(h.authorization);
  t.same(listed.json().map((s: { id: string }) => s.id), [sha(jti).slice(0, 16)], 'listing shows the short id');
  t.notOk(listed.body.includes(jti), 'listing holds no jti');
  await checkStore(t, f.db, 'hub_sessions', jti);
  t.equal((await f.app.inject({ method: 'POST', url: '/v1/logout', headers: h })).statusCode, 204);
  t.equal((await f.app.inject({ method: 'GET', url: '/v1/sessions', headers: h })).json().code, 'ERR_SESSION_ENDED');
});
