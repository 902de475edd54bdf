/**
 * Load on one city node over real HTTP on loopback: N concurrent clients (each its own connection
 * and token) mixing single and array writes, NDJSON imports, reads by id and by subject, with the
 * rate limiter on (a short window, so back-pressure happens within the run). Every answer is
 * 200/201, or 429 ERR_RATE_LIMITED with Retry-After — which the client honours before retrying the
 * same request. Afterwards every acknowledged record is in the store and readable (lost = 0), and
 * the process RSS stayed bounded. `npm test`: 20 clients; CREDIT_FAULTS=long: 100 clients, both engines.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { Client } from 'undici';
import { randomUscc, seededRng } from '../../protocol/identifiers.js';
import { buildConfig } from '../../node/config.js';
import { startNode } from '../../node/server.js';
import { mintServiceToken } from '../../node/tokens.js';
import { engines, sqliteEngine } from '../helpers/db.js';
import { record } from '../node/app-fixture.js';
import { LONG, rssMiB } from './hostile-support.js';

const CLIENTS = LONG ? 100 : 20;
const OPS = LONG ? 60 : 10;
/** Requests per window of the limiter under test (the default is 1200 per 60 s per client address). */
const RATE = { max: LONG ? 100 : 40, timeWindowMs: LONG ? 2000 : 1000 };
/** GET /healthz each client sends at once first (pipelined), so back-pressure happens whatever the machine's speed. */
const BURST = 4;

interface Stats {
  requests: number;
  byStatus: Map<number, number>;
  limited: number;
  retryAfterMissing: number;
  errors: string[];
  acked: Set<string>;
}

// The long run (CREDIT_FAULTS=long) needs more than the per-file timeout of .taprc on a busy machine.
if (LONG) t.setTimeout(45 * 60_000);

