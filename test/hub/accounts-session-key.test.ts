/**
 * The hub's session signing key (review of issue 18): derived with HKDF-SHA256 from DATADIR/totp.key
 * (info `credit hub session jwt v1`), never stored in the database — whoever reads the store cannot
 * forge an operator session with a key found there.
 */
import { createHmac, hkdfSync } from 'node:crypto';
import t from 'tap';
import { hubTotpKey } from '../../hub/accounts.js';
import { hubAccountsFixture } from './accounts-fixture.js';

t.test('no session key in hub_settings; tokens are signed with HKDF(totp.key)', async (t) => {
  const f = await hubAccountsFixture(t);
  t.notOk(await f.db('hub_settings').where({ name: 'session_jwt_key' }).first(), 'no session_jwt_key row');
  const u = await f.addUser('ops1', 'operator');
  const { authorization } = await f.session('ops1', u.password, u.secret);
  const token = authorization.replace(/^Bearer /, '');
  const [h, p, s] = token.split('.') as [string, string, string];
  const key = Buffer.from(hkdfSync('sha256', hubTotpKey(f.config.dataDir), Buffer.alloc(0), 'credit hub session jwt v1', 32));
  t.equal(createHmac('sha256', key).update(`${h}.${p}`).digest('base64url'), s, 'HS256 under the derived key');
  for (const row of await f.db('hub_settings').select('name', 'value')) t.not(Buffer.from(String(row.value), 'base64').toString('hex'), key.toString('hex'), `${row.name} is not the session key`);
});

t.test('a session_jwt_key planted in the database (an older hub) signs nothing that is accepted', async (t) => {
  const f = await hubAccountsFixture(t);
  const u = await f.addUser('ops2', 'operator');
  const { authorization } = await f.session('ops2', u.password, u.secret);
  const [h, p] = authorization.replace(/^Bearer /, '').split('.') as [string, string];
  const planted = Buffer.alloc(32, 7);
  const forged = `${h}.${p}.${createHmac('sha256', planted).update(`${h}.${p}`).digest('base64url')}`;
  await f.db('hub_settings').insert({ name: 'session_jwt_key', value: planted.toString('base64') }).onConflict('name').merge();
  const r = await f.app.inject({ method: 'GET', url: '/v1/operator/nodes', headers: { authorization: `Bearer ${forged}` } });
  t.equal(r.statusCode, 401);
});
