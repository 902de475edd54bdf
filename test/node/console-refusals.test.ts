/**
 * The city console's own refusals and sources (review M2, M3, L1): a forged or replayed session
 * cookie is audited by the node's session check as on /v1, every CSRF refusal by the console
 * (`access.denied`, object `console <METHOD> <route>`, as the node's /v1 refusals); behind a gateway
 * listed in trustProxy the client named by X-Forwarded-For is src= and its own login-rate bucket (an
 * unlisted peer's header is ignored); a checkpoint signed from the audit viewer is audited with who asked.
 */
import t from 'tap';
import { consoleFixture } from './console-fixture.js';

const SESSION_COOKIE = '__Host-credit-session-430100';
type Entry = { actor: string; action: string; object: string; reason: string; outcome: string };
const denied = async (db: import('knex').Knex) => (await db('audit_log').where({ action: 'access.denied' }).select('actor', 'object', 'reason')) as Entry[];

t.test('M2: forged cookie, replayed cookie after logout and CSRF refusals are audited', async (t) => {
  const f = await consoleFixture(t);
  const forged = await f.client().get('/subjects', { cookie: `${SESSION_COOKIE}=eyJhbGciOiJIUzI1NiJ9.e30.x` });
  t.equal(forged.headers.location, '/login?code=ERR_AUTH_INVALID');
  t.ok((await denied(f.db)).some((e) => e.reason.startsWith('ERR_AUTH_INVALID')), 'a forged cookie is audited');

  const c = await f.signedIn('clerk', 'query', 'shared');
  const old = c.cookies.get(SESSION_COOKIE)!;
  t.equal((await c.post('/logout', {})).statusCode, 403, 'no _csrf: refused');
  t.ok((await denied(f.db)).some((e) => e.actor === 'user:clerk' && e.object === 'console POST /logout' && e.reason.startsWith('ERR_CSRF_INVALID')), 'a CSRF refusal is audited as the clerk');
  await c.post('/logout', { _csrf: c.csrf() });
  const replay = await f.client().get('/subjects', { cookie: `${SESSION_COOKIE}=${encodeURIComponent(old)}` });
  t.equal(replay.headers.location, '/login?code=ERR_SESSION_ENDED');
  t.ok((await denied(f.db)).some((e) => e.reason.startsWith('ERR_SESSION_ENDED')), 'a replayed cookie after logout is audited');

  const login = f.client();
  await login.get('/login');
  t.equal((await login.post('/login', { user: 'x', password: 'y', otp: '1' })).statusCode, 403, 'a login without the CSRF token');
  t.ok((await denied(f.db)).some((e) => e.actor === 'anonymous' && e.object === 'console POST /login' && e.reason.startsWith('ERR_CSRF_INVALID')), 'audited too');
});

t.test('L1: a checkpoint signed from the audit viewer names the auditor and the tree size', async (t) => {
  const f = await consoleFixture(t);
  const aud = await f.signedIn('aud', 'auditor', 'internal');
  t.equal((await aud.post('/audit/checkpoint', { _csrf: aud.csrf() })).statusCode, 303);
  const e = (await f.db('audit_log').where({ action: 'audit.checkpoint' }).first()) as Entry | undefined;
  t.equal(e?.actor, 'user:aud');
  t.equal(e?.outcome, 'success');
  t.match(e?.reason, /^tree size \d+/);
});

const LIMIT = { accounts: { loginPerMinute: 2 } };
const tryLogin = async (f: Awaited<ReturnType<typeof consoleFixture>>, xff: string) => {
  const c = f.client();
  await c.get('/login', { 'x-forwarded-for': xff });
  return c.post('/login', { user: 'nobody', password: 'wrong', otp: '000000', _csrf: c.csrf() }, { 'x-forwarded-for': xff });
};

t.test('M3: X-Forwarded-For from a listed gateway is the client: src= and its own login bucket', async (t) => {
  const f = await consoleFixture(t, { config: { trustProxy: ['127.0.0.1'], ...LIMIT } });
  for (let i = 0; i < 2; i++) t.notMatch((await tryLogin(f, '203.0.113.7')).body, /ERR_RATE_LIMITED/);
  t.match((await tryLogin(f, '203.0.113.7')).body, /ERR_RATE_LIMITED/, 'the third attempt from one client is limited');
  t.notMatch((await tryLogin(f, '203.0.113.8')).body, /ERR_RATE_LIMITED/, 'another client behind the same gateway is not');
  const e = (await f.db('audit_log').where({ action: 'user.login' }).select('reason')) as Entry[];
  t.ok(e.some((x) => /src=203\.0\.113\.7/.test(x.reason)), 'src= names the client');
  t.notOk(e.some((x) => /src=127\.0\.0\.1/.test(x.reason)), 'never the gateway');
});

t.test('M3: X-Forwarded-For from a peer not in trustProxy is ignored', async (t) => {
  const f = await consoleFixture(t, { config: { trustProxy: ['10.9.9.9'], ...LIMIT } });
  for (let i = 0; i < 2; i++) await tryLogin(f, `203.0.113.${i + 1}`);
  t.match((await tryLogin(f, '203.0.113.9')).body, /ERR_RATE_LIMITED/, 'one bucket: the peer');
  const e = (await f.db('audit_log').where({ action: 'user.login' }).select('reason')) as Entry[];
  t.notOk(e.some((x) => /src=203\./.test(x.reason)), 'the header is not believed');
});
