/**
 * A role refusal (ERR_ROLE_DENIED, 403) is audited under the authenticated user (`user:<name>`),
 * not the source address (review of issue 18) — hub and node.
 */
import t from 'tap';
import { hubAccountsFixture } from '../hub/accounts-fixture.js';
import { accountsFixture } from '../node/accounts-fixture.js';

t.test('hub: a sysadmin refused an operator route is audited as user:<name>', async (t) => {
  const f = await hubAccountsFixture(t);
  const u = await f.addUser('sys.wang', 'sysadmin');
  const h = await f.session('sys.wang', u.password, u.secret);
  const r = await f.app.inject({ method: 'GET', url: '/v1/operator/nodes', headers: h, remoteAddress: '10.9.8.7' });
  t.equal(r.json().code, 'ERR_ROLE_DENIED');
  const e = await f.db('audit_log').where('reason', 'like', 'ERR_ROLE_DENIED%').orderBy('seq', 'desc').first();
  t.ok(e, 'audited');
  t.equal(e.actor, 'user:sys.wang');
  t.equal(e.object, 'GET /v1/operator/nodes');
  t.match(e.reason, /^ERR_ROLE_DENIED src=10\.9\.8\.7 sid=[0-9a-f]{16}$/, 'the source address and session are kept');
});

t.test('node: an auditor refused a record route is audited as user:<name>', async (t) => {
  const f = await accountsFixture(t);
  const u = await f.addUser('aud.li', 'auditor', 'public');
  const h = await f.session('aud.li', u.password, u.secret);
  const r = await f.app.inject({ method: 'GET', url: '/v1/records/abc', headers: h, remoteAddress: '10.9.8.7' });
  t.equal(r.json().code, 'ERR_ROLE_DENIED');
  const e = await f.db('audit_log').where('reason', 'like', 'ERR_ROLE_DENIED%').orderBy('seq', 'desc').first();
  t.ok(e, 'audited');
  t.equal(e.actor, 'user:aud.li');
});
