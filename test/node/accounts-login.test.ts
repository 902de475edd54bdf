/**
 * POST /v1/login (issue 18 items 3 and 4): password (argon2id) and TOTP, a replayed TOTP code
 * refused, lockout after 5 failures in 15 minutes and unlock after 30 (a moved clock, no sleeping),
 * identical answers for unknown users, the per-source rate, password rotation and change.
 */
import { createHash } from 'node:crypto';
import t from 'tap';
import { accountsFixture } from './accounts-fixture.js';
import { record } from './app-fixture.js';

const MIN = 60_000;

t.test('a login with password and TOTP opens a short session; the password is kept as argon2id', async (t) => {
  const f = await accountsFixture(t);
  const { password, secret } = await f.addUser('li.officer', 'officer', 'restricted');
  const stored = await f.db('node_users').where({ name: 'li.officer' }).first();
  t.match(stored.password_hash, /^\$argon2id\$/, 'argon2id hash');
  t.notOk(JSON.stringify(stored).includes(password), 'the password itself is not stored');
  const res = await f.login({ user: 'li.officer', password, otp: await f.otp(secret) });
  t.equal(res.statusCode, 200);
  const body = res.json();
  t.match(body, { tokenType: 'Bearer', role: 'officer', clearance: 'restricted', idleTimeoutSeconds: 900 });
  const claims = JSON.parse(Buffer.from((body.token as string).split('.')[1]!, 'base64url').toString()) as Record<string, number | string>;
  t.equal((claims.exp as number) - (claims.iat as number), 1800, 'the access token lives 30 minutes');
  t.ok((await f.db('node_sessions').where({ jti_hash: createHash('sha256').update(String(claims.jti)).digest('hex'), kind: 'login', user_name: 'li.officer' })).length === 1, 'bound to a server-side session');
  const made = await f.app.inject({ method: 'POST', url: '/v1/records', headers: { authorization: `Bearer ${body.token as string}` }, payload: record('CF') });
  t.equal(made.statusCode, 201, 'the session works');
  const entry = await f.db('audit_log').where({ action: 'user.login', outcome: 'success' }).first();
  t.match(entry.reason, new RegExp(`src=127\\.0\\.0\\.1 sid=${createHash('sha256').update(String(claims.jti)).digest('hex').slice(0, 16)}$`), 'the login is audited with source address and session (the session id, not the jti)');
});

t.test('a TOTP code is accepted once: a replay within its window is refused', async (t) => {
  const f = await accountsFixture(t);
  const { password, secret } = await f.addUser('wang', 'query', 'public');
  const otp = await f.otp(secret);
  t.equal((await f.login({ user: 'wang', password, otp })).statusCode, 200);
  f.advance(5_000); // still the same 30-second step
  const replay = await f.login({ user: 'wang', password, otp });
  t.equal(replay.statusCode, 401);
  t.equal(replay.json().code, 'ERR_LOGIN_FAILED');
  t.ok(f.events.some((e) => e.action === 'user.login' && e.outcome === 'failure' && e.reason === 'ERR_LOGIN_FAILED (otp replayed)'), 'audited as a replay');
  const previous = await f.otp(secret, new Date(f.authNow().getTime() - 30_000));
  t.equal((await f.login({ user: 'wang', password, otp: previous })).json().code, 'ERR_LOGIN_FAILED', 'an older code than the one used is refused too');
  f.advance(30_000);
  t.equal((await f.login({ user: 'wang', password, otp: await f.otp(secret) })).statusCode, 200, 'the next step logs in');
});

