/**
 * The hub's suite policy (`suites` in its config): with `["RSA"]` it advertises only the RSA suite
 * on GET /v1/protocol and refuses an envelope in any other suite with ERR_SUITE_REFUSED before
 * any crypto; a bad policy, or one none of the hub's own keys (RSA, EC P-256) can seal under, fails at start-up
 * with ERR_CONFIG_INVALID naming the key.
 */
import t from 'tap';
import { buildHubConfig } from '../../hub/config.js';
import { hubFixture } from './fixture.js';

t.test('suites: ["SM"] with the hub\'s RSA identity: the hub refuses to start (ERR_CONFIG_INVALID, key suites)', async (t) => {
  // The hub seals its answers under its own policy and holds only an RSA key: SM-only would be one-way.
  await t.rejects(hubFixture(t, { config: { suites: ['SM'] } }), { code: 'ERR_CONFIG_INVALID', details: { key: 'suites', keyType: 'rsa' }, message: /admits no suite the hub's own rsa key can seal with/ });
});

t.test('suites: ["SM", "EC"]: the hub starts, since its EC P-256 identity can seal under EC (issue 23)', async (t) => {
  const f = await hubFixture(t, { config: { suites: ['SM', 'EC'] } });
  const info = await f.call(f.anonymous, 'GET', '/v1/protocol');
  t.same(info.json.suites, ['CF1-ECDH-ES-A256KW-A256GCM-ES256', 'CF1-SM2-SM4GCM-SM3']);
  t.same(Object.keys(info.json.suiteCerts), ['CF1-ECDH-ES-A256KW-A256GCM-ES256'], 'a certificate for the suite whose key it holds (no SM2 root here)');
});

t.test('suites: ["RSA"] advertises only the RSA suite, refuses an envelope in another suite, and the hub answers in RSA', async (t) => {
  const f = await hubFixture(t, { config: { suites: ['RSA'] } });
  const info = await f.call(f.anonymous, 'GET', '/v1/protocol');
  t.equal(info.status, 200);
  t.same(info.json.suites, ['CF1-RSA-OAEP-256-A256GCM-PS256']);
  const cs = await f.enrol('430100', 2);
  const rsa = await f.sealFrom(cs, 'batch', { records: [], withdrawals: [] });
  const relabelled = { ...rsa, suite: 'CF1-ECDH-ES-A256KW-A256GCM-ES256' };
  const r = await f.call(cs.agent, 'POST', '/v1/batches', relabelled, { 'content-type': 'application/json' });
  t.equal(r.status, 400);
  t.equal(r.json.code, 'ERR_SUITE_REFUSED');
  t.same(r.json.details, { suite: 'CF1-ECDH-ES-A256KW-A256GCM-ES256', allowed: ['RSA'] });
  const ok = await f.call(cs.agent, 'POST', '/v1/batches', rsa, { 'content-type': 'application/json' });
  t.equal(ok.status, 200, JSON.stringify(ok.json));
  t.equal(ok.json.suite, 'CF1-RSA-OAEP-256-A256GCM-PS256', 'the receipt is sealed in an admitted suite');
});

t.test('without a policy every usable suite is advertised', async (t) => {
  const f = await hubFixture(t);
  const info = await f.call(f.anonymous, 'GET', '/v1/protocol');
  t.ok(info.json.suites.includes('CF1-SM2-SM4GCM-SM3') && info.json.suites.includes('CF1-RSA-OAEP-256-A256GCM-PS256'));
});

t.test('a bad suite policy is a config error naming the key', async (t) => {
  const base = { dataDir: '/nonexistent', caDir: '/nonexistent' };
  for (const [suites, key] of [[[], 'suites'], [['DES'], 'suites[0]'], ['SM', 'suites']] as const) {
    t.throws(() => buildHubConfig({ ...base, suites }, {}), { code: 'ERR_CONFIG_INVALID', details: { key } }, JSON.stringify(suites));
  }
});
