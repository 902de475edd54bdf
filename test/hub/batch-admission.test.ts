/**
 * How many nodes' batches one hub process takes at once (hub/batch-admission.ts): the batches of
 * `intakeMaxNodes` nodes, two each, admitted before their body is read; others answered 503
 * ERR_HUB_BUSY with Retry-After: 1, and nothing of them is read or counted; a slot is freed when its
 * batch is answered, and when the upload is abandoned before the batch was taken.
 */
import type { ClientRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { Writable } from 'node:stream';
import t from 'tap';
import { tlsClientOptions } from '../../certs/tls.js';
import { BATCHES_PER_NODE, batchAdmission } from '../../hub/batch-admission.js';
import { eventually } from '../node/exchange-fixture.js';
import { hubFixture, wire, type HubFixture, type TestNode } from './fixture.js';

const codeOf = (f: () => unknown): string | undefined => {
  try {
    f();
    return undefined;
  } catch (e) {
    return (e as { code?: string }).code;
  }
};

t.test('the admission table: two batches a node, maxNodes nodes, released once', async (t) => {
  const a = batchAdmission(2);
  const a1 = a.admit('430100');
  const a2 = a.admit('430100');
  t.equal(BATCHES_PER_NODE, 2);
  t.equal(codeOf(() => a.admit('430100')), 'ERR_HUB_BUSY', 'a third batch of one node');
  const b1 = a.admit('430700');
  t.equal(codeOf(() => a.admit('431000')), 'ERR_HUB_BUSY', 'a third node');
  t.same(a.load(), { nodes: 2, batches: 3 });
  a1.release();
  a1.release(); // once only
  t.same(a.load(), { nodes: 2, batches: 2 });
  t.equal(codeOf(() => a.admit('431000')), 'ERR_HUB_BUSY', 'the node still has a batch under way');
  a2.release();
  const c1 = a.admit('431000');
  t.same(a.load(), { nodes: 2, batches: 2 });
  t.ok(a2.released && !c1.released);
  b1.release();
  c1.release();
  t.same(a.load(), { nodes: 0, batches: 0 });
});

/** Starts a POST /v1/batches from `node` and sends only the first bytes of `text`: the batch is admitted and waits for the rest. */
function partialUpload(f: HubFixture, node: TestNode, text: string): { req: ClientRequest; answer: Promise<{ status: number; body: string }> } {
  const req = httpsRequest(`${f.url}/v1/batches`, {
    method: 'POST',
    agent: false,
    ...tlsClientOptions({ caCertPem: f.caCertPem, certPem: node.certPem, keyPem: node.keyPem }),
    headers: { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(text)) },
  });
  const answer = new Promise<{ status: number; body: string }>((resolve, reject) => {
    req.on('response', (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
  });
  req.write(text.slice(0, 64));
  return { req, answer };
}

t.test('intakeMaxNodes: 1 — a second node is answered 503 ERR_HUB_BUSY before its body is read, and taken once the first is answered', async (t) => {
  const lines: Record<string, unknown>[] = [];
  const logStream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString('utf8').split('\n')) if (l.trim() !== '') lines.push(JSON.parse(l) as Record<string, unknown>);
      cb();
    },
  });
  const f = await hubFixture(t, { config: { intakeMaxNodes: 1, logLevel: 'info' }, logStream });
  const changsha = await f.enrol('430100', 3);
  const changde = await f.enrol('430700', 3);
  const probe = () => f.call(changde.agent, 'POST', '/v1/batches', {}); // not an envelope: 400 once admitted

  const first = await f.sealFrom(changsha, 'batch', { records: [wire('CF')], withdrawals: [] }, { seq: 1 });
  const text = JSON.stringify(first);
  const up = partialUpload(f, changsha, text);
  const busy = await eventually('常德 to be refused while 长沙 uploads', async () => {
    const r = await probe();
    return r.status === 503 ? r : undefined;
  });
  t.equal(busy.json.code, 'ERR_HUB_BUSY');
  t.equal(busy.json.details.reason, 'nodes');
  t.equal(busy.headers['retry-after'], '1', 'Retry-After: 1');
  const logged = lines.filter((l) => (l.res as { statusCode?: number } | undefined)?.statusCode === 503);
  t.ok(logged.length >= 1 && logged.every((l) => l.level === 40), 'logged as a warning ("not now"), not as a failure');
  t.notOk(lines.some((l) => Number(l.level) >= 50), 'no error lines');
  t.equal(Number((await f.hub.app.hubCtx.db('hub_envelopes').count({ n: '*' }).first())?.n), 0, 'nothing of either batch taken yet');

  // 长沙's pipeline: a second batch of its own is admitted beside the first, a third is refused
  const second = partialUpload(f, changsha, JSON.stringify(await f.sealFrom(changsha, 'batch', { records: [wire('CF')], withdrawals: [] }, { seq: 2 })));
  const third = await eventually('长沙 to hold two batches', async () => {
    const r = await f.call(changsha.agent, 'POST', '/v1/batches', {});
    return r.status === 503 ? r : undefined;
  });
  t.equal(third.json.details.reason, 'node', 'a third batch of one node');

  // the first upload ends: its receipt; the abandoned second frees its slot too
  up.req.end(text.slice(64));
  const answered = await up.answer;
  t.equal(answered.status, 200, answered.body);
  t.equal(JSON.parse(answered.body).type, 'receipt');
  second.req.destroy();
  await second.answer.catch(() => undefined);
  const taken = await eventually('常德 to be taken', async () => {
    const r = await probe();
    return r.status !== 503 ? r : undefined;
  });
  t.equal(taken.json.code, 'ERR_ENVELOPE_MALFORMED', 'read and opened now');

  // 常德's real batch goes through, and a refused one costs no seq
  const batch = await f.sealFrom(changde, 'batch', { records: [wire('CF')], withdrawals: [] }, { seq: 1 });
  const ok = await f.call(changde.agent, 'POST', '/v1/batches', batch);
  t.equal(ok.status, 200);
  t.same((await f.hub.app.hubCtx.db('hub_envelopes').where({ type: 'batch' }).orderBy('from_node').select('from_node', 'seq')).map((r: { from_node: string; seq: number }) => [r.from_node, Number(r.seq)]), [['430100', 1], ['430700', 1]]);
});