t.test('5 failures in 15 minutes lock the account for 30 minutes (ERR_ACCOUNT_LOCKED, 423), audited with the source', async (t) => {
  const f = await accountsFixture(t);
  const { password, secret } = await f.addUser('zhao', 'officer', 'shared');
  const wrong = { user: 'zhao', password: 'Wrong-password-1', otp: '000000' };
  for (let i = 1; i <= 4; i++) {
    const r = await f.login(wrong, '10.1.2.3');
    t.equal(r.statusCode, 401, `failure ${i}`);
    t.equal(r.json().code, 'ERR_LOGIN_FAILED');
    f.advance(2 * MIN);
  }
  const fifth = await f.login(wrong, '10.1.2.3');
  t.equal(fifth.statusCode, 423, 'the fifth failure locks');
  t.equal(fifth.json().code, 'ERR_ACCOUNT_LOCKED');
  f.advance(MIN);
  const right = await f.login({ user: 'zhao', password, otp: await f.otp(secret) });
  t.equal(right.statusCode, 423, 'locked: even the right password and code are refused');
  t.equal(right.json().code, 'ERR_ACCOUNT_LOCKED');
  const lockout = await f.db('audit_log').where({ action: 'user.lockout' });
  t.equal(lockout.length, 1);
  t.match(lockout[0].reason, /^ERR_ACCOUNT_LOCKED 5 failures in 15 min, until \S+ src=10\.1\.2\.3$/, 'the lockout names the source address');
  t.equal((await f.db('audit_log').where({ action: 'user.login', outcome: 'failure' }).andWhere('reason', 'like', '%src=10.1.2.3%')).length, 5, 'each failure audited with its source');
  f.advance(28 * MIN); // 29 minutes after the lock
  t.equal((await f.login({ user: 'zhao', password, otp: await f.otp(secret) })).statusCode, 423, 'still locked after 29 minutes');
  f.advance(2 * MIN);
  const after = await f.login({ user: 'zhao', password, otp: await f.otp(secret) });
  t.equal(after.statusCode, 200, 'unlocked when the 30 minutes are over');
});

t.test('failures further apart than 15 minutes do not lock', async (t) => {
  const f = await accountsFixture(t);
  const { password, secret } = await f.addUser('qian', 'query', 'public');
  for (let i = 0; i < 6; i++) {
    t.equal((await f.login({ user: 'qian', password: 'nope', otp: '123456' })).json().code, 'ERR_LOGIN_FAILED');
    f.advance(4 * MIN);
  }
  t.equal((await f.login({ user: 'qian', password, otp: await f.otp(secret) })).statusCode, 200);
});

t.test('no user enumeration: unknown user, wrong password, wrong code, disabled user answer alike, and unknown names lock too', async (t) => {
  const f = await accountsFixture(t);
  const { password, secret } = await f.addUser('sun', 'query', 'public');
  const gone = await f.addUser('gone', 'query', 'public');
  await f.users.disable('cli:test@host', 'gone');
  const answers = [
    await f.login({ user: 'nobody', password: 'Whatever-123', otp: '123456' }),
    await f.login({ user: 'sun', password: 'Whatever-123', otp: '123456' }),
    await f.login({ user: 'sun', password, otp: '000000' === (await f.otp(secret)) ? '111111' : '000000' }),
    await f.login({ user: 'gone', password: gone.password, otp: await f.otp(gone.secret) }),
  ];
  for (const a of answers) {
    t.equal(a.statusCode, 401);
    t.same(a.json(), answers[0]!.json(), 'the same body');
  }
  for (let i = 0; i < 4; i++) await f.login({ user: 'nobody', password: 'x', otp: '1' });
  const locked = await f.login({ user: 'nobody', password: 'x', otp: '1' });
  t.equal(locked.statusCode, 423, 'an unknown name locks like a real one');
  t.equal(locked.json().code, 'ERR_ACCOUNT_LOCKED');
  const reasons = f.events.filter((e) => e.action === 'user.login').map((e) => e.reason);
  t.ok(reasons.includes('ERR_LOGIN_FAILED (unknown user)') && reasons.includes('ERR_LOGIN_FAILED (user disabled)'), 'the audit log says which (the caller is not told)');
});

t.test('login is rate-limited per source address', async (t) => {
  const f = await accountsFixture(t, { config: { accounts: { loginPerMinute: 3 } } });
  for (let i = 0; i < 3; i++) t.equal((await f.login({ user: `u${i}`, password: 'x', otp: '1' }, '10.9.9.9')).statusCode, 401);
  const limited = await f.login({ user: 'u9', password: 'x', otp: '1' }, '10.9.9.9');
  t.equal(limited.statusCode, 429);
  t.equal(limited.json().code, 'ERR_RATE_LIMITED');
  t.equal((await f.login({ user: 'u9', password: 'x', otp: '1' }, '10.9.9.10')).statusCode, 401, 'another source is not limited');
  f.advance(MIN + 1);
  t.equal((await f.login({ user: 'u9', password: 'x', otp: '1' }, '10.9.9.9')).statusCode, 401, 'the next minute it may try again');
});

