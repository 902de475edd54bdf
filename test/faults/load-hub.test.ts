/**
 * Load on the hub over real mutual TLS on loopback: N simulated city nodes in this process, each
 * enrolled through POST /v1/enroll with its own key and certificate, all pushing batches at once
 * (strict seq per node), pulling their distribution feed and asking province queries between
 * batches, with the hub's rate limiter on (a short window, so back-pressure happens). Every answer
 * is 200, or 429 ERR_RATE_LIMITED with Retry-After, honoured before the same request is re-sent.
 * Afterwards the hub holds every record exactly once (lost = 0), a node's feed carries every other
 * node's records, and the process RSS stayed bounded.
 * `npm test`: 6 nodes; CREDIT_FAULTS=long: 50 nodes, both engines.
 */
import t from 'tap';
import { Agent } from 'undici';
import { createNodeKeys } from '../../certs/node-keys.js';
import { tlsClientOptions } from '../../certs/tls.js';
import type { DistributionPayload, EnrollResponse, ReceiptPayload } from '../../protocol/exchange.js';
import { randomUscc, seededRng } from '../../protocol/identifiers.js';
import { engines, sqliteEngine } from '../helpers/db.js';
import { hubFixture, wire, type Reply, type TestNode } from '../hub/fixture.js';
import { LONG, rssMiB } from './hostile-support.js';

const NODES = LONG ? 50 : 6;
const BATCHES = LONG ? 6 : 2;
const RECORDS = LONG ? 250 : 100;
/** Requests per window per node (the default is 3000 per 60 s per node, or per address without a certificate). */
const RATE = { max: 4, timeWindowMs: LONG ? 5000 : 2000 };
/** Requests each node sends at once first (pipelined on one connection), so back-pressure happens whatever the machine's speed. */
const BURST = 8;

// The long run (CREDIT_FAULTS=long) needs more than the per-file timeout of .taprc on a busy machine.
if (LONG) t.setTimeout(45 * 60_000);

