/**
 * Bodies and requests that break the HTTP edge, on every route of a real node and a real hub
 * listening on loopback with their default limits (node: 1 MiB JSON, 4 GiB import; hub: 1 MiB
 * enrol/renew, 16 MiB envelopes): a declared or streamed body over the limit → 413
 * ERR_BODY_TOO_LARGE; a body cut off before its Content-Length → 400 ERR_REQUEST_INVALID (or the
 * connection closed) and nothing stored; truncated JSON and 100k-deep JSON → 400 with the route's
 * code; undecodable URLs, oversized headers and garbage request lines → ERR_REQUEST_INVALID. The
 * server answers /healthz after each.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { tlsClientOptions } from '../../certs/tls.js';
import { buildConfig } from '../../node/config.js';
import { startNode } from '../../node/server.js';
import { mintServiceTokenFor } from '../../node/service-tokens.js';
import { ENROLL_BODY_LIMIT } from '../../hub/routes/public.js';
import { hubFixture, wire } from '../hub/fixture.js';
import { record } from '../node/app-fixture.js';
import { jsonOf, nested, rawHttp, type RawAnswer } from './hostile-support.js';

const MIB = 1024 * 1024;
const chunked = (bytes: number, fill = 'x'): string[] => {
  const piece = fill.repeat(256 * 1024);
  const out: string[] = [];
  for (let sent = 0; sent < bytes; sent += piece.length) out.push(`${piece.length.toString(16)}\r\n${piece}\r\n`);
  return [...out, '0\r\n\r\n'];
};
const codeOf = (a: RawAnswer) => jsonOf(a.body)?.code;

interface Route {
  path: string;
  type: string;
  limit: number;
  /** Code for truncated JSON text and for 100k-deep JSON (null: the import answers 200 with the line rejected). */
  badJson: string | null;
}

/** Runs every attack on every route through `send`; `count()` tells how many rows the store holds. */
async function attack(t: Test, url: string, head: (m: string, p: string, extra: string) => string, routes: Route[], count: () => Promise<number>, tls?: object) {
  const send = (p: string, extra: string, o: { chunks?: (string | Buffer)[]; endEarly?: boolean } = {}) => rawHttp(url + p, { head: head('POST', p, extra), ...o, ...(tls ? { tls } : {}), waitMs: 5000 });
  const before = await count();
  for (const r of routes) {
    const ct = `content-type: ${r.type}`;
    const declared = await send(r.path, `${ct}\r\ncontent-length: ${r.limit + 1}`, { chunks: ['{'] });
    t.equal(declared.status, 413, `${r.path}: Content-Length over ${r.limit} → 413`);
    t.equal(codeOf(declared), 'ERR_BODY_TOO_LARGE');
    if (r.limit <= 16 * MIB) {
      const streamed = await send(r.path, `${ct}\r\ntransfer-encoding: chunked`, { chunks: chunked(r.limit + 64 * 1024, ' ') });
      t.equal(streamed.status, 413, `${r.path}: a chunked body over ${r.limit} → 413`);
      t.equal(codeOf(streamed), 'ERR_BODY_TOO_LARGE');
    }
    const body = r.type === 'application/x-ndjson' ? JSON.stringify(record('CF', { decisionNo: 'CUT-1' })) + '\n' : JSON.stringify(record('CF', { decisionNo: 'CUT-2' }));
    const cut = await send(r.path, `${ct}\r\ncontent-length: ${body.length + 500}`, { chunks: [body], endEarly: true });
    t.ok(cut.status === 0 || (cut.status === 400 && codeOf(cut) === 'ERR_REQUEST_INVALID'), `${r.path}: body cut short → ${cut.status || 'closed'} ${codeOf(cut) ?? ''}`);
    const half = '{"type":"CF","fields":{"subjectN';
    const truncated = await send(r.path, `${ct}\r\ncontent-length: ${half.length}`, { chunks: [half] });
    const deep = nested(100_000, 'object');
    const nestedAnswer = await send(r.path, `${ct}\r\ncontent-length: ${deep.length}`, { chunks: [deep] });
    for (const [what, a] of [['truncated JSON', truncated], ['100k-deep JSON', nestedAnswer]] as const) {
      if (what === '100k-deep JSON' && deep.length > r.limit) {
        t.equal(a.status, 413, `${r.path}: ${what} over the route's ${r.limit} bytes → 413`);
        t.equal(codeOf(a), 'ERR_BODY_TOO_LARGE');
      } else if (r.badJson === null) {
        t.equal(a.status, 200, `${r.path}: ${what} → 200, the line rejected`);
        t.equal((jsonOf(a.body) as { rejected?: number } | undefined)?.rejected, 1);
      } else {
        t.equal(a.status, 400, `${r.path}: ${what} → 400`);
        t.equal(codeOf(a), r.badJson, `${r.path}: ${what} → ${r.badJson}`);
      }
    }
    const health = await rawHttp(`${url}/healthz`, { head: head('GET', '/healthz', 'x-probe: 1'), ...(tls ? { tls } : {}) });
    t.equal(health.status, 200, `/healthz answers after the attacks on ${r.path}`);
  }
  t.equal(await count(), before, 'nothing was stored by any cut, oversized or malformed body');
  const bad = await rawHttp(`${url}/v1/records/%E0%A4%A`, { head: head('GET', '/v1/records/%E0%A4%A', 'x-probe: 1'), ...(tls ? { tls } : {}) });
  t.equal(bad.status, 400, 'undecodable URL → 400');
  t.equal(codeOf(bad), 'ERR_REQUEST_INVALID');
  const headers = await rawHttp(`${url}/healthz`, { head: head('GET', '/healthz', `x-big: ${'a'.repeat(100_000)}`), ...(tls ? { tls } : {}) });
  t.equal(headers.status, 431, '100 kB of headers → 431');
  t.equal(codeOf(headers), 'ERR_REQUEST_INVALID');
  const garbage = await rawHttp(`${url}/`, { head: 'HELLO THERE\r\nx: y', ...(tls ? { tls } : {}) });
  t.equal(garbage.status, 400, 'a garbage request line → 400');
  t.equal(codeOf(garbage), 'ERR_REQUEST_INVALID');
}

