/** Token attacks: every one is refused with 401 and its code, and audited as a denial. */
import t from 'tap';
import { SignJWT } from 'jose';
import { nodeFixture, record } from './app-fixture.js';
import { issueToken } from '../../node/tokens.js';

const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
/** The jti of a real token (a live session), for forgeries that borrow it. */
const sessionOf = (token: string) => (JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()) as { jti: string }).jti;

t.test('JWT attacks are refused with 401 and a code', async (t) => {
  const f = await nodeFixture(t);
  const good = await f.token('officer', 'internal');
  const [h, p, s] = good.split('.') as [string, string, string];
  const payload = JSON.parse(Buffer.from(p, 'base64url').toString()) as Record<string, unknown>;
  const now = Math.floor(Date.now() / 1000);
  const cases: [string, Record<string, string>, string][] = [
    ['no Authorization header', {}, 'ERR_AUTH_MISSING'],
    ['not a bearer token (Basic)', { authorization: 'Basic YWxpY2U6cHc=' }, 'ERR_AUTH_MISSING'],
    ['garbage', { authorization: 'Bearer not.a.jwt' }, 'ERR_AUTH_INVALID'],
    ['alg none, no signature', { authorization: `Bearer ${b64({ alg: 'none', typ: 'JWT' })}.${p}.` }, 'ERR_AUTH_INVALID'],
    ['alg none, original signature', { authorization: `Bearer ${b64({ alg: 'none', typ: 'JWT' })}.${p}.${s}` }, 'ERR_AUTH_INVALID'],
    ['tampered payload (role raised)', { authorization: `Bearer ${h}.${b64({ ...payload, role: 'officer', clearance: 'internal', sub: 'mallory' })}.${s}` }, 'ERR_AUTH_INVALID'],
    ['wrong key', { authorization: `Bearer ${await issueToken(Buffer.alloc(32, 7), '430100', { user: 'eve', role: 'officer', clearance: 'internal', ttlSeconds: 600, jti: sessionOf(good) })}` }, 'ERR_AUTH_INVALID'],
    ['another node as issuer', { authorization: `Bearer ${await issueToken(f.config.jwtSecret, '430700', { user: 'eve', role: 'officer', clearance: 'internal', ttlSeconds: 600, jti: sessionOf(good) })}` }, 'ERR_AUTH_INVALID'],
    ['expired', { authorization: `Bearer ${await f.token('officer', 'internal', { ttlSeconds: 60, now: new Date(Date.now() - 3600_000) })}` }, 'ERR_AUTH_EXPIRED'],
    ['HS512 instead of HS256', { authorization: `Bearer ${await new SignJWT({ role: 'officer', clearance: 'internal' }).setProtectedHeader({ alg: 'HS512' }).setSubject('x').setIssuer('430100').setExpirationTime(now + 600).sign(f.config.jwtSecret)}` }, 'ERR_AUTH_INVALID'],
    ['unknown role claim', { authorization: `Bearer ${await new SignJWT({ role: 'root', clearance: 'internal' }).setProtectedHeader({ alg: 'HS256' }).setSubject('x').setIssuer('430100').setExpirationTime(now + 600).sign(f.config.jwtSecret)}` }, 'ERR_AUTH_INVALID'],
    ['no exp claim', { authorization: `Bearer ${await new SignJWT({ role: 'officer', clearance: 'internal' }).setProtectedHeader({ alg: 'HS256' }).setSubject('x').setIssuer('430100').sign(f.config.jwtSecret)}` }, 'ERR_AUTH_INVALID'],
  ];
  for (const [i, [label, headers, code]] of cases.entries()) {
    // refusals are written one per address, route and code a minute (audit/refusals.ts): one minute per case
    f.setNow(new Date(Date.parse('2026-11-28T08:00:00.000Z') + (i + 1) * 60_000).toISOString());
    const before = f.events.length;
    const res = await f.app.inject({ method: 'POST', url: '/v1/records', headers, payload: record('CF', { decisionNo: `A-${label}` }) });
    t.equal(res.statusCode, 401, label);
    t.equal(res.json().code, code, label);
    t.ok(f.events.slice(before).some((e) => e.action === 'access.denied' && e.reason === code && e.actor === 'anonymous'), `${label}: audited`);
  }
  t.equal((await f.db('node_records')).length, 0, 'nothing was written by any of them');
  const ok = await f.app.inject({ method: 'POST', url: '/v1/records', headers: { authorization: `Bearer ${good}` }, payload: record('CF') });
  t.equal(ok.statusCode, 201, 'the genuine token works');
});