for (const engine of LONG ? await engines() : [sqliteEngine]) {
  t.test(`${NODES} nodes push to one hub at once (${engine.name})`, async (t) => {
    const f = await hubFixture(t, { engine, config: { rateLimit: { enabled: true, ...RATE } } });
    const db = f.hub.app.hubCtx.db;
    const stats = { requests: 0, limited: 0, retryAfterMissing: 0, errors: [] as string[], byStatus: new Map<number, number>() };

    /** One request; a 429 is waited out (Retry-After) and the same request sent again. */
    async function send(agent: Agent, method: 'GET' | 'POST', path: string, body?: unknown): Promise<Reply> {
      for (;;) {
        stats.requests++;
        const r = await f.call(agent, method, path, body);
        stats.byStatus.set(r.status, (stats.byStatus.get(r.status) ?? 0) + 1);
        if (r.status !== 429) return r;
        stats.limited++;
        const after = Number(r.headers['retry-after']);
        if (!(after > 0) || r.json?.code !== 'ERR_RATE_LIMITED') stats.retryAfterMissing++;
        await new Promise((res) => setTimeout(res, (after > 0 ? after : 1) * 1000 * (0.5 + Math.random())));
      }
    }

    async function enrol(i: number): Promise<TestNode> {
      const nodeId = String(431000 + i);
      const token = await f.token(nodeId, 2);
      const { keyPem, csrPem } = createNodeKeys(nodeId);
      const r = await send(f.anonymous, 'POST', '/v1/enroll', { token, csrPem });
      if (r.status !== 200) throw new Error(`enrolment of ${nodeId}: ${JSON.stringify(r.json)}`);
      const res = r.json as EnrollResponse;
      const agent = new Agent({ pipelining: BURST, connections: 1, connect: tlsClientOptions({ caCertPem: f.caCertPem, certPem: res.certPem, keyPem, expectNodeId: '430000' }) });
      t.teardown(() => agent.close());
      return { ...res, keyPem, agent, seq: 1 };
    }

    const t0 = Date.now();
    const nodes: TestNode[] = [];
    for (let i = 0; i < NODES; i++) nodes.push(await enrol(i));
    t.equal(nodes.length, NODES, `${NODES} nodes enrolled, each with its own certificate`);
    t.equal(new Set(nodes.map((n) => n.serial)).size, NODES);

    t.comment(`enrolled in ${Date.now() - t0} ms`);
    const t1 = Date.now();
    const baseline = rssMiB();
    let peak = baseline;
    const sampler = setInterval(() => void (peak = Math.max(peak, rssMiB())), 100);
    let accepted = 0;
    const rng = seededRng(50);
    const work = async (node: TestNode, i: number) => {
      const burst = await Promise.all(Array.from({ length: BURST }, () => send(node.agent, 'GET', '/v1/checkpoints/latest')));
      if (burst.some((r) => r.status !== 200)) stats.errors.push(`${node.nodeId} burst: ${burst.map((r) => r.status).join(',')}`);
      let cursor = 0;
      for (let b = 0; b < BATCHES; b++) {
        const records = Array.from({ length: RECORDS }, () => wire(b % 2 ? 'XK' : 'CF', { fields: { uscc: randomUscc(rng) } }));
        const env = await f.sealFrom(node, 'batch', { records, withdrawals: [] });
        const r = await send(node.agent, 'POST', '/v1/batches', env);
        if (r.status !== 200) stats.errors.push(`${node.nodeId} batch ${b}: ${r.status} ${r.json?.code}`);
        else {
          const receipt = (await f.openAs<ReceiptPayload>(node, r.json)).payload;
          accepted += receipt.accepted.length;
          if (receipt.rejected.length) stats.errors.push(`${node.nodeId} batch ${b}: ${receipt.rejected.length} rejected`);
        }
        const feed = await send(node.agent, 'GET', `/v1/distributions?after=${cursor}&limit=500`);
        if (feed.status !== 200) stats.errors.push(`${node.nodeId} feed: ${feed.status} ${feed.json?.code}`);
        else cursor = (await f.openAs<DistributionPayload>(node, feed.json)).payload.next;
        if ((b + i) % 2 === 0) {
          const q = await send(node.agent, 'POST', '/v1/queries', await f.sealFrom(node, 'query', { subject: String(records[0]!.fields.uscc), actor: 'user:load', clearance: 'shared' }));
          if (q.status !== 200) stats.errors.push(`${node.nodeId} query: ${q.status} ${q.json?.code}`);
        }
      }
    };
    await Promise.all(nodes.map((n, i) => work(n, i)));
    clearInterval(sampler);
    peak = Math.max(peak, rssMiB());
    t.comment(`work in ${Date.now() - t1} ms`);

    const total = NODES * BATCHES * RECORDS;
    const stored = Number((await db('hub_records').count({ n: '*' }).first())?.n);
    const perNode = await db('hub_nodes').select('node_id', 'batches_in', 'records_in');
    t.same(stats.errors.slice(0, 5), [], 'no answer other than 200 and 429, no record rejected');
    t.equal(stats.retryAfterMissing, 0, 'every 429 is ERR_RATE_LIMITED with a Retry-After');
    t.ok(stats.limited > 0, `back-pressure happened: ${stats.limited} answers were 429 (limit ${RATE.max} per ${RATE.timeWindowMs / 1000} s per node, bursts of ${BURST})`);
    t.equal(accepted, total, `receipts accepted all ${total} records`);
    t.equal(stored, total, `the hub holds ${stored} of ${total} records: lost ${total - stored}`);
    t.ok(perNode.filter((n: { node_id: string }) => n.node_id !== '430000').every((n: { batches_in: number; records_in: number }) => Number(n.batches_in) === BATCHES && Number(n.records_in) === BATCHES * RECORDS), 'every node: all its batches and records counted once');
    const last = nodes[NODES - 1]!;
    let after = 0;
    let items = 0;
    for (let more = true; more; ) {
      const r = await send(last.agent, 'GET', `/v1/distributions?after=${after}&limit=2000`);
      const p = (await f.openAs<DistributionPayload>(last, r.json)).payload;
      items += p.items.length;
      ({ next: after, more } = p);
    }
    t.equal(items, total - BATCHES * RECORDS, "a node's feed carries every other node's records");
    t.ok(peak - baseline < 768, `RSS bounded: ${baseline} MiB before, peak ${peak} MiB`);
    const statuses = [...stats.byStatus].sort().map(([k, n]) => `${k}×${n}`).join(' ');
    t.pass(`figures: ${NODES} nodes × ${BATCHES} batches × ${RECORDS} records = ${total}, stored ${stored}, lost ${total - stored}; ${stats.requests} requests (${statuses}); RSS ${baseline} → peak ${peak} MiB`);
    t.equal((await send(f.anonymous, 'GET', '/readyz')).status, 200, '/readyz answers afterwards');
  });
}
