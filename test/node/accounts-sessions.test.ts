/**
 * Sessions (issue 18 items 1, 3 and 7): a disabled user's live session is refused on its next
 * request; logout, idle timeout and expiry end sessions; tokens are held against their session and
 * the policy — unknown or revoked jti, iat in the future, nbf ahead, exp beyond policy, claims that
 * differ from the session — each refused with its exact code.
 */
import { randomUUID } from 'node:crypto';
import t from 'tap';
import { sessionIdOf } from '../../server/credentials.js';
import { SignJWT } from 'jose';
import { issueToken } from '../../node/tokens.js';
import { endSession } from '../../node/sessions-store.js';
import { exampleRecord } from '../../protocol/catalog.js';
import { accountsFixture } from './accounts-fixture.js';

const MIN = 60_000;
const READ = `/v1/subjects/${exampleRecord('CF').fields.uscc as string}`;

t.test("a disabled user's live session is refused on its next request", async (t) => {
  const f = await accountsFixture(t);
  const { password, secret } = await f.addUser('chen', 'query', 'public');
  const headers = await f.session('chen', password, secret);
  t.equal((await f.app.inject({ url: READ, headers })).statusCode, 200, 'live');
  t.equal(await f.users.disable('cli:ops@host', 'chen'), 1, 'one session ended');
  const next = await f.app.inject({ url: READ, headers });
  t.equal(next.statusCode, 401);
  t.equal(next.json().code, 'ERR_SESSION_ENDED');
  t.ok(f.events.some((e) => e.action === 'user.disable' && e.actor === 'cli:ops@host' && e.object === 'user:chen'), 'the disabling is audited');
});

t.test('a session whose user was disabled behind its back (no session ended) is still refused', async (t) => {
  const f = await accountsFixture(t);
  const { password, secret } = await f.addUser('he', 'query', 'public');
  const headers = await f.session('he', password, secret);
  await f.db('node_users').where({ name: 'he' }).update({ disabled: true });
  t.equal((await f.app.inject({ url: READ, headers })).json().code, 'ERR_SESSION_ENDED');
  t.equal((await f.db('node_sessions').where({ user_name: 'he' }).first()).end_reason, 'disabled');
});

t.test('logout ends the session; idle 15 minutes ends it; 30 minutes expire it whatever the activity', async (t) => {
  const f = await accountsFixture(t);
  const { password, secret } = await f.addUser('lin', 'query', 'public');
  const a = await f.session('lin', password, secret);
  t.equal((await f.app.inject({ method: 'POST', url: '/v1/logout', headers: a })).statusCode, 204);
  t.equal((await f.app.inject({ url: READ, headers: a })).json().code, 'ERR_SESSION_ENDED', 'after logout');
  t.ok(f.events.some((e) => e.action === 'user.logout' && e.object === 'user:lin'), 'logout audited');

  const b = await f.session('lin', password, secret);
  f.advance(14 * MIN);
  t.equal((await f.app.inject({ url: READ, headers: b })).statusCode, 200, '14 idle minutes: still live');
  f.advance(15 * MIN + 1000);
  const idle = await f.app.inject({ url: READ, headers: b });
  t.equal(idle.json().code, 'ERR_SESSION_ENDED', 'idle longer than 15 minutes');

  const c = await f.session('lin', password, secret);
  for (let i = 0; i < 3; i++) {
    f.advance(9 * MIN);
    t.equal((await f.app.inject({ url: READ, headers: c })).statusCode, 200, `active at ${(i + 1) * 9} min`);
  }
  f.advance(3 * MIN + 1000);
  const expired = await f.app.inject({ url: READ, headers: c });
  t.equal(expired.statusCode, 401);
  t.equal(expired.json().code, 'ERR_AUTH_EXPIRED', 'past 30 minutes');
});

