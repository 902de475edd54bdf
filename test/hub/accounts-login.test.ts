/**
 * Hub operator accounts (issue 18): login with password + TOTP, lockout and unlock, no user
 * enumeration, TOTP replay, the session (logout, disable, idle, expiry, tampered and foreign
 * tokens), audit entries with src= and sid=, and the TOTP secret sealed at rest.
 */
import t from 'tap';
import { SignJWT } from 'jose';
import { hubAccounts } from '../../hub/accounts.js';
import { hubAccountsFixture } from './accounts-fixture.js';

t.test('an operator logs in with password and TOTP and uses the operator routes; node-facing routes are unchanged', async (t) => {
  const f = await hubAccountsFixture(t);
  const { password, secret } = await f.addUser('zhao', 'operator');
  const first = await f.login({ user: 'zhao', password, otp: await f.otp(secret) });
  t.equal(first.statusCode, 200, first.body);
  const body = first.json();
  t.equal(body.role, 'operator');
  t.ok(Date.parse(body.expiresAt) - f.now().getTime() <= 30 * 60_000, 'at most 30 minutes');
  t.equal(body.idleTimeoutSeconds, 15 * 60);
  const nodes = await f.app.inject({ method: 'GET', url: '/v1/operator/nodes', headers: { authorization: `Bearer ${body.token}` } });
  t.equal(nodes.statusCode, 200, nodes.body);
  t.same(nodes.json(), []);
  const none = await f.app.inject({ method: 'GET', url: '/v1/operator/nodes' });
  t.equal(none.statusCode, 401);
  t.equal(none.json().code, 'ERR_AUTH_MISSING');
  // a node-facing route still wants its client certificate, whatever token comes with it
  const quality = await f.app.inject({ method: 'GET', url: '/v1/quality', headers: { authorization: `Bearer ${body.token}` } });
  t.equal(quality.json().code, 'ERR_CLIENT_CERT_REQUIRED');
  t.equal((await f.app.inject({ method: 'GET', url: '/healthz' })).statusCode, 200);
});

t.test('the initial password must be changed first (ERR_PASSWORD_EXPIRED); a weak new one is refused (ERR_PASSWORD_WEAK)', async (t) => {
  const f = await hubAccountsFixture(t);
  const e = await f.enrol('qian', 'operator');
  f.advance(30_000);
  const r = await f.login({ user: 'qian', password: e.password, otp: await f.otp(e.secret) });
  t.equal(r.statusCode, 403);
  t.equal(r.json().code, 'ERR_PASSWORD_EXPIRED');
  f.advance(30_000);
  const weak = await f.app.inject({ method: 'POST', url: '/v1/password', payload: { user: 'qian', password: e.password, otp: await f.otp(e.secret), newPassword: 'short' } });
  t.equal(weak.statusCode, 422);
  t.equal(weak.json().code, 'ERR_PASSWORD_WEAK');
});

t.test('5 wrong logins in 15 min lock for 30 min (423 ERR_ACCOUNT_LOCKED), audited with the source; the lock ends after the period', async (t) => {
  const f = await hubAccountsFixture(t);
  const { password, secret } = await f.addUser('sun', 'operator');
  for (let i = 0; i < 4; i++) {
    const r = await f.login({ user: 'sun', password: 'Wrong-password-1', otp: '000000' }, '10.1.1.7');
    t.equal(r.json().code, 'ERR_LOGIN_FAILED');
  }
  const fifth = await f.login({ user: 'sun', password: 'Wrong-password-1', otp: '000000' }, '10.1.1.7');
  t.equal(fifth.statusCode, 423);
  t.equal(fifth.json().code, 'ERR_ACCOUNT_LOCKED');
  f.advance(30_000);
  const right = await f.login({ user: 'sun', password, otp: await f.otp(secret) }, '10.1.1.7');
  t.equal(right.statusCode, 423, 'even the right password while locked');
  const lockout = await f.db('audit_log').where({ action: 'user.lockout' });
  t.equal(lockout.length, 1);
  t.match(lockout[0].reason, /src=10\.1\.1\.7/);
  t.equal(lockout[0].actor_node ?? '430000', '430000');
  f.advance(31 * 60_000);
  const after = await f.login({ user: 'sun', password, otp: await f.otp(secret) });
  t.equal(after.statusCode, 200, 'unlocked after 30 minutes');
});