t.test('a city node with its default limits', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'hostile-http-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const config = buildConfig({ nodeId: '430100', dataDir: join(dir, 'data'), listen: { host: '127.0.0.1', port: 0 }, logLevel: 'silent' }, {});
  t.equal(config.bodyLimitBytes, MIB, 'default JSON body limit 1 MiB');
  t.equal(config.importLimitBytes, 4096 * MIB, 'default import limit 4 GiB');
  t.equal(config.rateLimit.enabled, true, 'rate limit on by default');
  const node = await startNode({ config });
  t.teardown(() => node.close());
  const token = (await mintServiceTokenFor(config, { user: 'x', role: 'officer', clearance: 'internal', ttlSeconds: 600 })).token;
  const id = '0190a1b2-c3d4-7e5f-8a6b-7c8d9e0f1a2b';
  const head = (m: string, p: string, extra: string) => `${m} ${p} HTTP/1.1\r\nHost: 127.0.0.1\r\nauthorization: Bearer ${token}\r\n${extra}`;
  const json = (path: string): Route => ({ path, type: 'application/json', limit: config.bodyLimitBytes, badJson: 'ERR_REQUEST_INVALID' });
  const routes: Route[] = [
    json('/v1/records'), json(`/v1/records/${id}/objections`), json(`/v1/objections/${id}/resolve`), json(`/v1/records/${id}/withdraw`),
    { path: '/v1/records/import?type=CF', type: 'application/x-ndjson', limit: config.importLimitBytes, badJson: null },
  ];
  const { connect } = await import('../../audit/knex-connect.js');
  const db = await connect(config.databaseTarget);
  t.teardown(() => db.destroy());
  await attack(t, node.url, head, routes, async () => Number((await db('node_records').count({ n: '*' }).first())?.n));
  for (const p of [`/v1/records/${id}`, '/v1/subjects/91430102MA4L0000X1', '/v1/exchange/status', '/healthz', '/readyz', '/metrics', '/docs/json']) {
    const plain = await rawHttp(node.url + p, { head: head('GET', p, 'x-probe: 1') });
    const withBody = await rawHttp(node.url + p, { head: head('GET', p, 'content-type: application/json\r\ntransfer-encoding: chunked'), chunks: chunked(2 * MIB) });
    t.ok(plain.status > 0 && (plain.status < 500 || codeOf(plain) === 'ERR_HUB_UNAVAILABLE'), `GET ${p}: ${plain.status} ${codeOf(plain) ?? ''}`);
    t.equal(withBody.status, plain.status, `GET ${p} with a 2 MiB body: the body is ignored`);
  }
});

