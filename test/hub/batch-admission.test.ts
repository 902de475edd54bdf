/**
 * How many nodes' batches one hub process takes at once (hub/batch-admission.ts): the batches of
 * `intakeMaxNodes` nodes, two each, admitted before their body is read; others answered 503
 * ERR_HUB_BUSY with Retry-After: 1, and nothing of them is read or counted; a slot is freed when its
 * batch is answered, and when the upload is abandoned before the batch was taken.
 */
import type { ClientRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { connect as tlsConnect } from 'node:tls';
import t from 'tap';
import { logLines } from '../helpers/log-lines.js';
import { tlsClientOptions } from '../../certs/tls.js';
import { BATCHES_PER_NODE, batchAdmission, MAX_BUSY_RETRY_AFTER_S, retryAfterFor, TENURE_MS, uploadDeadlineMs, WAITING_MS } from '../../hub/batch-admission.js';
import { nodesStore } from '../../hub/nodes-store.js';
import { exampleRecord } from '../../protocol/catalog.js';
import { eventually, type NodeApp } from '../node/exchange-fixture.js';
import { hubAndNodes } from '../node/hub-and-nodes.js';
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
  let now = 0;
  const a = batchAdmission(2, () => now);
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
  t.equal(codeOf(() => a.admit('431000')), 'ERR_HUB_BUSY', 'a place is free, but 431000 was told to wait 1 s');
  now += 1000;
  const c1 = a.admit('431000');
  t.same(a.load(), { nodes: 2, batches: 2 });
  t.ok(a2.released && !c1.released);
  b1.release();
  c1.release();
  t.same(a.load(), { nodes: 0, batches: 0 });
});

t.test('a node gives way while others wait: its second batch is refused (turn), so its place ends with the first', async (t) => {
  let now = 1_000_000;
  const a = batchAdmission(1, () => now);
  const a1 = a.admit('430100');
  t.ok(a.admit('430100'), 'no one waits: the pipeline\'s second batch is taken');
  t.equal(codeOf(() => a.admit('430700')), 'ERR_HUB_BUSY', '常德 refused for want of a place, and now waits');
  a1.release();
  t.ok(a.admit('430100').release() === undefined, `within its first ${TENURE_MS} ms 长沙 keeps its place`);
  now += TENURE_MS;
  t.equal(codeOf(() => a.admit('430700')), 'ERR_HUB_BUSY', '常德 asks again');
  let reason: unknown;
  try {
    a.admit('430100');
  } catch (e) {
    reason = (e as { details?: { reason?: unknown } }).details?.reason;
  }
  t.equal(reason, 'turn', `after ${TENURE_MS} ms 长沙 gives way while 常德 waits`);
  t.equal(codeOf(() => a.admit('430700')), 'ERR_HUB_BUSY', '常德 still waits until 长沙\'s last batch ends');
  now += 1500 + WAITING_MS + 1; // 常德's Retry-After (1 s) with the node's jitter, and a round trip
  t.ok(a.admit('430100'), 'once 常德 has not asked for a while, 长沙 takes a second batch again');
});

t.test('the more nodes wait, the longer their Retry-After: a refused upload is still read to its end', async (t) => {
  const a = batchAdmission(2, () => 5_000_000);
  a.admit('430100');
  a.admit('430200');
  const after: unknown[] = [];
  for (let i = 0; i < 8; i++) {
    try {
      a.admit(`43${String(i + 30).padStart(2, '0')}00`);
    } catch (e) {
      after.push((e as { details?: { retryAfter?: unknown } }).details?.retryAfter);
    }
  }
  t.same(after, [1, 1, 2, 2, 3, 3, 4, 4], 'one second for each time round the 2 places');
  t.equal(retryAfterFor(1, 4), 1);
  t.equal(retryAfterFor(130, 4), MAX_BUSY_RETRY_AFTER_S, 'at most 30 s');
  t.equal(retryAfterFor(5, 0), 5, 'no division by zero');
});

t.test('a node told to wait is refused alike until its Retry-After has passed: the pair it sent together is not split', async (t) => {
  let now = 0;
  const a = batchAdmission(1, () => now);
  const held = a.admit('430100');
  let first: unknown;
  try {
    a.admit('430700'); // seq n
  } catch (e) {
    first = (e as { details?: unknown }).details;
  }
  t.same(first, { retryAfter: 1, reason: 'nodes' });
  held.release();
  now += 10;
  let second: unknown;
  try {
    a.admit('430700'); // seq n + 1, a few ms later: a place is free, but alone it could only be a gap
  } catch (e) {
    second = (e as { details?: unknown }).details;
  }
  t.same(second, { retryAfter: 1, reason: 'nodes' }, 'refused too, though a place is free');
  now += 1000;
  t.ok(a.admit('430700'), 'taken after its Retry-After');
});