t.test('health, readiness and metrics need no token; the API description (/docs) needs a session', async (t) => {
  const f = await nodeFixture(t);
  for (const url of ['/healthz', '/readyz', '/metrics']) t.equal((await f.app.inject({ url })).statusCode, 200, url);
  for (const url of ['/docs', '/docs/', '/docs/json', '/docs/yaml']) {
    const res = await f.app.inject({ url });
    t.equal(res.statusCode, 401, `${url} without a token`);
    t.equal(res.json().code, 'ERR_AUTH_MISSING', url);
  }
  t.equal((await f.app.inject({ url: '/docs/json', headers: await f.auth('query', 'public') })).statusCode, 200, '/docs/json with a session');
});

t.test('200 unauthenticated requests: a bounded number of audit entries whose counts add up to 200', async (t) => {
  const f = await nodeFixture(t, { now: '2026-11-28T09:00:05.000Z' });
  const refused = () => f.db('audit_log').where('action', 'like', 'access.denied%').orderBy('seq').select('action', 'actor', 'object', 'reason');
  const send = async (n: number) => {
    const codes = new Set<string>();
    for (let i = 0; i < n; i++) codes.add((await f.app.inject({ method: 'GET', url: '/v1/records/0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b' })).json().code);
    t.same([...codes], ['ERR_AUTH_MISSING'], `${n} refused`);
  };
  await send(200);
  t.same(await refused(), [{ action: 'access.denied', actor: 'anonymous', object: 'GET /v1/records/:id', reason: 'ERR_AUTH_MISSING src=127.0.0.1' }], 'the first refusal is written at once (with its source address), the rest counted');
  f.setNow('2026-11-28T09:01:00.000Z'); // the minute has closed: the next refusal writes its count first
  await send(1);
  await f.app.close(); // and shutdown writes what is still counted
  const rows = await refused();
  t.same(rows.map((r) => r.action), ['access.denied', 'access.denied.aggregate', 'access.denied']);
  t.match(rows[1]!.reason, /^ERR_AUTH_MISSING count=199 first=2026-11-28T09:00:05\.000Z last=2026-11-28T09:00:05\.000Z$/);
  const counts = rows.map((r) => (r.action.endsWith('.aggregate') ? Number(/count=(\d+)/.exec(r.reason)![1]) : 1));
  t.equal(counts.reduce((a, b) => a + b, 0), 201, 'the counts add up to every refusal');
});

t.test('200 denied reads by a signed-in user: a bounded number of audit entries whose counts add up to 200', async (t) => {
  const f = await nodeFixture(t, { now: '2026-11-28T09:00:05.000Z' });
  const made = await f.app.inject({ method: 'POST', url: '/v1/records', headers: await f.auth('officer', 'internal'), payload: record('CF', {}, 'internal') });
  const id = made.json().records[0].id as string;
  const headers = await f.auth('query', 'public');
  const codes = new Set<string>();
  for (let i = 0; i < 200; i++) codes.add((await f.app.inject({ method: 'GET', url: `/v1/records/${id}`, headers })).json().code);
  t.same([...codes], ['ERR_CLASSIFICATION_DENIED'], '200 refused');
  await f.app.close();
  const rows = await f.db('audit_log').where('action', 'like', 'access.denied%').orderBy('seq').select('action', 'actor', 'object', 'reason');
  t.same(rows.map((r) => [r.action, r.actor, r.object]), [['access.denied', 'user:query-public', id], ['access.denied.aggregate', 'user:query-public', id]]);
  t.match(rows[1]!.reason, /^ERR_CLASSIFICATION_DENIED count=199 /);
});
