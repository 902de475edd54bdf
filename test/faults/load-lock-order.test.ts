/**
 * Issue 13 item 4: two concurrent requests from one node, one a province query, must never wedge a
 * PostgreSQL hub. Six clients (two per node, three nodes) run against one hub on PostgreSQL for a
 * bounded time: per node one client asks province queries back to back, the other pushes batches
 * and pulls its distribution feed. Every request must be answered 200: no 5xx, and no request left
 * without an answer (a request unanswered after NO_ANSWER_MS is reported as a hang, not waited on).
 * Afterwards the hub still answers, every batch is counted once, and no connection of the hub is
 * left in a transaction.
 * Duration: CREDIT_LOCK_SECONDS, else 60 s under CREDIT_FAULTS=long and 6 s under `npm test`.
 */
import t from 'tap';
import { Agent, request } from 'undici';
import { tlsClientOptions } from '../../certs/tls.js';
import type { ReceiptPayload } from '../../protocol/exchange.js';
import { randomUscc, seededRng } from '../../protocol/identifiers.js';
import { pgEngine, pgProblem } from '../helpers/db.js';
import { hubFixture, wire, type Reply, type TestNode } from '../hub/fixture.js';
import { LONG } from './hostile-support.js';

const SECONDS = Number(process.env.CREDIT_LOCK_SECONDS) > 0 ? Number(process.env.CREDIT_LOCK_SECONDS) : LONG ? 60 : 6;
/** A request without an answer after this long counts as a hang (the hub sets its own timeouts well below it). */
const NO_ANSWER_MS = 45_000;
const RECORDS = 10;

if (LONG || SECONDS > 60) t.setTimeout((SECONDS + 300) * 1000);

const problem = await pgProblem();
if (problem !== null && process.env.CI !== 'true') {
  t.comment(`SKIP: PostgreSQL unreachable: ${problem}`);
  t.pass(`skipped: PostgreSQL unreachable`, { skip: true });
} else {
  t.test(`6 clients (2 per node, 3 nodes) against a PostgreSQL hub for ${SECONDS} s: every request answered`, async (t) => {
    const f = await hubFixture(t, { engine: pgEngine });
    const nodes: TestNode[] = [];
    for (const id of ['430100', '430700', '430181']) nodes.push(await f.enrol(id, 2));
    const stats = { answered: 0, queries: 0, batches: 0, feeds: 0, failures: [] as string[], batchesByNode: new Map<string, number>() };

    /** One request with a bound on how long it may go unanswered; a hang or a transport error is a failure. */
    async function send(node: TestNode, agent: Agent, method: 'GET' | 'POST', path: string, body?: unknown): Promise<Reply | null> {
      const ac = new AbortController();
      const timer = setTimeout(() => ac.abort(), NO_ANSWER_MS);
      try {
        const res = await request(`${f.url}${path}`, {
          method, dispatcher: agent, signal: ac.signal,
          ...(body === undefined ? {} : { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }),
        });
        const text = await res.body.text();
        stats.answered++;
        const json = (() => { try { return JSON.parse(text); } catch { return text; } })();
        if (res.statusCode !== 200) stats.failures.push(`${node.nodeId} ${method} ${path}: ${res.statusCode} ${json?.code ?? ''}`);
        return { status: res.statusCode, headers: res.headers, json };
      } catch (e) {
        stats.failures.push(`${node.nodeId} ${method} ${path}: ${ac.signal.aborted ? `no answer in ${NO_ANSWER_MS / 1000} s` : (e as Error).message}`);
        return null;
      } finally {
        clearTimeout(timer);
      }
    }

    const deadline = Date.now() + SECONDS * 1000;
    const subjects = new Map<string, string[]>(nodes.map((n) => [n.nodeId, []]));
    const rng = seededRng(13);

    // a second agent per node: the two clients of one node do not share a connection
    const second = (n: TestNode): Agent => {
      const a = new Agent({ connect: tlsClientOptions({ caCertPem: f.caCertPem, certPem: n.certPem, keyPem: n.keyPem, expectNodeId: '430000' }) });
      t.teardown(() => a.close());
      return a;
    };

    async function batches(n: TestNode): Promise<void> {
      let cursor = 0;
      while (Date.now() < deadline && stats.failures.length < 20) {
        const records = Array.from({ length: RECORDS }, () => wire('CF', { fields: { uscc: randomUscc(rng) } }));
        subjects.get(n.nodeId)!.push(String(records[0]!.fields.uscc));
        const r = await send(n, n.agent, 'POST', '/v1/batches', await f.sealFrom(n, 'batch', { records, withdrawals: [] }));
        if (r?.status !== 200) return;
        const receipt = (await f.openAs<ReceiptPayload>(n, r.json)).payload;
        if (receipt.accepted.length !== RECORDS) stats.failures.push(`${n.nodeId} batch: ${receipt.rejected.length} rejected`);
        stats.batches++;
        stats.batchesByNode.set(n.nodeId, (stats.batchesByNode.get(n.nodeId) ?? 0) + 1);
        const feed = await send(n, n.agent, 'GET', `/v1/distributions?after=${cursor}&limit=200`);
        if (feed?.status !== 200) return;
        cursor = (await f.openAs<{ next: number }>(n, feed.json)).payload.next;
        stats.feeds++;
      }
    }

    async function queries(n: TestNode, agent: Agent): Promise<void> {
      const others = nodes.filter((o) => o !== n);
      for (let i = 0; Date.now() < deadline && stats.failures.length < 20; i++) {
        const pool = subjects.get(others[i % others.length]!.nodeId)!;
        const subject = pool.length ? pool[i % pool.length]! : randomUscc(rng);
        const r = await send(n, agent, 'POST', '/v1/queries', await f.sealFrom(n, 'query', { subject, actor: 'user:lock-order', clearance: 'shared' }));
        if (r?.status !== 200) return;
        stats.queries++;
      }
    }

    await Promise.all(nodes.flatMap((n) => [batches(n), queries(n, second(n))]));
    t.comment(`${stats.answered} answers: ${stats.queries} queries, ${stats.batches} batches, ${stats.feeds} feeds in ${SECONDS} s`);

    t.same(stats.failures.slice(0, 10), [], 'every request answered 200: no 5xx, no hang');
    t.ok(stats.queries > 0 && stats.batches > 0, 'queries and batches both ran');
    const db = f.hub.app.hubCtx.db;
    const counted = await db('hub_nodes').whereIn('node_id', nodes.map((n) => n.nodeId)).select('node_id', 'batches_in');
    t.same(
      Object.fromEntries(counted.map((r: { node_id: string; batches_in: number }) => [r.node_id, Number(r.batches_in)])),
      Object.fromEntries(nodes.map((n) => [n.nodeId, stats.batchesByNode.get(n.nodeId) ?? 0])),
      'every accepted batch counted once',
    );
    const pool = (db.client as { pool: { numUsed(): number; numPendingAcquires(): number } }).pool;
    t.same({ used: pool.numUsed(), waiting: pool.numPendingAcquires() }, { used: 0, waiting: 0 }, 'no connection of the hub left in a transaction or waited for');
    t.equal((await f.call(f.anonymous, 'GET', '/readyz')).status, 200, '/readyz answers afterwards');
  });
}