t.test('a turn is given up only when the free places cannot take every waiting node', async (t) => {
  let now = 0;
  const a = batchAdmission(2, () => now, 100);
  a.admit('430100');
  const b = a.admit('430200');
  t.equal(codeOf(() => a.admit('430300')), 'ERR_HUB_BUSY', '430300 waits');
  b.release(); // one place free, one node waiting
  now += 200; // 430100's turn is over
  t.ok(a.admit('430100'), '430100 keeps sending: the free place is there for 430300');
  now += 10;
  t.equal(codeOf(() => a.admit('430400')), 'ERR_HUB_BUSY', '430400 waits too: the free place is 430300\'s, 430400 has none');
  // then 430300 comes back after its Retry-After: the free place is its own
  now += 1000;
  t.ok(a.admit('430300'), 'first come, first served');

  let reason: unknown;
  const c = batchAdmission(2, () => now, 100);
  c.admit('430100');
  const d = c.admit('430200');
  codeOf(() => c.admit('430300'));
  codeOf(() => c.admit('430400'));
  d.release(); // one place free, two nodes waiting
  now += 200;
  try {
    c.admit('430100');
  } catch (e) {
    reason = (e as { details?: { reason?: unknown } }).details?.reason;
  }
  t.equal(reason, 'turn', 'two wait for one free place: 430100 gives way');
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
  const { lines, logStream } = logLines();
  const f = await hubFixture(t, { config: { intakeMaxNodes: 1, logLevel: 'info' }, logStream });
  const changsha = await f.enrol('430100', 3);
  const changde = await f.enrol('430700', 3);
  const probe = (node: TestNode) => f.call(node.agent, 'POST', '/v1/batches', {}); // not an envelope: 400 once admitted

  // 长沙's pipeline: two batches uploading at once are admitted, a third is refused
  const first = await f.sealFrom(changsha, 'batch', { records: [wire('CF')], withdrawals: [] }, { seq: 1 });
  const text = JSON.stringify(first);
  const up = partialUpload(f, changsha, text);
  const second = partialUpload(f, changsha, JSON.stringify(await f.sealFrom(changsha, 'batch', { records: [wire('CF')], withdrawals: [] }, { seq: 2 })));
  const third = await eventually('长沙 to hold two batches', async () => {
    const r = await probe(changsha);
    return r.status === 503 ? r : undefined;
  });
  t.equal(third.json.details.reason, 'node', 'a third batch of one node');

  const busy = await probe(changde);
  t.equal(busy.status, 503);
  t.equal(busy.json.code, 'ERR_HUB_BUSY');
  t.equal(busy.json.details.reason, 'nodes');
  t.equal(busy.headers['retry-after'], '1', 'Retry-After: 1');
  const logged = lines.filter((l) => (l.res as { statusCode?: number } | undefined)?.statusCode === 503);
  t.ok(logged.length >= 2 && logged.every((l) => l.level === 40), 'logged as a warning ("not now"), not as a failure');
  t.notOk(lines.some((l) => Number(l.level) >= 50), 'no error lines');
  t.equal(Number((await f.hub.app.hubCtx.db('hub_envelopes').count({ n: '*' }).first())?.n), 0, 'nothing of either batch taken yet');

  // the first upload ends: its receipt; the abandoned second frees its slot too
  up.req.end(text.slice(64));
  const answered = await up.answer;
  t.equal(answered.status, 200, answered.body);
  t.equal(JSON.parse(answered.body).type, 'receipt');
  second.req.destroy();
  await second.answer.catch(() => undefined);
  const taken = await eventually('常德 to be taken', async () => {
    const r = await probe(changde);
    return r.status !== 503 ? r : undefined;
  });
  t.equal(taken.json.code, 'ERR_ENVELOPE_MALFORMED', 'read and opened now');

  // 常德's real batch goes through, and a refused one costs no seq
  const batch = await f.sealFrom(changde, 'batch', { records: [wire('CF')], withdrawals: [] }, { seq: 1 });
  const ok = await f.call(changde.agent, 'POST', '/v1/batches', batch);
  t.equal(ok.status, 200);
  t.same((await f.hub.app.hubCtx.db('hub_envelopes').where({ type: 'batch' }).orderBy('from_node').select('from_node', 'seq')).map((r: { from_node: string; seq: number }) => [r.from_node, Number(r.seq)]), [['430100', 1], ['430700', 1]]);
});

/** The node of `peer` kept waiting inside the client check (onRequest) until `release` is called: a slow store. */
function holdClientCheck(): { entered: Promise<void>; release: () => void; restore: () => void } {
  const orig = nodesStore.peer;
  let entered!: () => void;
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const inHook = new Promise<void>((r) => (entered = r));
  nodesStore.peer = (async (...a: Parameters<typeof orig>) => {
    entered();
    await gate;
    return orig.apply(nodesStore, a);
  }) as typeof orig;
  return { entered: inHook, release, restore: () => (nodesStore.peer = orig) };
}

