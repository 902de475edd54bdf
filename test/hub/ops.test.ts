/**
 * The hub's edges (SQLite): client certificates the per-request check refuses (foreign CA,
 * expired, not in the register, the hub's own), refusals in the audit log, rate limiting,
 * metrics, unknown routes, checkpoint routes, and logs without personal data.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import t from 'tap';
import { Agent } from 'undici';
import { tlsClientOptions } from '../../certs/tls.js';
import { issue, makeCa } from '../helpers/pki.js';
import { hubFixture, wire } from './fixture.js';

const lines: string[] = [];
const logStream = new Writable({
  write(chunk: Buffer, _enc, done) {
    lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
    done();
  },
});

t.test('client certificates the hub refuses, each audited', async (t) => {
  const f = await hubFixture(t, { config: { logLevel: 'info' }, logStream });
  const ctx = f.hub.app.hubCtx;
  const ca = { certPem: f.caCertPem, keyPem: readFileSync(join(f.caDir, 'ca.key'), 'utf8') };
  const agentFor = (id: { certPem: string; keyPem: string }) => {
    const a = new Agent({ connect: { ...tlsClientOptions({ caCertPem: f.caCertPem, certPem: id.certPem, keyPem: id.keyPem }) } });
    t.teardown(() => a.close());
    return a;
  };
  const cases: [string, { certPem: string; keyPem: string }, number, string][] = [
    ['a certificate from another CA', issue(makeCa('Rogue CA'), '430100'), 403, 'ERR_CERT_UNTRUSTED'],
    ['an expired certificate from the provincial CA', issue(ca, '430100', { notBefore: new Date(Date.now() - 10 * 86_400_000), notAfter: new Date(Date.now() - 86_400_000) }), 403, 'ERR_CERT_EXPIRED'],
    ['a certificate from the CA that the hub never issued (not enrolled)', issue(ca, '430100'), 403, 'ERR_NODE_UNKNOWN'],
    ["the hub's own certificate", { certPem: ctx.identity.certPem, keyPem: ctx.identity.keyPem }, 403, 'ERR_NODE_UNKNOWN'],
  ];
  for (const [what, id, status, code] of cases) {
    const r = await f.call(agentFor(id), 'GET', '/v1/distributions');
    t.equal(r.status, status, what);
    t.equal(r.json.code, code, what);
  }
  const refused = await ctx.db('audit_log').where({ action: 'request.refused' }).select('actor', 'reason', 'object');
  t.same(refused.map((r: { reason: string }) => r.reason), cases.map((c) => c[3]), 'every refusal is in the audit log');
  t.match(refused[0].actor, /^cert:[0-9a-f]{64}$/);
  t.equal(refused[0].object, 'GET /v1/distributions');
});

t.test('checkpoint routes, metrics, unknown routes, logs without personal data', async (t) => {
  lines.length = 0;
  const f = await hubFixture(t, { config: { logLevel: 'info' }, logStream });
  const cs = await f.enrol('430100', 3);
  const latest = await f.call(cs.agent, 'GET', '/v1/checkpoints/latest');
  t.equal(latest.status, 200);
  t.same(latest.json, { nodeId: '430100', treeSize: 0, rootHash: null, cosignedAt: null });

  const rec = wire('XK');
  const env = await f.sealFrom(cs, 'batch', { records: [rec], withdrawals: [] });
  t.equal((await f.call(cs.agent, 'POST', '/v1/batches', env)).status, 200);
  const q = await f.sealFrom(cs, 'query', { subject: rec.fields.uscc, actor: 'user:bob', clearance: 'public' });
  t.equal((await f.call(cs.agent, 'POST', '/v1/queries', q)).status, 200);

  const metrics = await f.call(f.anonymous, 'GET', '/metrics');
  t.equal(metrics.status, 200);
  const text = String(metrics.json);
  t.match(text, /credit_hub_batches_total\{outcome="accepted",node="430000"\} 1/);
  t.match(text, /credit_hub_batch_records_total\{outcome="accepted",node="430000"\} 1/);
  t.match(text, /credit_hub_queries_total\{node="430000"\} 1/);
  t.match(text, /credit_hub_nodes\{status="active",node="430000"\} 1/);
  t.match(text, /credit_hub_records\{status="active",node="430000"\} 1/);

  const missing = await f.call(cs.agent, 'GET', '/v1/nothing');
  t.equal(missing.status, 404);
  t.equal(missing.json.code, 'ERR_ROUTE_NOT_FOUND');

  const logged = lines.join('\n');
  t.ok(logged.includes('"url":"/v1/queries"'), 'requests are logged');
  t.notOk(logged.includes(String(rec.fields.uscc)), 'no subject code in any log line');
  t.notOk(logged.includes(String(rec.fields.subjectName)), 'no subject name in any log line');
});

t.test('rate limit: 429 ERR_RATE_LIMITED with Retry-After, per node', async (t) => {
  const f = await hubFixture(t, { config: { rateLimit: { enabled: true, max: 3, timeWindowMs: 60_000 } } });
  const statuses: number[] = [];
  let last;
  for (let i = 0; i < 4; i++) {
    last = await f.call(f.anonymous, 'GET', '/healthz');
    statuses.push(last.status);
  }
  t.same(statuses, [200, 200, 200, 429]);
  t.equal(last!.json.code, 'ERR_RATE_LIMITED');
  t.ok(Number(last!.headers['retry-after']) > 0, 'Retry-After set');
  const cs = await f.enrol('430100', 2).catch((e: Error) => e);
  t.match(String(cs), /ERR_RATE_LIMITED/, 'enrolment from the same address is limited too');
  const other = await hubFixture(t, { config: { rateLimit: { enabled: true, max: 2, timeWindowMs: 60_000 } } });
  const node = await other.enrol('430700', 1);
  for (let i = 0; i < 2; i++) await other.call(other.anonymous, 'GET', '/healthz');
  t.equal((await other.call(other.anonymous, 'GET', '/healthz')).status, 429, 'the address is limited');
  t.equal((await other.call(node.agent, 'GET', '/healthz')).status, 200, 'a node with its certificate has its own budget');
});

t.test('bad envelopes never give a 500: each has its code', async (t) => {
  const f = await hubFixture(t);
  const cs = await f.enrol('430100', 2);
  const good = await f.sealFrom(cs, 'batch', { records: [], withdrawals: [] });
  const flip = (s: string) => (s[0] === 'A' ? 'B' : 'A') + s.slice(1);
  const cases: [string, unknown, string][] = [
    ['empty object', {}, 'ERR_ENVELOPE_MALFORMED'],
    ['array', [], 'ERR_ENVELOPE_MALFORMED'],
    ['null', 'null', 'ERR_ENVELOPE_MALFORMED'],
    ['empty body', '', 'ERR_ENVELOPE_MALFORMED'],
    ['tampered signature', { ...good, sig: { ...good.sig, signature: flip(good.sig.signature) } }, 'ERR_SIGNATURE_INVALID'],
    ['tampered ciphertext', { ...good, enc: { ...good.enc, ciphertext: flip(good.enc.ciphertext) } }, 'ERR_SIGNATURE_INVALID'],
    ['version 2.0', { ...good, v: '2.0' }, 'ERR_PROTOCOL_VERSION'],
    ['planned suite', { ...good, suite: 'CF1-SM2KA-SM4GCM-SM3' }, 'ERR_UNKNOWN_SUITE'],
  ];
  for (const path of ['/v1/batches', '/v1/queries', '/v1/checkpoints']) {
    for (const [what, body, code] of cases) {
      const r = await f.call(cs.agent, 'POST', path, body, { 'content-type': 'application/json' });
      t.ok(r.status >= 400 && r.status < 500, `${path} ${what}: ${r.status}`);
      t.equal(r.json.code, code, `${path} ${what}`);
    }
  }
});
