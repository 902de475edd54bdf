/**
 * 三权分立 over HTTP (review of issue 18): a sysadmin cannot disable itself, the secadmin or the
 * auditor through POST /v1/users/:name/disable (403 ERR_ROLE_ADMIN_DUTY, audited); other accounts
 * it can. The command line (`credit node|hub user disable|reset`) stays the audited break-glass.
 */
import t from 'tap';
import { hubAccountsFixture } from '../hub/accounts-fixture.js';
import { accountsFixture } from '../node/accounts-fixture.js';

t.test('node', async (t) => {
  const f = await accountsFixture(t);
  const sys = await f.addUser('sys1', 'sysadmin', 'public');
  await f.enrol('sec1', 'secadmin', 'public');
  await f.enrol('aud1', 'auditor', 'public');
  await f.enrol('off1', 'officer', 'restricted');
  const h = await f.session('sys1', sys.password, sys.secret);
  for (const name of ['sys1', 'sec1', 'aud1']) {
    const r = await f.app.inject({ method: 'POST', url: `/v1/users/${name}/disable`, headers: h });
    t.equal(r.statusCode, 403, name);
    t.equal(r.json().code, 'ERR_ROLE_ADMIN_DUTY', name);
  }
  t.equal((await f.app.inject({ method: 'POST', url: '/v1/users/off1/disable', headers: h })).statusCode, 200, 'an officer may be disabled');
  t.same((await f.db('node_users').where({ disabled: true }).pluck('name')), ['off1']);
  const refused = await f.db('audit_log').where({ action: 'user.disable', outcome: 'failure' }).orderBy('seq');
  t.same(refused.map((e: { object: string; actor: string }) => `${e.actor} ${e.object}`), ['user:sys1 user:sys1', 'user:sys1 user:sec1', 'user:sys1 user:aud1'], 'refusals audited');
  // the break-glass: the command line may, audited
  await f.users.disable('cli:root@host', 'sec1');
  await f.users.reset('cli:root@host', 'aud1');
  const glass = await f.db('audit_log').whereIn('action', ['user.disable', 'user.reset']).andWhere({ actor: 'cli:root@host' }).orderBy('seq');
  t.same(glass.map((e: { action: string; outcome: string }) => `${e.action} ${e.outcome}`), ['user.disable success', 'user.reset success']);
  t.ok(glass.every((e: { reason: string }) => /break-glass/.test(e.reason)), 'marked as break-glass');
});

t.test('hub', async (t) => {
  const f = await hubAccountsFixture(t);
  const sys = await f.addUser('sys1', 'sysadmin');
  await f.enrol('sec1', 'secadmin');
  await f.enrol('aud1', 'auditor');
  await f.enrol('ops1', 'operator');
  const h = await f.session('sys1', sys.password, sys.secret);
  for (const name of ['sys1', 'sec1', 'aud1']) {
    const r = await f.app.inject({ method: 'POST', url: `/v1/users/${name}/disable`, headers: h });
    t.equal(r.statusCode, 403, name);
    t.equal(r.json().code, 'ERR_ROLE_ADMIN_DUTY', name);
  }
  t.equal((await f.app.inject({ method: 'POST', url: '/v1/users/ops1/disable', headers: h })).statusCode, 200, 'an operator may be disabled');
  await f.users.disable('cli:root@host', 'aud1');
  t.same((await f.db('hub_users').where({ disabled: true }).orderBy('name').pluck('name')), ['aud1', 'ops1']);
});
