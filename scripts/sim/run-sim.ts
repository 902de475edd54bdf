/**
 * `credit sim` (npm run sim): a province on this machine. Starts the CA, H hubs on one store and N
 * nodes (province.ts); runs two clients per node at once, a loader and a querier (workload.ts);
 * SIGKILLs hub 1 once half the records are loaded when H > 1; waits until every node has drained its
 * outbox and holds every other node's records; stops everything and reads the figures from the
 * stores (checks.ts). Progress goes to `log`; the result is one object (the CLI prints it as JSON).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { waitFor } from '../demo/federation.js';
import { auditFailures, receivedCount, storeFigures } from './checks.js';
import { Province, type SimNode } from './province.js';
import { loader, newTally, ownSubject, percentile, querier } from './workload.js';

export interface SimOptions {
  nodes: number;
  hubs: number;
  records: number;
  database?: string | undefined;
  queriesPerNode: number;
  /** Keep the run's directory and PostgreSQL schema (printed) for a look afterwards. */
  keep?: boolean;
  log(line: string): void;
}

export interface SimResult {
  nodes: number;
  hubs: number;
  sent: number;
  atHub: number;
  lost: number;
  duplicates: number;
  distributionComplete: boolean;
  auditOk: boolean;
  intakeRps: number | null;
  queryP50Ms: number | null;
  queryP99Ms: number | null;
  errors5xx: number;
}

async function exchangeStatus(n: SimNode): Promise<{ outbox: { pending: number }; batches: { pending: number } }> {
  const res = await request(`${n.running.url}/v1/exchange/status`, { headers: { authorization: `Bearer ${n.token}` } });
  const body = await res.body.text();
  if (res.statusCode !== 200) throw new Error(`status of ${n.id}: ${res.statusCode} ${body}`);
  return JSON.parse(body) as { outbox: { pending: number }; batches: { pending: number } };
}

export async function runSim(o: SimOptions): Promise<SimResult> {
  const dir = mkdtempSync(join(tmpdir(), 'credit-sim-'));
  const p = new Province({ dir, nodes: o.nodes, hubs: o.hubs, database: o.database, log: o.log });
  const t0 = Date.now();
  const elapsed = () => `${((Date.now() - t0) / 1000).toFixed(0)} s`;
  try {
    await p.startHubs();
    // production loops, scaled: a poll per node per second or slower keeps N nodes' polling below the intake
    // (all N nodes share this process's event loop: a node starting while 100 others poll needs its
    // onReady within Fastify's 10 s, so large runs poll slower and start two nodes at a time)
    const pollIntervalMs = Math.max(500, o.nodes * 40);
    await p.startNodes({ pollIntervalMs, batchMaxAgeMs: 200, batchMaxRecords: 1000, checkpointIntervalMs: 0, timeoutMs: 30_000 }, o.nodes > 40 ? 2 : 4);
    const total = o.nodes * o.records;
    const tally = newTally();
    let killed = false;
    const killAtHalf = async () => {
      if (o.hubs < 2) return;
      await waitFor('half of the records to be loaded', async () => (tally.loaded >= total / 2 ? true : undefined), { timeoutMs: 3_600_000, everyMs: 100 });
      o.log(`[${elapsed()}] SIGKILL hub 1 (pid ${p.hubs[0]!.pid}) with ${tally.loaded}/${total} records loaded`);
      await p.killHub(0);
      killed = true;
    };
    const progress = setInterval(() => o.log(`[${elapsed()}] loaded ${tally.loaded}/${total}, queries ${tally.queryMs.length}, 5xx ${tally.errors5xx}`), 10_000);
    try {
      o.log(`[${elapsed()}] load: ${o.records} records per node, ${o.queriesPerNode} province queries per node, 2 clients per node`);
      const chunk = Math.min(500, Math.max(1, Math.ceil(o.records / 4)));
      await Promise.all([
        killAtHalf(),
        ...p.nodes.flatMap((n) => [loader(n, o.records, chunk, tally), querier(n, o.queriesPerNode, tally, ownSubject(n))]),
      ]);
    } finally {
      clearInterval(progress);
    }
    o.log(`[${elapsed()}] loaded ${tally.loaded}; waiting for every outbox to drain${killed ? ' (through the surviving hub)' : ''}`);
    await waitFor('every node to drain its outbox', async () => {
      for (const n of p.nodes) {
        const s = await exchangeStatus(n);
        if (s.outbox.pending !== 0 || s.batches.pending !== 0) return undefined;
      }
      return true;
    }, { timeoutMs: 3_600_000, everyMs: 1000 });
    o.log(`[${elapsed()}] drained; waiting for every node to hold the other nodes' records`);
    let last = '';
    await waitFor('distribution to every node', async () => {
      let short = 0;
      for (const n of p.nodes) if ((await receivedCount(n)) < total - o.records) short++;
      const line = `${p.nodes.length - short}/${p.nodes.length} nodes complete`;
      if (line !== last) o.log(`[${elapsed()}] ${(last = line)}`);
      return short === 0 ? true : undefined;
    }, { timeoutMs: 3_600_000, everyMs: 2000 }).catch((e: Error) => o.log(`distribution incomplete: ${e.message}`));
    o.log(`[${elapsed()}] stopping nodes and hubs`);
    await p.stopNodes();
    await p.stopHubs();
    const figures = await storeFigures(p.hubDb, p.nodes);
    if (figures.short.length) o.log(`distribution short: ${figures.short.slice(0, 10).join(', ')}`);
    const audit = await auditFailures(p.hubDb, p.nodes, p.caCertPem);
    for (const a of audit) o.log(`audit: ${a}`);
    o.log(`client answers: ${[...tally.statuses].map(([k, v]) => `${k}×${v}`).join(', ')}`);
    const hub5xx = p.hub5xx();
    const atHub = (url: string) => {
      const ms = p.hubResponseTimes(url);
      return `${url} ×${ms.length} p50 ${percentile(ms, 50) ?? '-'} ms p99 ${percentile(ms, 99) ?? '-'} ms`;
    };
    o.log(`time at the hubs (their request log): ${atHub('/v1/queries')}; ${atHub('/v1/batches')}`);
    o.log(`[${elapsed()}] done; 5xx at the hubs ${hub5xx}, at the nodes' API ${tally.errors5xx}${o.keep ? `; kept ${dir}${p.schema ? ` and schema ${p.schema}` : ''}` : ''}`);
    const round = (x: number | null, d = 1) => (x === null ? null : Math.round(x * 10 ** d) / 10 ** d);
    return {
      nodes: o.nodes, hubs: o.hubs,
      sent: figures.sent, atHub: figures.atHub, lost: figures.lost, duplicates: figures.duplicates,
      distributionComplete: figures.distributionComplete, auditOk: audit.length === 0,
      intakeRps: round(figures.intakeRps, 0), queryP50Ms: round(percentile(tally.queryMs, 50)), queryP99Ms: round(percentile(tally.queryMs, 99)),
      errors5xx: hub5xx + tally.errors5xx,
    };
  } finally {
    // whatever happened: no process, port or schema outlives the run
    await p.stopNodes().catch(() => undefined);
    await Promise.allSettled(p.hubs.map((h) => h.kill()));
    await p.balancer?.close().catch(() => undefined);
    await p.closeStore(o.keep === true).catch(() => undefined);
    if (!o.keep) rmSync(dir, { recursive: true, force: true });
  }
}
