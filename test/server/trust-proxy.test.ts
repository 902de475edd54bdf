/**
 * trustProxy (both servers): off by default, X-Forwarded-For is ignored — src= in the audit log and
 * the per-source login rate see the socket's peer (a gateway in front of the server is one source);
 * on, for the listed gateway addresses only, the client address X-Forwarded-For names is used.
 */
import t from 'tap';
import { checkTrustProxy, fastifyTrustProxy, isAddressOrCidr } from '../../server/trust-proxy.js';
import { readHubConfig } from '../../hub/config.js';
import { hubAccountsFixture } from '../hub/accounts-fixture.js';
import { accountsFixture } from '../node/accounts-fixture.js';

t.test('the option takes addresses and CIDR ranges only', async (t) => {
  t.same(checkTrustProxy(undefined), []);
  t.same(checkTrustProxy(['10.0.0.5', '10.1.0.0/16', '::1', 'fd00::/8']), ['10.0.0.5', '10.1.0.0/16', '::1', 'fd00::/8']);
  for (const bad of ['10.0.0.0/33', 'gateway.example.cn', '10.0.0.1/8/1', '', '::1/129'] as const) t.notOk(isAddressOrCidr(bad), bad);
  t.throws(() => checkTrustProxy('10.0.0.5'), { code: 'ERR_CONFIG_INVALID', details: { key: 'trustProxy' } });
  t.throws(() => checkTrustProxy(['10.0.0.5', 'true']), { code: 'ERR_CONFIG_INVALID', details: { key: 'trustProxy[1]' } });
  t.throws(() => readHubConfig({ dataDir: '/tmp/x', caDir: '/nonexistent', trustProxy: [1] }, {}), { code: 'ERR_CONFIG_INVALID', details: { key: 'trustProxy[0]' } });
});

const wrong = { password: 'Wrong-password-1', otp: '000000' };

t.test('hub, trustProxy off: X-Forwarded-For is ignored (src= is the gateway; one rate for all its clients)', async (t) => {
  const f = await hubAccountsFixture(t, { config: { accounts: { loginPerMinute: 2 } } });
  const codes = [];
  for (let i = 1; i <= 3; i++) {
    const r = await f.app.inject({ method: 'POST', url: '/v1/login', remoteAddress: '10.0.0.5', headers: { 'x-forwarded-for': `198.51.100.${i}` }, payload: { user: `u${i}`, ...wrong } });
    codes.push(r.json().code);
  }
  t.same(codes, ['ERR_LOGIN_FAILED', 'ERR_LOGIN_FAILED', 'ERR_RATE_LIMITED']);
  const e = await f.db('audit_log').where({ action: 'user.login' }).orderBy('seq').first();
  t.match(e.reason, /src=10\.0\.0\.5$/);
});

t.test('hub, trustProxy on: the client address from the listed gateway counts; others cannot spoof it', async (t) => {
  const f = await hubAccountsFixture(t, { config: { accounts: { loginPerMinute: 2 }, trustProxy: ['10.0.0.0/24'] } });
  const codes = [];
  for (let i = 1; i <= 3; i++) {
    const r = await f.app.inject({ method: 'POST', url: '/v1/login', remoteAddress: '10.0.0.5', headers: { 'x-forwarded-for': `198.51.100.${i}` }, payload: { user: `u${i}`, ...wrong } });
    codes.push(r.json().code);
  }
  t.same(codes, ['ERR_LOGIN_FAILED', 'ERR_LOGIN_FAILED', 'ERR_LOGIN_FAILED'], 'three clients, three rates');
  const entries = await f.db('audit_log').where({ action: 'user.login' }).orderBy('seq');
  t.same(entries.map((e: { reason: string }) => e.reason.match(/src=(\S+)$/)?.[1]), ['198.51.100.1', '198.51.100.2', '198.51.100.3']);
  // not from a listed gateway: its X-Forwarded-For is not believed
  await f.app.inject({ method: 'POST', url: '/v1/login', remoteAddress: '203.0.113.9', headers: { 'x-forwarded-for': '198.51.100.1' }, payload: { user: 'u9', ...wrong } });
  const last = await f.db('audit_log').where({ action: 'user.login' }).orderBy('seq', 'desc').first();
  t.match(last.reason, /src=203\.0\.113\.9$/);
});

t.test('node, trustProxy off and on', async (t) => {
  const off = await accountsFixture(t, { config: { accounts: { loginPerMinute: 2 } } });
  const on = await accountsFixture(t, { config: { accounts: { loginPerMinute: 2 }, trustProxy: ['10.0.0.5'] } });
  const run = async (f: typeof off) => {
    const codes = [];
    for (let i = 1; i <= 3; i++) {
      const r = await f.app.inject({ method: 'POST', url: '/v1/login', remoteAddress: '10.0.0.5', headers: { 'x-forwarded-for': `198.51.100.${i}` }, payload: { user: `u${i}`, ...wrong } });
      codes.push(r.json().code);
    }
    const e = await f.db('audit_log').where({ action: 'user.login' }).orderBy('seq').first();
    return { codes, src: e.reason.match(/src=(\S+)$/)?.[1] };
  };
  t.same(await run(off), { codes: ['ERR_LOGIN_FAILED', 'ERR_LOGIN_FAILED', 'ERR_RATE_LIMITED'], src: '10.0.0.5' });
  t.same(await run(on), { codes: ['ERR_LOGIN_FAILED', 'ERR_LOGIN_FAILED', 'ERR_LOGIN_FAILED'], src: '198.51.100.1' });
});

t.test('strict: only the listed gateways are believed, hop by hop (a client cannot prepend an address)', async (t) => {
  t.equal(fastifyTrustProxy([]), false, 'off: never true, never a hop count');
  t.same(fastifyTrustProxy(['10.0.0.5']), ['10.0.0.5'], 'on: the address list only (fastify → @fastify/proxy-addr)');
  const f = await hubAccountsFixture(t, { config: { trustProxy: ['10.0.0.5', '10.0.0.6'] } });
  const src = async (remoteAddress: string, xff: string) => {
    await f.app.inject({ method: 'POST', url: '/v1/login', remoteAddress, headers: { 'x-forwarded-for': xff }, payload: { user: 'u1', ...wrong } });
    const e = await f.db('audit_log').where({ action: 'user.login' }).orderBy('seq', 'desc').first();
    return e.reason.match(/src=(\S+)$/)?.[1];
  };
  t.equal(await src('10.0.0.5', '6.6.6.6, 198.51.100.7'), '198.51.100.7', 'the forged leftmost entry is not taken');
  t.equal(await src('10.0.0.5', '198.51.100.8, 10.0.0.6'), '198.51.100.8', 'a chain of listed gateways is walked');
  t.equal(await src('10.0.0.5', '198.51.100.9, 10.0.0.7'), '10.0.0.7', 'an unlisted hop stops the walk');
  t.equal(await src('10.0.0.9', '198.51.100.10'), '10.0.0.9', 'from an unlisted peer the header is ignored');
});