for (const engine of LONG ? await engines() : [sqliteEngine]) {
  t.test(`${CLIENTS} concurrent clients against one node (${engine.name})`, async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'load-node-'));
    const store = await engine.open();
    t.teardown(async () => {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    });
    const defaults = buildConfig({ nodeId: '430100', dataDir: join(dir, 'd0') }, {});
    t.same(defaults.rateLimit, { enabled: true, max: 1200, timeWindowMs: 60_000 }, 'the limiter is on by default: 1200 requests per minute per client address');
    const config = buildConfig({ nodeId: '430100', dataDir: join(dir, 'data'), listen: { host: '127.0.0.1', port: 0 }, logLevel: 'silent', rateLimit: RATE, disclosureJob: { intervalMinutes: 0 } }, {});
    const node = await startNode({ config, db: store.db });
    t.teardown(() => node.close());

    const rng = seededRng(8);
    const subjects = Array.from({ length: 40 }, () => randomUscc(rng));
    const s: Stats = { requests: 0, byStatus: new Map(), limited: 0, retryAfterMissing: 0, errors: [], acked: new Set() };
    let seq = 0;
    const cf = (subject: string) => record('CF', { decisionNo: `LOAD-${seq++}`, uscc: subject });

    /** One request, retried after each 429 for as long as Retry-After says. */
    async function call(c: Client, token: string, method: 'GET' | 'POST', path: string, body?: string, type = 'application/json') {
      for (;;) {
        s.requests++;
        const res = await c.request({ method, path, headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': type }) }, ...(body === undefined ? {} : { body }) });
        const text = await res.body.text();
        s.byStatus.set(res.statusCode, (s.byStatus.get(res.statusCode) ?? 0) + 1);
        if (res.statusCode === 429) {
          s.limited++;
          const after = Number(res.headers['retry-after']);
          if (!(after > 0) || JSON.parse(text).code !== 'ERR_RATE_LIMITED') s.retryAfterMissing++;
          await new Promise((r) => setTimeout(r, (after > 0 ? after : 1) * 1000 * (0.5 + Math.random())));
          continue;
        }
        if (res.statusCode >= 300) s.errors.push(`${method} ${path.slice(0, 40)}: ${res.statusCode} ${text.slice(0, 120)}`);
        return { status: res.statusCode, json: JSON.parse(text) as Record<string, unknown> };
      }
    }

    async function client(i: number): Promise<void> {
      const c = new Client(node.url, { pipelining: BURST });
      try {
        // recorded in the store the node runs on (store.db), not in the config's own file
        const { token } = await mintServiceToken(store.db, config.jwtSecret, '430100', { user: `load-${i}`, role: 'officer', clearance: 'internal', ttlSeconds: 3600 });
        const mine: string[] = [];
        await Promise.all(Array.from({ length: BURST }, () => call(c, token, 'GET', '/healthz')));
        for (let k = 0; k < OPS; k++) {
          const pick = (i * 31 + k * 7) % 20;
          const subject = subjects[(i + k) % subjects.length]!;
          if (pick < 7) {
            const r = await call(c, token, 'POST', '/v1/records', JSON.stringify(cf(subject)));
            for (const x of (r.json.records as { id: string }[] | undefined) ?? []) mine.push(x.id), s.acked.add(x.id);
          } else if (pick < 9) {
            const r = await call(c, token, 'POST', '/v1/records', JSON.stringify(Array.from({ length: 10 }, () => cf(subject))));
            for (const x of (r.json.records as { id: string }[] | undefined) ?? []) mine.push(x.id), s.acked.add(x.id);
          } else if (pick === 9) {
            const lines = Array.from({ length: 200 }, () => JSON.stringify(cf(subject))).join('\n');
            const r = await call(c, token, 'POST', '/v1/records/import?type=CF', lines, 'application/x-ndjson');
            if (r.json.accepted !== 200) s.errors.push(`import accepted ${String(r.json.accepted)} of 200`);
          } else if (pick < 16 && mine.length > 0) {
            const id = mine[(k * 13) % mine.length]!;
            const r = await call(c, token, 'GET', `/v1/records/${id}`);
            if (r.json.id !== id) s.errors.push(`read ${id} got ${String(r.json.id)}`);
          } else {
            await call(c, token, 'GET', `/v1/subjects/${subject}`);
          }
        }
      } finally {
        await c.close();
      }
    }

    const baseline = rssMiB();
    let peak = baseline;
    const sampler = setInterval(() => void (peak = Math.max(peak, rssMiB())), 100);
    await Promise.all(Array.from({ length: CLIENTS }, (_, i) => client(i)));
    clearInterval(sampler);
    peak = Math.max(peak, rssMiB());

    const stored = Number((await store.db('node_records').count({ n: '*' }).first())?.n);
    const storedIds = new Set<string>();
    const acked = [...s.acked];
    for (let i = 0; i < acked.length; i += 500) for (const r of await store.db('node_records').whereIn('id', acked.slice(i, i + 500)).select('id')) storedIds.add(String(r.id));
    const lost = acked.filter((id) => !storedIds.has(id)).length;
    const statuses = [...s.byStatus].sort().map(([k, n]) => `${k}×${n}`).join(' ');
    t.same(s.errors.slice(0, 5), [], 'no answer other than 200/201 and 429');
    t.equal(s.retryAfterMissing, 0, 'every 429 is ERR_RATE_LIMITED with a Retry-After');
    t.ok(s.limited > 0, `back-pressure happened: ${s.limited} answers were 429 (limit ${RATE.max} per ${RATE.timeWindowMs / 1000} s per address, ${CLIENTS} × ${BURST} requests at once)`);
    t.equal(lost, 0, `lost records: ${lost} of ${acked.length} acknowledged by id`);
    t.equal(stored, seq, `the store holds every record sent (${seq}), once: nothing lost, no duplicates from retries`);
    t.ok(peak - baseline < 512, `RSS bounded: ${baseline} MiB before, peak ${peak} MiB`);
    t.pass(`figures: ${CLIENTS} clients, ${s.requests} requests (${statuses}), ${seq} records sent, ${stored} stored, lost ${lost}, RSS ${baseline} → peak ${peak} MiB`);
    await new Promise((r) => setTimeout(r, RATE.timeWindowMs));
    const hc = new Client(node.url);
    const health = await hc.request({ method: 'GET', path: '/healthz' });
    t.equal(health.statusCode, 200, '/healthz answers afterwards');
    await health.body.dump();
    await hc.close();
  });
}