t.test('an unknown name gets the same answers as a known one, lockout included', async (t) => {
  const f = await hubAccountsFixture(t);
  await f.addUser('li', 'operator');
  const known = [];
  const unknown = [];
  for (let i = 0; i < 6; i++) {
    known.push(await f.login({ user: 'li', password: 'Wrong-password-1', otp: '123456' }));
    unknown.push(await f.login({ user: 'nobody', password: 'Wrong-password-1', otp: '123456' }));
  }
  t.same(unknown.map((r) => [r.statusCode, r.json().code]), known.map((r) => [r.statusCode, r.json().code]));
  t.same(unknown.map((r) => r.json().message.replace(/\d{4}-\d\d-\d\dT[0-9:.]+Z/, 'T')), known.map((r) => r.json().message.replace(/\d{4}-\d\d-\d\dT[0-9:.]+Z/, 'T')));
  const entries = await f.db('audit_log').where('object', 'like', 'user:%').select('object');
  t.notOk(entries.some((e: { object: string }) => e.object === 'user:nobody'), 'the typed name is kept only as a hash');
});

t.test('a TOTP code is accepted once: a replay within its window is refused', async (t) => {
  const f = await hubAccountsFixture(t);
  const { password, secret } = await f.addUser('zhou', 'operator');
  const otp = await f.otp(secret);
  t.equal((await f.login({ user: 'zhou', password, otp })).statusCode, 200);
  const replay = await f.login({ user: 'zhou', password, otp });
  t.equal(replay.statusCode, 401);
  t.equal(replay.json().code, 'ERR_LOGIN_FAILED');
  const e = await f.db('audit_log').where({ action: 'user.login', outcome: 'failure' }).orderBy('seq', 'desc').first();
  t.match(e.reason, /otp replayed/);
});

t.test('logout ends the session; a disabled operator is refused on the next request; idle and foreign tokens are refused', async (t) => {
  const f = await hubAccountsFixture(t);
  const op = await f.addUser('wu', 'operator');
  const admin = await f.addUser('admin1', 'sysadmin');
  const a = await f.session('wu', op.password, op.secret);
  const get = (h: { authorization: string }) => f.app.inject({ method: 'GET', url: '/v1/operator/tokens', headers: h });
  t.equal((await get(a)).statusCode, 200);
  t.equal((await f.app.inject({ method: 'POST', url: '/v1/logout', headers: a })).statusCode, 204);
  const ended = await get(a);
  t.equal(ended.statusCode, 401);
  t.equal(ended.json().code, 'ERR_SESSION_ENDED');

  const b = await f.session('wu', op.password, op.secret);
  t.equal((await get(b)).statusCode, 200);
  const s = await f.session('admin1', admin.password, admin.secret);
  const dis = await f.app.inject({ method: 'POST', url: '/v1/users/wu/disable', headers: s });
  t.equal(dis.statusCode, 200, dis.body);
  t.equal(dis.json().sessionsEnded, 1);
  const refused = await get(b);
  t.equal(refused.json().code, 'ERR_SESSION_ENDED', "the disabled operator's live session is refused");
  f.advance(30_000);
  const again = await f.login({ user: 'wu', password: op.password, otp: await f.otp(op.secret) });
  t.equal(again.json().code, 'ERR_LOGIN_FAILED', 'and cannot log in');

  const c = await f.session('admin1', admin.password, admin.secret);
  f.advance(16 * 60_000);
  const idle = await f.app.inject({ method: 'GET', url: '/v1/users', headers: c });
  t.equal(idle.json().code, 'ERR_SESSION_ENDED', 'idle for 16 minutes');

  // tampered, foreign-key, future-iat and unknown-jti tokens
  const d = await f.session('admin1', admin.password, admin.secret);
  const token = d.authorization.slice(7);
  const [h, p, sig] = token.split('.');
  const claims = JSON.parse(Buffer.from(p!, 'base64url').toString());
  const tampered = `${h}.${Buffer.from(JSON.stringify({ ...claims, role: 'operator' })).toString('base64url')}.${sig}`;
  t.equal((await f.app.inject({ method: 'GET', url: '/v1/operator/nodes', headers: { authorization: `Bearer ${tampered}` } })).json().code, 'ERR_AUTH_INVALID', 'tampered');
  const foreign = await new SignJWT({ role: 'operator', clearance: 'none' }).setProtectedHeader({ alg: 'HS256' }).setSubject('wu').setIssuer('430000').setIssuedAt().setExpirationTime('10m').setJti(claims.jti).sign(new TextEncoder().encode('k'.repeat(32)));
  t.equal((await f.app.inject({ method: 'GET', url: '/v1/operator/nodes', headers: { authorization: `Bearer ${foreign}` } })).json().code, 'ERR_AUTH_INVALID', 'signed with another key');
  t.equal((await f.app.inject({ method: 'GET', url: '/v1/users', headers: { authorization: 'Bearer x.y.z' } })).json().code, 'ERR_AUTH_INVALID', 'malformed');
});