t.test('a node with a 64 KiB import limit: a chunked upload past it → 413', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'hostile-http-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const config = buildConfig({ nodeId: '430100', dataDir: join(dir, 'data'), listen: { host: '127.0.0.1', port: 0 }, logLevel: 'silent', importLimitBytes: 65_536 }, {});
  const node = await startNode({ config });
  t.teardown(() => node.close());
  const token = (await mintServiceTokenFor(config, { user: 'x', role: 'submitter', clearance: 'public', ttlSeconds: 600 })).token;
  const lines = Array.from({ length: 200 }, (_, i) => JSON.stringify(record('CF', { decisionNo: `BIG-${i}` })) + '\n').join('');
  const a = await rawHttp(`${node.url}/v1/records/import`, { head: `POST /v1/records/import HTTP/1.1\r\nHost: x\r\nauthorization: Bearer ${token}\r\ncontent-type: application/x-ndjson\r\ntransfer-encoding: chunked`, chunks: [`${Buffer.byteLength(lines).toString(16)}\r\n${lines}\r\n`, '0\r\n\r\n'] });
  t.equal(a.status, 413);
  t.equal(codeOf(a), 'ERR_BODY_TOO_LARGE');
});

t.test('the hub with its default limits', async (t) => {
  const f = await hubFixture(t);
  const cs = await f.enrol('430100', 3);
  t.equal(f.config.bodyLimitBytes, MIB, 'default renew body limit 1 MiB (enrol: ENROLL_BODY_LIMIT, 20 KiB)');
  t.equal(f.config.maxEnvelopeBytes, 16 * MIB, 'default envelope limit 16 MiB');
  const tls = { ...tlsClientOptions({ caCertPem: f.caCertPem, certPem: cs.certPem, keyPem: cs.keyPem }), servername: 'localhost' };
  const head = (m: string, p: string, extra: string) => `${m} ${p} HTTP/1.1\r\nHost: 127.0.0.1\r\n${extra}`;
  const envelope = (path: string): Route => ({ path, type: 'application/json', limit: f.config.maxEnvelopeBytes, badJson: 'ERR_ENVELOPE_MALFORMED' });
  const plain = (path: string): Route => ({ path, type: 'application/json', limit: f.config.bodyLimitBytes, badJson: 'ERR_REQUEST_INVALID' });
  const db = f.hub.app.hubCtx.db;
  const rows = async () => Number((await db('hub_records').count({ n: '*' }).first())?.n) + Number((await db('hub_envelopes').count({ n: '*' }).first())?.n);
  await attack(t, f.url, head, [{ ...plain('/v1/enroll'), limit: ENROLL_BODY_LIMIT }, plain('/v1/renew'), envelope('/v1/batches'), envelope('/v1/queries'), envelope('/v1/checkpoints')], rows, tls);
  const ok = await f.call(cs.agent, 'POST', '/v1/batches', await f.sealFrom(cs, 'batch', { records: [wire('XK')], withdrawals: [] }));
  t.equal(ok.status, 200, 'a good batch still goes through');
  for (const p of ['/v1/distributions', '/v1/checkpoints/latest', '/v1/protocol', '/v1/crl', '/healthz', '/readyz', '/metrics']) {
    const a = await rawHttp(f.url + p, { head: head('GET', p, 'content-type: application/json\r\ntransfer-encoding: chunked'), chunks: chunked(2 * MIB), tls });
    t.equal(a.status, 200, `GET ${p} with a 2 MiB body: the body is ignored`);
  }
});
