import t from 'tap';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { Agent, request } from 'undici';
import { makeResidentId } from '../../protocol/identifiers.js';
import { connect } from '../../audit/knex-connect.js';
import { buildConfig } from '../../node/config.js';
import { startNode } from '../../node/server.js';
import { loggableError } from '../../node/logger.js';
import { mintServiceTokenFor } from '../../node/service-tokens.js';
import { metricValue, nodeFixture, record } from './app-fixture.js';

t.test('healthz, readyz, metrics, OpenAPI', async (t) => {
  const f = await nodeFixture(t);
  t.same((await f.app.inject({ url: '/healthz' })).json(), { status: 'ok', nodeId: '430100' });
  t.same((await f.app.inject({ url: '/readyz' })).json(), { status: 'ready', nodeId: '430100' });
  await f.app.inject({ method: 'POST', url: '/v1/records', headers: await f.auth('submitter', 'public'), payload: record('CF') });
  const m = await f.app.inject({ url: '/metrics' });
  t.match(m.headers['content-type'], /text\/plain/);
  t.match(m.body, /# TYPE credit_node_records gauge/);
  t.equal(metricValue(m.body, 'credit_node_records', { status: 'active', node: '430100' }), 1);
  t.equal(metricValue(m.body, 'credit_node_http_request_duration_seconds_count', { method: 'POST', route: '/v1/records', status: '201' }), 1);
  const session = await f.auth('query', 'public'); // the API description needs a session (issue 18)
  const doc = (await f.app.inject({ url: '/docs/json', headers: session })).json();
  t.equal(doc.openapi.slice(0, 2), '3.');
  for (const p of ['/v1/records', '/v1/records/import', '/v1/records/{id}', '/v1/subjects/{code}', '/v1/records/{id}/objections', '/v1/records/{id}/withdraw', '/v1/objections/{id}/resolve', '/healthz', '/readyz', '/metrics']) {
    t.ok(doc.paths[p], `OpenAPI documents ${p}`);
  }
  const ui = await f.app.inject({ url: '/docs/', headers: session });
  t.equal(ui.statusCode, 200, 'swagger UI');
  f.app.nodeCtx.state.closing = true;
  const closing = await f.app.inject({ url: '/readyz' });
  t.equal(closing.statusCode, 503);
  t.equal(closing.json().code, 'ERR_NOT_READY');
  f.app.nodeCtx.state.closing = false;
});

t.test('rate limit: 429 ERR_RATE_LIMITED with Retry-After', async (t) => {
  const f = await nodeFixture(t, { config: { rateLimit: { enabled: true, max: 3, timeWindowMs: 60000 } } });
  for (let i = 0; i < 3; i++) t.equal((await f.app.inject({ url: '/healthz' })).statusCode, 200);
  const res = await f.app.inject({ url: '/healthz' });
  t.equal(res.statusCode, 429);
  t.equal(res.json().code, 'ERR_RATE_LIMITED');
  t.ok(Number(res.headers['retry-after']) > 0, 'Retry-After set');
});

t.test('logs carry no subject codes, personal data or tokens', async (t) => {
  const lines: string[] = [];
  const sink = new Writable({ write: (c, _e, cb) => (lines.push(String(c)), cb()) });
  const f = await nodeFixture(t, { config: { logLevel: 'trace' }, logStream: sink });
  const id = makeResidentId({ birth: '1991-02-03', seq: 77 });
  const headers = await f.auth('officer', 'internal');
  await f.app.inject({ method: 'POST', url: '/v1/records', headers, payload: record('CF', { subjectCategory: '自然人', subjectName: '王五', uscc: undefined, legalRep: undefined, idType: '身份证', idNumber: id }) });
  await f.app.inject({ url: `/v1/subjects/${id}`, headers });
  await f.app.inject({ url: `/v1/subjects/${id}x`, headers });
  f.app.log.info({ subject: id, fields: { idNumber: id }, uscc: '91430102MA4L0000X1' }, 'a careless log call');
  const all = lines.join('');
  t.ok(all.includes('"url":"/v1/subjects/:code"'), 'URLs logged as their route template');
  t.notOk(all.includes(id), 'the resident ID never appears');
  t.notOk(all.includes('王五'), 'the name never appears');
  t.notOk(all.includes('91430102MA4L0000X1'));
  t.notOk(all.includes(headers.authorization.slice(7)), 'the token never appears');
});

t.test('TLS on the local API (config listen.tls), real listener', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'node-tls-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const key = join(dir, 'key.pem');
  const cert = join(dir, 'cert.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
  const config = buildConfig({ nodeId: '430100', dataDir: join(dir, 'data'), listen: { host: '127.0.0.1', port: 0, tls: { certFile: cert, keyFile: key } }, logLevel: 'silent' }, {});
  const node = await startNode({ config });
  t.teardown(() => node.close());
  t.match(node.url, /^https:\/\/127\.0\.0\.1:\d+$/);
  const agent = new Agent({ connect: { ca: readFileSync(cert) } });
  t.teardown(() => agent.close());
  const token = (await mintServiceTokenFor(config, { user: 'x', role: 'submitter', clearance: 'public', ttlSeconds: 60 })).token;
  const res = await request(`${node.url}/v1/records`, { method: 'POST', dispatcher: agent, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(record('CF')) });
  t.equal(res.statusCode, 201);
  await res.body.dump();
});

t.test('graceful shutdown lets an in-flight import finish, then closes the store', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'node-close-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  // importBatchSize 1: each line commits on its own, so a committed row proves the node accepted the request and is running it.
  const config = buildConfig({ nodeId: '430100', dataDir: join(dir, 'data'), listen: { host: '127.0.0.1', port: 0 }, logLevel: 'silent', importBatchSize: 1 }, {});
  const node = await startNode({ config });
  const token = (await mintServiceTokenFor(config, { user: 'x', role: 'submitter', clearance: 'public', ttlSeconds: 60 })).token;
  const line = (i: number) => JSON.stringify(record('CF', { decisionNo: `SD-${i}` })) + '\n';
  // The body holds back lines 1..4 until shutdown has begun, so the import is in flight when close() starts, however slow the machine.
  let shutdownBegun!: () => void;
  const shutdown = new Promise<void>((r) => (shutdownBegun = r));
  async function* body() {
    yield line(0);
    await shutdown;
    for (let i = 1; i < 5; i++) {
      yield line(i);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  const pending = request(`${node.url}/v1/records/import`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/x-ndjson' }, body: Readable.from(body()) });
  // Wait (no fixed sleep) until the node has committed the first line: the route handler is running, so shutdown cannot answer 503.
  const started = Date.now();
  while (Number((await node.app.nodeCtx.db('node_records').count({ n: '*' }))[0]!.n) < 1) {
    if (Date.now() - started > 60_000) throw new Error('the node never committed the first import line');
    await new Promise((r) => setTimeout(r, 20));
  }
  const closed = node.close();
  shutdownBegun();
  const res = await pending;
  t.equal(res.statusCode, 200, 'the request in flight is answered');
  t.match(await res.body.json(), { accepted: 5 });
  await closed;
  const db = await connect(config.databaseTarget);
  t.teardown(() => db.destroy());
  t.equal((await db('node_records')).length, 5, 'all its records were committed');
});

t.test('a failing record hook rolls the write back and answers 500 ERR_INTERNAL, logged without data', async (t) => {
  const lines: string[] = [];
  const sink = new Writable({ write: (c, _e, cb) => (lines.push(String(c)), cb()) });
  const seen: string[] = [];
  const hooks = {
    onRecordWritten: [async (_trx: unknown, r: { id: string }) => {
      seen.push(r.id);
      throw new Error("insert into node_outbox values ('91430102MA4L0000X1', '张三') - SQLITE_CONSTRAINT: outbox full");
    }],
    onRecordWithdrawn: [],
  };
  const f = await nodeFixture(t, { hooks, logStream: sink, config: { logLevel: 'info' } });
  const res = await f.app.inject({ method: 'POST', url: '/v1/records', headers: await f.auth('submitter', 'public'), payload: record('CF') });
  t.equal(res.statusCode, 500);
  t.same(res.json(), { code: 'ERR_INTERNAL', message: 'internal error; see the node log' });
  t.equal(seen.length, 1, 'the hook ran inside the write');
  t.equal((await f.db('node_records')).length, 0, 'the record was rolled back with it');
  const log = lines.join('');
  t.match(log, /SQLITE_CONSTRAINT: outbox full/);
  t.notOk(log.includes('张三') || log.includes('91430102MA4L0000X1'), 'no data from the failed statement in the log');
  t.same(loggableError(new Error('plain 91430102MA4L0000X1')).message, 'plain [REDACTED]');
});
