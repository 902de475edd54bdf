/**
 * The hub console's own refusals and sources (review M2, M3, L1): a forged, replayed or expired
 * session cookie and every CSRF refusal are audited as the API's refusals are (`request.refused`,
 * object `console <METHOD> <route>`); behind a gateway listed in trustProxy the client named by
 * X-Forwarded-For is src= and its own login-rate bucket (an unlisted peer's header is ignored); a
 * checkpoint signed from the audit viewer is audited with who asked; the CSRF key is derived from
 * totp.key, never kept in the store.
 */
import t from 'tap';
import { hubConsoleFixture, SESSION_COOKIE } from './console-fixture.js';
import { settingsStore } from '../../hub/settings-store.js';

type Entry = { actor: string; action: string; object: string; reason: string; outcome: string };
const refusals = async (db: import('knex').Knex) => (await db('audit_log').where({ action: 'request.refused' }).select('actor', 'object', 'reason')) as Entry[];

t.test('M2: forged cookie, replayed cookie after logout and CSRF refusals are audited', async (t) => {
  const f = await hubConsoleFixture(t);
  const anon = f.client();
  const forged = await anon.get('/tokens', { cookie: `${SESSION_COOKIE}=eyJhbGciOiJIUzI1NiJ9.e30.x` });
  t.equal(forged.headers.location, '/login?code=ERR_AUTH_INVALID');
  t.ok((await refusals(f.db)).some((e) => e.actor === 'addr:127.0.0.1' && e.object === 'console GET /tokens' && e.reason === 'ERR_AUTH_INVALID'), 'a forged cookie is audited');

  const c = await f.signedIn('ops', 'operator');
  const old = c.cookies.get(SESSION_COOKIE)!;
  t.equal((await c.post('/tokens', { node: '430700', grade: '2', ttlHours: '24' })).statusCode, 403, 'no _csrf: refused');
  t.ok((await refusals(f.db)).some((e) => e.actor === 'user:ops' && e.object === 'console POST /tokens' && e.reason.startsWith('ERR_CSRF_INVALID')), 'a CSRF refusal is audited as the operator');
  await c.post('/logout', { _csrf: c.csrf() });
  const replay = await f.client().get('/tokens', { cookie: `${SESSION_COOKIE}=${encodeURIComponent(old)}` });
  t.equal(replay.headers.location, '/login?code=ERR_SESSION_ENDED');
  t.ok((await refusals(f.db)).some((e) => e.object === 'console GET /tokens' && e.reason.startsWith('ERR_SESSION_ENDED')), 'a replayed cookie after logout is audited');

  const login = f.client();
  await login.get('/login');
  t.equal((await login.post('/login', { user: 'x', password: 'y', otp: '1' })).statusCode, 403, 'a login without the CSRF token');
  t.ok((await refusals(f.db)).some((e) => e.object === 'console POST /login' && e.reason === 'ERR_CSRF_INVALID'), 'audited too');
});

t.test('L1: a checkpoint signed from the audit viewer names the auditor and the tree size', async (t) => {
  const f = await hubConsoleFixture(t);
  const aud = await f.signedIn('aud', 'auditor');
  t.equal((await aud.post('/audit/checkpoint', { _csrf: aud.csrf() })).statusCode, 303);
  const e = (await f.db('audit_log').where({ action: 'audit.checkpoint' }).first()) as Entry | undefined;
  t.equal(e?.actor, 'user:aud');
  t.equal(e?.outcome, 'success');
  t.match(e?.reason, /^tree size \d+/);
});

const XFF_LIMIT = { accounts: { loginPerMinute: 2 } };
const tryLogin = async (f: Awaited<ReturnType<typeof hubConsoleFixture>>, xff: string) => {
  const c = f.client();
  await c.get('/login', { 'x-forwarded-for': xff });
  return c.post('/login', { user: 'nobody', password: 'wrong', otp: '000000', _csrf: c.csrf() }, { 'x-forwarded-for': xff });
};

t.test('M3: X-Forwarded-For from a listed gateway is the client: src= and its own login bucket', async (t) => {
  const f = await hubConsoleFixture(t, { config: { trustProxy: ['127.0.0.1'], ...XFF_LIMIT } });
  for (let i = 0; i < 2; i++) t.notMatch((await tryLogin(f, '203.0.113.7')).body, /ERR_RATE_LIMITED/);
  t.match((await tryLogin(f, '203.0.113.7')).body, /ERR_RATE_LIMITED/, 'the third attempt from one client is limited');
  t.notMatch((await tryLogin(f, '203.0.113.8')).body, /ERR_RATE_LIMITED/, 'another client behind the same gateway is not');
  const e = (await f.db('audit_log').where({ action: 'user.login' }).select('reason')) as Entry[];
  t.ok(e.some((x) => /src=203\.0\.113\.7/.test(x.reason)), 'src= names the client');
  t.notOk(e.some((x) => /src=127\.0\.0\.1/.test(x.reason)), 'never the gateway');
});

t.test('M3: X-Forwarded-For from a peer not in trustProxy is ignored', async (t) => {
  const f = await hubConsoleFixture(t, { config: { trustProxy: ['10.9.9.9'], ...XFF_LIMIT } });
  for (let i = 0; i < 2; i++) await tryLogin(f, `203.0.113.${i + 1}`);
  t.match((await tryLogin(f, '203.0.113.9')).body, /ERR_RATE_LIMITED/, 'one bucket: the peer');
  const e = (await f.db('audit_log').where({ action: 'user.login' }).select('reason')) as Entry[];
  t.notOk(e.some((x) => /src=203\./.test(x.reason)), 'the header is not believed');
});

t.test('the console CSRF key is derived from totp.key: no console_csrf_key in the store', async (t) => {
  const f = await hubConsoleFixture(t);
  t.equal(await f.db('hub_settings').where({ name: 'console_csrf_key' }).first(), undefined);
  // a row a hub before this one stored is removed at start
  await settingsStore.getOrCreate(f.db, 'console_csrf_key', () => 'AAAA');
  const { buildHub } = await import('../../hub/app.js');
  const again = await buildHub({ config: f.config, db: f.db });
  t.teardown(() => again.close());
  t.equal(await f.db('hub_settings').where({ name: 'console_csrf_key' }).first(), undefined, 'removed at start');
});