t.test('audit entries of operator routes carry src= and sid=', async (t) => {
  const f = await hubAccountsFixture(t);
  const { password, secret } = await f.addUser('zheng', 'operator');
  const s = await f.session('zheng', password, secret);
  const r = await f.app.inject({ method: 'POST', url: '/v1/operator/tokens', headers: s, payload: { node: '430100', grade: 3, name: '长沙市' }, remoteAddress: '10.2.3.4' });
  t.equal(r.statusCode, 200, r.body);
  t.match(r.json().token, /\S{20,}/);
  const e = await f.db('audit_log').where({ action: 'token.mint' }).first();
  t.equal(e.actor, 'user:zheng');
  t.match(e.reason, /src=10\.2\.3\.4 sid=[0-9a-f]{16}$/);
  const login = await f.db('audit_log').where({ action: 'user.login', outcome: 'success' }).orderBy('seq', 'desc').first();
  t.match(login.reason, /src=127\.0\.0\.1 sid=[0-9a-f]{16}$/);
  const rv = await f.app.inject({ method: 'POST', url: '/v1/operator/nodes/430100/revoke', headers: s, payload: {} });
  t.equal(rv.statusCode, 200, rv.body);
  t.match((await f.db('audit_log').where({ action: 'node.revoke' }).first()).reason, /sid=/);
});

t.test('TOTP secrets are sealed at rest: the column holds no base32 secret; a sealed secret copied to another row does not open', async (t) => {
  const f = await hubAccountsFixture(t);
  const a = await f.addUser('feng', 'operator');
  const b = await f.addUser('chen', 'operator');
  const rows = await f.db('hub_users').select('name', 'totp_secret');
  for (const r of rows) {
    t.match(r.totp_secret, /^totp1:/);
    t.notOk(r.totp_secret.includes(r.name === 'feng' ? a.secret : b.secret), 'the secret is not in the column');
    t.notMatch(r.totp_secret.slice(6), /^[A-Z2-7]{16,}=*$/, 'not base32');
  }
  // chen's row gets feng's sealed secret: bound to feng's row, it does not open for chen
  const fengSealed = rows.find((r: { name: string }) => r.name === 'feng').totp_secret;
  await f.db('hub_users').where({ name: 'chen' }).update({ totp_secret: fengSealed });
  f.advance(30_000);
  const r = await f.login({ user: 'chen', password: b.password, otp: await f.otp(a.secret) });
  t.equal(r.json().code, 'ERR_LOGIN_FAILED');
  // a secret written in clear (before sealing at rest) is sealed at the next open
  await f.db('hub_users').where({ name: 'chen' }).update({ totp_secret: b.secret });
  t.equal(await hubAccounts.sealClearSecrets(f.db, (await import('../../hub/accounts.js')).hubTotpKey(f.config.dataDir)), 1);
  t.match((await f.db('hub_users').where({ name: 'chen' }).first()).totp_secret, /^totp1:/);
  f.advance(30_000);
  t.equal((await f.login({ user: 'chen', password: b.password, otp: await f.otp(b.secret) })).statusCode, 200, 'and still works');
});