t.test('no slot is lost: a client gone during the client check, a request pipelined on a closed connection, an upload past its deadline', async (t) => {
  const f = await hubFixture(t, { config: { intakeMaxNodes: 1, batchUploadGraceMs: 300 } });
  const changsha = await f.enrol('430100', 3);
  const changde = await f.enrol('430700', 3);
  const batchOf = async (node: TestNode, seq: number) => JSON.stringify(await f.sealFrom(node, 'batch', { records: [wire('CF')], withdrawals: [] }, { seq }));
  const takenNow = async (what: string) => {
    // 常德 is admitted (its probe is read and refused as no envelope) rather than told the hub is busy
    const r = await eventually(what, async () => {
      const x = await f.call(changde.agent, 'POST', '/v1/batches', {});
      return x.status !== 503 ? x : undefined;
    }, 5000);
    t.equal(r.json.code, 'ERR_ENVELOPE_MALFORMED', what);
  };

  // 1. the client leaves while the hub's client check still waits on the store (twice: both of 长沙's places)
  for (let i = 0; i < 2; i++) {
    const hold = holdClientCheck();
    try {
      const up = partialUpload(f, changsha, await batchOf(changsha, 1));
      up.answer.catch(() => undefined);
      await hold.entered;
      up.req.destroy();
      await new Promise((r) => setTimeout(r, 100));
    } finally {
      hold.restore();
      hold.release();
    }
  }
  await takenNow('a place after clients left during the client check');
  const own = await f.call(changsha.agent, 'POST', '/v1/batches', {});
  t.equal(own.json.code, 'ERR_ENVELOPE_MALFORMED', '长沙 itself is not refused for batches it no longer sends');

  // 2. a second request pipelined behind a first on one connection, part of its body sent, then closed
  const u = new URL(f.url);
  const one = await batchOf(changsha, 1);
  const two = await batchOf(changsha, 2);
  const head = (len: number) => `POST /v1/batches HTTP/1.1\r\nHost: ${u.host}\r\nContent-Type: application/json\r\nContent-Length: ${len}\r\n\r\n`;
  const sock = tlsConnect({ host: u.hostname, port: Number(u.port), ...tlsClientOptions({ caCertPem: f.caCertPem, certPem: changsha.certPem, keyPem: changsha.keyPem }) });
  sock.on('error', () => undefined);
  await new Promise<void>((r) => sock.once('secureConnect', () => r()));
  sock.write(head(Buffer.byteLength(one)) + one + head(Buffer.byteLength(two)) + two.slice(0, 64));
  await new Promise((r) => setTimeout(r, 100));
  sock.destroy();
  await takenNow('a place after a pipelined upload was abandoned');

  // 3. an upload that stops sending: closed at its deadline (300 ms of grace + its size at 128 KiB/s), its place freed
  const text = await batchOf(changsha, 2);
  t.ok(uploadDeadlineMs(Buffer.byteLength(text), f.config.maxEnvelopeBytes, 300) < 1000);
  const stalled = partialUpload(f, changsha, text);
  const closed = stalled.answer.then(() => 'answered', () => 'connection closed');
  await eventually('the stalled upload to hold the place', async () => ((await f.call(changde.agent, 'POST', '/v1/batches', {})).status === 503 ? true : undefined));
  t.equal(await closed, 'connection closed', 'the stalled upload is cut off');
  await takenNow('a place after an upload passed its deadline');
});

t.test('two nodes with a backlog and one place take turns (intakeTurnMs: 200)', async (t) => {
  const p = await hubAndNodes(t, 'turns', { intakeMaxNodes: 1, intakeTurnMs: 200 });
  const store = { db: p.hubDb };
  const nodes: NodeApp[] = [];
  for (const nodeId of ['430100', '430700']) nodes.push(await p.node(nodeId, { pollIntervalMs: 60_000, batchMaxRecords: 50, batchMaxAgeMs: 600_000, checkpointIntervalMs: 600_000 }));
  await Promise.all(nodes.map(async (n, k) => {
    const r = await n.app.inject({ method: 'POST', url: '/v1/records', headers: await n.auth('submitter', 'internal'), payload: Array.from({ length: 400 }, (_, j) => ({ type: 'CF', fields: { ...exampleRecord('CF').fields, decisionNo: `轮〔2026〕${k * 1000 + j}号` } })) });
    if (r.statusCode !== 201) throw new Error(r.body.slice(0, 300));
  }));
  await eventually('both backlogs at the hub', async () => {
    const r = await store.db('hub_envelopes').where({ type: 'batch' }).count({ n: '*' }).first();
    return Number(r?.n) >= 16 ? true : undefined;
  }, 120_000);
  const rows: { from_node: string; received_at: string }[] = await store.db('hub_envelopes').where({ type: 'batch' }).select('from_node', 'received_at');
  rows.sort((x, y) => (x.received_at < y.received_at ? -1 : x.received_at > y.received_at ? 1 : 0));
  const order = rows.map((r) => (r.from_node === '430100' ? 'A' : 'B')).join('');
  t.equal(order.length, 16, 'every batch of both nodes taken, once');
  t.notMatch(order, /^(A+B+|B+A+)$/, `the second node did not wait for the whole backlog of the first (${order})`);
  for (const n of nodes) t.equal(Number((await n.app.nodeCtx.db('node_batches').whereNot({ status: 'accepted' }).count({ n: '*' }).first())?.n), 0, 'every batch accepted by receipt');
});
