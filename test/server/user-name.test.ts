/**
 * One user-name rule for node and hub (review of issue 18): server/user-name.ts, applied by the
 * command line, the HTTP routes that name a user, the users service and the store.
 */
import t from 'tap';
import { hubAccounts } from '../../hub/accounts.js';
import { nodeAccounts } from '../../node/users-store.js';
import { isUserName, USER_NAME_PATTERN } from '../../server/user-name.js';
import { hubAccountsFixture } from '../hub/accounts-fixture.js';
import { accountsFixture } from '../node/accounts-fixture.js';

const GOOD = ['li.na', 'zhang_wei', 'ops@430000', 'a', 'x'.repeat(64), 'import-robot'];
const BAD = ['', 'li na', 'x'.repeat(65), '张伟', 'a/b', 'a\u0000', 'user:li', ' li'];

t.test('the rule', async (t) => {
  for (const n of GOOD) t.ok(isUserName(n), n);
  for (const n of BAD) t.notOk(isUserName(n), JSON.stringify(n));
  t.notOk(isUserName(42));
  t.ok(USER_NAME_PATTERN.test('li.na'));
});

t.test('node: service, store and HTTP refuse a bad name', async (t) => {
  const f = await accountsFixture(t);
  await t.rejects(f.users.add('cli:test@host', 'li na', 'officer', 'public'), { code: 'ERR_REQUEST_INVALID' });
  await t.rejects(nodeAccounts.insertUser(f.db, f.config.totpKey, { name: 'li na', role: 'officer', clearance: 'public', passwordHash: 'x', totpSecret: 'x', passwordSetAt: new Date().toISOString() }, new Date()), { code: 'ERR_REQUEST_INVALID' });
  t.equal((await f.db('node_users').where({ name: 'li na' })).length, 0);
  const sys = await f.addUser('sys1', 'sysadmin', 'public');
  const h = await f.session('sys1', sys.password, sys.secret);
  const r = await f.app.inject({ method: 'POST', url: `/v1/users/${encodeURIComponent('li na')}/disable`, headers: h });
  t.equal(r.statusCode, 400);
  t.equal(r.json().code, 'ERR_REQUEST_INVALID');
});

t.test('hub: service, store and HTTP refuse a bad name', async (t) => {
  const f = await hubAccountsFixture(t);
  await t.rejects(f.users.add('cli:test@host', 'zhang wei', 'operator', 'none'), { code: 'ERR_REQUEST_INVALID' });
  await t.rejects(hubAccounts.insertUser(f.db, Buffer.alloc(32), { name: 'zhang wei', role: 'operator', clearance: 'none', passwordHash: 'x', totpSecret: 'x', passwordSetAt: new Date().toISOString() }, new Date()), { code: 'ERR_REQUEST_INVALID' });
  const sys = await f.addUser('sys1', 'sysadmin');
  const h = await f.session('sys1', sys.password, sys.secret);
  const r = await f.app.inject({ method: 'POST', url: `/v1/users/${encodeURIComponent('zhang wei')}/disable`, headers: h });
  t.equal(r.statusCode, 400);
  t.equal(r.json().code, 'ERR_REQUEST_INVALID');
});