t.test('tokens are held against their session and the policy', async (t) => {
  const f = await accountsFixture(t);
  const { password, secret } = await f.addUser('ma', 'query', 'public');
  const login = await f.session('ma', password, secret);
  const token = login.authorization.slice(7);
  const claims = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()) as { jti: string; iat: number; exp: number; sub: string };
  const key = f.config.jwtSecret;
  const sign = (body: Record<string, unknown>) => new SignJWT(body).setProtectedHeader({ alg: 'HS256', typ: 'JWT' }).sign(key);
  const service = await f.token('submitter', 'public', { user: 'robot' });
  const serviceJti = (JSON.parse(Buffer.from(service.split('.')[1]!, 'base64url').toString()) as { jti: string }).jti;
  const now = Math.floor(f.authNow().getTime() / 1000);
  const cases: [string, string, string][] = [
    ['unknown jti (the right key)', await issueToken(key, '430100', { user: 'ma', role: 'query', clearance: 'public', ttlSeconds: 600, jti: randomUUID() }), 'ERR_AUTH_INVALID'],
    ['no jti', await sign({ sub: 'ma', iss: '430100', role: 'query', clearance: 'public', iat: claims.iat, exp: claims.exp }), 'ERR_AUTH_INVALID'],
    ['iat an hour in the future', await sign({ ...claims, iss: '430100', role: 'query', clearance: 'public', iat: now + 3600, exp: now + 3700 }), 'ERR_AUTH_INVALID'],
    ['nbf ahead', await sign({ ...claims, iss: '430100', role: 'query', clearance: 'public', nbf: now + 600 }), 'ERR_AUTH_INVALID'],
    ['exp beyond the 30-minute policy of a login session', await sign({ ...claims, iss: '430100', role: 'query', clearance: 'public', exp: claims.iat + 7200 }), 'ERR_AUTH_INVALID'],
    ['the session of another user', await sign({ ...claims, sub: 'mallory', iss: '430100', role: 'query', clearance: 'public' }), 'ERR_AUTH_INVALID'],
    ['a raised role on a real session', await sign({ ...claims, iss: '430100', role: 'officer', clearance: 'internal' }), 'ERR_AUTH_INVALID'],
    ['HS512', await new SignJWT({ ...claims, iss: '430100', role: 'query', clearance: 'public' }).setProtectedHeader({ alg: 'HS512' }).sign(key), 'ERR_AUTH_INVALID'],
  ];
  for (const [i, [what, tok, code]] of cases.entries()) {
    f.setNow(new Date(Date.parse('2026-11-28T08:00:00.000Z') + (i + 1) * MIN).toISOString()); // one refusal entry each
    const res = await f.app.inject({ url: READ, headers: { authorization: `Bearer ${tok}` } });
    t.equal(res.statusCode, 401, what);
    t.equal(res.json().code, code, what);
  }
  t.equal((await f.app.inject({ url: READ, headers: login })).statusCode, 200, 'the genuine token still works');
  t.equal((await f.app.inject({ method: 'POST', url: '/v1/records', headers: { authorization: `Bearer ${service}` }, payload: {} })).statusCode, 400, 'the service token works (reaches validation)');
  t.ok(await endSession(f.db, serviceJti, 'revoked', f.authNow()), 'revoked, as `credit node tokens revoke` does');
  const revoked = await f.app.inject({ method: 'POST', url: '/v1/records', headers: { authorization: `Bearer ${service}` }, payload: {} });
  t.equal(revoked.statusCode, 401);
  t.equal(revoked.json().code, 'ERR_SESSION_ENDED', 'a revoked service token');
});

t.test('every entry written for a request carries its source address and session', async (t) => {
  const f = await accountsFixture(t);
  const { password, secret } = await f.addUser('xu', 'officer', 'internal');
  const headers = await f.session('xu', password, secret);
  const jti = (JSON.parse(Buffer.from(headers.authorization.slice(7).split('.')[1]!, 'base64url').toString()) as { jti: string }).jti;
  const made = await f.app.inject({ method: 'POST', url: '/v1/records', headers, payload: { type: 'CF', classification: 'internal', fields: exampleRecord('CF').fields }, remoteAddress: '10.20.30.40' });
  t.equal(made.statusCode, 201);
  const id = made.json().records[0].id as string;
  t.equal((await f.app.inject({ url: `/v1/records/${id}`, headers, remoteAddress: '10.20.30.40' })).statusCode, 200);
  const rows = await f.db('audit_log').whereIn('action', ['record.create', 'record.read']).orderBy('seq');
  t.same(rows.map((r) => r.action), ['record.create', 'record.read'], 'the internal read is audited');
  for (const r of rows) t.match(r.reason, new RegExp(`src=10\\.20\\.30\\.40 sid=${sessionIdOf(jti)}$`), `${r.action}: source and session`);
});

t.test('a purpose that names a source or session cannot forge the tag of the read entry', async (t) => {
  const f = await accountsFixture(t);
  const { password, secret } = await f.addUser('lu', 'officer', 'internal');
  const headers = await f.session('lu', password, secret);
  const jti = (JSON.parse(Buffer.from(headers.authorization.slice(7).split('.')[1]!, 'base64url').toString()) as { jti: string }).jti;
  const made = await f.app.inject({ method: 'POST', url: '/v1/records', headers, payload: { type: 'CF', classification: 'internal', fields: exampleRecord('CF').fields } });
  const id = made.json().records[0].id as string;
  const forged = `loan review src=9.9.9.9 sid=00000000-0000-0000-0000-000000000000`;
  t.equal((await f.app.inject({ url: `/v1/records/${id}?purpose=${encodeURIComponent(forged)}`, headers, remoteAddress: '10.20.30.41' })).statusCode, 200);
  const read = await f.db('audit_log').where({ action: 'record.read' }).first();
  t.equal(read.reason, `loan review src:9.9.9.9 sid:00000000-0000-0000-0000-000000000000 src=10.20.30.41 sid=${sessionIdOf(jti)}`, 'the real tag, the forged one neutralised');
  t.notMatch(read.reason, /src=9\.9\.9\.9|sid=0{8}-/);
});