t.test('password rotation: an expired password must be changed (policy checked), and the change ends sessions', async (t) => {
  const f = await accountsFixture(t, { config: { accounts: { password: { maxAgeDays: 90, minLength: 12, minClasses: 3 } } } });
  const first = await f.addUser('wu', 'query', 'public');
  const live = await f.session('wu', first.password, first.secret);
  f.advance(30_000);
  t.equal((await f.app.inject({ method: 'POST', url: '/v1/password', payload: { user: 'wu', password: first.password, otp: await f.otp(first.secret), newPassword: 'River-Stone-2027' } })).statusCode, 204);
  t.equal((await f.app.inject({ url: `/v1/subjects/${record('CF').fields.uscc as string}`, headers: live })).json().code, 'ERR_SESSION_ENDED', 'a password change ends the live sessions');

  const { password, secret } = await f.addUser('zhou', 'query', 'public');
  f.advance(91 * 86_400_000);
  const expired = await f.login({ user: 'zhou', password, otp: await f.otp(secret) });
  t.equal(expired.statusCode, 403);
  t.equal(expired.json().code, 'ERR_PASSWORD_EXPIRED');
  f.advance(30_000);
  const weak = await f.app.inject({ method: 'POST', url: '/v1/password', payload: { user: 'zhou', password, otp: await f.otp(secret), newPassword: 'short1' } });
  t.equal(weak.statusCode, 422);
  t.equal(weak.json().code, 'ERR_PASSWORD_WEAK');
  t.match(weak.json().message, /至少 12 个字符/);
  f.advance(30_000);
  const changed = await f.app.inject({ method: 'POST', url: '/v1/password', payload: { user: 'zhou', password, otp: await f.otp(secret), newPassword: 'Ocean-Lantern-42' } });
  t.equal(changed.statusCode, 204);
  f.advance(30_000);
  t.equal((await f.login({ user: 'zhou', password, otp: await f.otp(secret) })).json().code, 'ERR_LOGIN_FAILED', 'the old password no longer works');
  f.advance(30_000);
  t.equal((await f.login({ user: 'zhou', password: 'Ocean-Lantern-42', otp: await f.otp(secret) })).statusCode, 200);
});

t.test('an initial or reset password must be changed before the first login; a reset ends the sessions', async (t) => {
  const f = await accountsFixture(t);
  const { password, secret } = await f.enrol('feng', 'query', 'public');
  f.advance(30_000);
  const first = await f.login({ user: 'feng', password, otp: await f.otp(secret) });
  t.equal(first.statusCode, 403);
  t.equal(first.json().code, 'ERR_PASSWORD_EXPIRED', 'the initial password opens no session');
  t.equal((await f.db('node_sessions').where({ user_name: 'feng' })).length, 0);
  f.advance(30_000);
  t.equal((await f.app.inject({ method: 'POST', url: '/v1/password', payload: { user: 'feng', password, otp: await f.otp(secret), newPassword: 'Harbour-Kite-2031' } })).statusCode, 204, 'changed without a session');
  const live = await f.session('feng', 'Harbour-Kite-2031', secret);
  const reset = await f.users.reset('cli:ops@host', 'feng');
  const resetSecret = new URL(reset.otpauthUri).searchParams.get('secret')!;
  t.equal((await f.app.inject({ url: `/v1/subjects/${record('CF').fields.uscc as string}`, headers: live })).json().code, 'ERR_SESSION_ENDED', 'the reset ends the live session');
  f.advance(30_000);
  const byOperator = await f.login({ user: 'feng', password: reset.password, otp: await f.otp(resetSecret) });
  t.equal(byOperator.statusCode, 403);
  t.equal(byOperator.json().code, 'ERR_PASSWORD_EXPIRED', 'whoever ran the reset cannot log in with its password');
});
