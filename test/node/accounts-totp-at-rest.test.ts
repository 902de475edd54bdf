/**
 * TOTP secrets at rest (issue 18): node_users.totp_secret holds the secret sealed with AES-256-GCM
 * under DATADIR/totp.key, bound to its row; a secret written in clear (before this) is sealed by
 * the data migration every start and command runs; another key opens nothing.
 */
import t from 'tap';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { loginService } from '../../node/login-service.js';
import { sealClearSecrets } from '../../node/users-store.js';
import { accountsFixture } from './accounts-fixture.js';

t.test('the column holds no base32 secret; the key file is 0600', async (t) => {
  const f = await accountsFixture(t);
  const { secret } = await f.addUser('he', 'query', 'public');
  const row = await f.db('node_users').where({ name: 'he' }).first();
  t.match(row.totp_secret, /^totp1:[A-Za-z0-9_-]+$/);
  t.notOk(row.totp_secret.includes(secret));
  t.notMatch(row.totp_secret, /^[A-Z2-7]+=*$/);
  t.equal(statSync(join(f.config.dataDir, 'totp.key')).mode & 0o777, 0o600);
});

t.test('a secret stored in clear is sealed by the migration, and logins go on working', async (t) => {
  const f = await accountsFixture(t);
  const { password, secret } = await f.addUser('lv', 'query', 'public');
  await f.db('node_users').where({ name: 'lv' }).update({ totp_secret: secret }); // as 020_accounts stored it
  f.advance(30_000);
  t.equal((await f.login({ user: 'lv', password, otp: await f.otp(secret) })).json().code, 'ERR_LOGIN_FAILED', 'a clear secret is never used');
  t.equal(await sealClearSecrets(f.db, f.config.totpKey), 1);
  t.equal(await sealClearSecrets(f.db, f.config.totpKey), 0, 'idempotent');
  t.match((await f.db('node_users').where({ name: 'lv' }).first()).totp_secret, /^totp1:/);
  f.advance(30_000);
  t.equal((await f.login({ user: 'lv', password, otp: await f.otp(secret) })).statusCode, 200);
});

t.test('under another totp.key the secret does not open: the login fails as any other', async (t) => {
  const f = await accountsFixture(t);
  const { password, secret } = await f.addUser('shi', 'query', 'public');
  const other = loginService({ db: f.db, audit: f.app.nodeCtx.audit, nodeId: f.config.nodeId, secret: f.config.jwtSecret, totpKey: Buffer.alloc(32, 7), accounts: f.config.accounts, clock: () => f.authNow() });
  f.advance(30_000);
  await t.rejects(other.login({ user: 'shi', password, otp: await f.otp(secret) }, '127.0.0.1'), { code: 'ERR_LOGIN_FAILED' });
  const e = await f.db('audit_log').where({ action: 'user.login', outcome: 'failure' }).orderBy('seq', 'desc').first();
  t.match(e.reason, /totp secret does not open/);
});
