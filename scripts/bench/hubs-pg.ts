/**
 * Bench (issue 22): intake through 1 hub process and through 2 hub processes on one PostgreSQL,
 * behind the simulation's round-robin L4 balancer (scripts/sim: Province.startHubs — the CA, a
 * throwaway schema migrated once, one shared data key, `credit hub start` per hub). The same
 * workload both times: NODES city nodes, each `credit node start` in a process of its own (so the
 * nodes' sealing is not one event loop's), each with its outbox prefilled with PER_NODE records,
 * all sending at once (two batches of 1,000 in flight each: the node default before it rose to 5,000,
 * kept so that the figures compare with the runs before).
 *
 *   hubs1_pg_rps, hubs2_pg_rps  records/s committed at the hub(s) while every node was sending: from
 *                               the last node's first accepted batch to the first node's last one,
 *                               by the hubs' own receipt times (start-up skew and the tail of the
 *                               last node left out); hubs2_vs_1 (report.ts) is their ratio
 *
 * Where the time went is logged and put in the rows' notes: CPU-seconds per 1,000 records of the
 * hub processes, the node processes, the hubs' PostgreSQL backends (by application_name) and this
 * process (the balancer), and the cores each used over the run.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { openHubCa } from '../../hub/ca-store.js';
import { makeToken } from '../../hub/enrolment-service.js';
import { envelopesStore } from '../../hub/envelopes-store.js';
import { BATCH_STREAM } from '../../hub/intake-service.js';
import { buildConfig } from '../../node/config.js';
import { enrollNode } from '../../node/exchange/enroll.js';
import { waitFor } from '../demo/federation.js';
import { startServer, type ServerProcess } from '../demo/processes.js';
import { Province, provinceNodeIds } from '../sim/province.js';
import { benchPgUrl, pgUnavailable } from './bench-pg.js';
import { prefill } from './exchange.js';
import { cpuSeconds } from './proc-cpu.js';
import type { BenchResult, Scenario } from './scenario.js';

export interface HubsRun {
  hubs: number;
  nodes: number;
  perNode: number;
  pgUrl: string;
  log: (line: string) => void;
}

/** CPU-seconds per part of the federation over the run. */
export interface CpuShare {
  hubs: number[];
  nodes: number;
  postgres: number;
  bench: number;
  wall: number;
  /** Records the hubs took in over that time (in the steady window: its rate × the time). */
  records: number;
}

export interface HubsFigures {
  rps: number;
  /** Records committed in the steady window, and its length (s). */
  windowRecords: number;
  windowSeconds: number;
  /** Batches accepted by each hub process (from its request log), to show both took a share. */
  perHub: number[];
  cpu: CpuShare;
  records: number;
}

/** CPU-seconds so far of every process of the run, at one moment. */
interface Sample {
  at: number;
  hubs: number[];
  nodes: number[];
  /** The hubs' PostgreSQL backends, by pid (they come and go with the hubs' connection pools). */
  pg: Map<number, number>;
  bench: number;
}

/**
 * CPU used between two samples: per process the difference; a backend absent from the first
 * sample counts from 0 (opened in between), one gone by the second is not counted.
 */
function cpuBetweenSamples(a: Sample, b: Sample, records: number): CpuShare {
  const diff = (x: number[], y: number[]) => y.map((v, i) => v - x[i]!);
  let pg = 0;
  for (const [pid, t] of b.pg) pg += t - (a.pg.get(pid) ?? 0);
  return { hubs: diff(a.hubs, b.hubs), nodes: diff(a.nodes, b.nodes).reduce((u, v) => u + v, 0), postgres: pg, bench: b.bench - a.bench, wall: (b.at - a.at) / 1000, records };
}

const ms = (iso: string) => Date.parse(iso);

/** Batch requests a hub answered, from its request log (hub/request-log.ts: one line per request with its responseTime). */
function batchesLogged(logFile: string): number {
  return readFileSync(logFile, 'utf8').split('\n').filter((l) => l.includes('"url":"/v1/batches"') && l.includes('"responseTime"')).length;
}

/** One run: H hubs, the nodes started together, until every node's last batch is accepted. */
export async function runHubs(o: HubsRun): Promise<HubsFigures> {
  const dir = mkdtempSync(join(tmpdir(), `cf-bench-hubs${o.hubs}-`));
  const app = `cf_bench_hubs_${process.pid}_${o.hubs}`;
  const url = new URL(o.pgUrl);
  url.searchParams.set('application_name', app); // the hubs' sessions, to find their backends
  const p = new Province({ dir, nodes: o.nodes, hubs: o.hubs, database: url.toString(), log: (l) => o.log(`hubs ${o.hubs}: ${l}`) });
  const nodes: ServerProcess[] = [];
  const env: NodeJS.ProcessEnv = { ...process.env, CREDIT_LOG_LEVEL: 'info' };
  delete env.DATABASE_URL;
  delete env.NODE_OPTIONS;
  try {
    await p.startHubs();
    const ca = openHubCa(p.hubDb, p.caDir);
    const ids = provinceNodeIds(o.nodes);
    const configs: string[] = [];
    for (const id of ids) {
      const nodeDir = join(dir, 'nodes', id);
      mkdirSync(nodeDir, { recursive: true });
      const dataDir = join(nodeDir, 'data');
      const base = { nodeId: id, dataDir, listen: { host: '127.0.0.1', port: 0 }, rateLimit: { enabled: false } };
      buildConfig(base, {}, nodeDir); // DATADIR and jwt.secret, as the first start would
      const { token } = await makeToken(p.hubDb, ca, { nodeId: id, grade: 3, ttlMs: 3_600_000, name: `压测节点 ${id}` });
      await enrollNode({ dataDir, nodeId: id, hubUrl: p.balancer.url, token, caCertPem: p.caCertPem });
      await prefill(join(dataDir, 'node.sqlite'), o.perNode, o.log, id);
      const file = join(nodeDir, 'node.json');
      writeFileSync(file, JSON.stringify({ ...base, hub: { url: p.balancer.url, batchMaxRecords: 1000, batchMaxAgeMs: 100, pollIntervalMs: 600_000, checkpointIntervalMs: 600_000 } }, null, 2) + '\n');
      configs.push(file);
    }
    o.log(`hubs ${o.hubs}: ${ids.length} nodes enrolled, ${o.perNode} records in each outbox; starting them together`);
    const pgPids = async () => ((await p.hubDb.raw('select pid from pg_stat_activity where application_name = ?', [app])) as { rows: { pid: number }[] }).rows.map((r) => r.pid);
    const t0 = Date.now();
    const starts = await Promise.allSettled(configs.map((c, i) => startServer(`node ${ids[i]}`, ['node', 'start', '--config', c], { logFile: join(dir, 'nodes', ids[i]!, 'node.log'), env, timeoutMs: 120_000 })));
    for (const s of starts) if (s.status === 'fulfilled') nodes.push(s.value);
    const failed = starts.find((s) => s.status === 'rejected');
    if (failed) throw failed.reason;
    o.log(`hubs ${o.hubs}: nodes started in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    // CPU of every process every 0.5 s; the figures take the samples that bound the steady window below
    const samples: Sample[] = [];
    const sample = async (): Promise<void> => {
      const pids = ((await p.hubDb.raw('select pid from pg_stat_activity where application_name = ?', [app])) as { rows: { pid: number }[] }).rows.map((r) => r.pid);
      const u = process.cpuUsage();
      samples.push({ at: Date.now(), hubs: p.hubs.map((h) => cpuSeconds(h.pid)), nodes: nodes.map((n) => cpuSeconds(n.pid)), pg: new Map(pids.map((pid) => [pid, cpuSeconds(pid)] as [number, number]).filter(([, t]) => Number.isFinite(t))), bench: (u.user + u.system) / 1e6 });
    };
    const batchesPerNode = Math.ceil(o.perNode / 1000);
    await waitFor('every node\'s last batch at the hub', async () => {
      await sample();
      for (const id of ids) if ((await envelopesStore.lastSeq(p.hubDb, id, BATCH_STREAM)) < batchesPerNode) return undefined;
      return true;
    }, { timeoutMs: o.nodes * o.perNode * 20, everyMs: 500 });
    // the steady window: every node sending
    const spans = (await p.hubDb('hub_envelopes').where({ type: 'batch', outcome: 'accepted' }).groupBy('from_node').select('from_node').min({ first: 'received_at' }).max({ last: 'received_at' })) as { from_node: string; first: string; last: string }[];
    if (spans.length !== ids.length) throw new Error(`batches from ${spans.length} nodes at the hub, expected ${ids.length}`);
    const start = spans.map((s) => s.first).sort().at(-1)!;
    const end = spans.map((s) => s.last).sort()[0]!;
    const records = Number(((await p.hubDb('hub_records').count({ c: '*' }).first()) as { c: number | string }).c);
    if (records !== o.nodes * o.perNode) throw new Error(`the hub holds ${records} records, expected ${o.nodes * o.perNode}`);
    let windowRecords: number;
    let windowSeconds = (ms(end) - ms(start)) / 1000;
    if (windowSeconds > 0) {
      windowRecords = Number(((await p.hubDb('hub_records').where('received_at', '>', start).andWhere('received_at', '<=', end).count({ c: '*' }).first()) as { c: number | string }).c);
    } else {
      // one node finished before another began: first to last batch overall instead
      const all = spans.map((s) => [s.first, s.last]).flat().sort();
      windowSeconds = (ms(all.at(-1)!) - ms(all[0]!)) / 1000;
      windowRecords = records - 1000;
      o.log(`hubs ${o.hubs}: the nodes never all sent at once; rate over first to last batch`);
    }
    const perHub = p.hubLogs.map(batchesLogged);
    // CPU over the window when two samples fall in it, else over the whole run
    const inside = samples.filter((x) => x.at >= ms(start) && x.at <= ms(end));
    const cpu = inside.length >= 2
      ? cpuBetweenSamples(inside[0]!, inside.at(-1)!, windowRecords * (inside.at(-1)!.at - inside[0]!.at) / 1000 / windowSeconds)
      : cpuBetweenSamples(samples[0]!, samples.at(-1)!, records);
    const f: HubsFigures = { rps: windowRecords / windowSeconds, windowRecords, windowSeconds, perHub, cpu, records };
    o.log(`hubs ${o.hubs}: ${windowRecords} records in ${windowSeconds.toFixed(1)} s with every node sending: ${Math.round(f.rps)} records/s; batches per hub ${perHub.join(' / ')}`);
    o.log(`hubs ${o.hubs}: ${cpuLine(cpu)}`);
    return f;
  } catch (e) {
    // the run's directory goes with it: say what the hubs logged last
    for (const file of p.hubLogs) {
      const tail = existsSync(file) ? readFileSync(file, 'utf8').trimEnd().split('\n').slice(-3).join('\n    ') : '(no log)';
      o.log(`hubs ${o.hubs}: ${file}:\n    ${tail}`);
    }
    throw e;
  } finally {
    await Promise.allSettled(nodes.map((n) => n.stop()));
    await p.stopHubs().catch(() => undefined);
    await Promise.allSettled(p.hubs.map((h) => h.kill()));
    await p.closeStore(false).catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * What the cores of this machine allow, from a run's CPU per record: every process of the
 * federation shares them, so the whole intake is at most cores / (CPU-seconds per record of hubs,
 * nodes, PostgreSQL backends and balancer), and one hub process, single-threaded, at most
 * 1 / (its CPU-seconds per record). 2 hubs can lift the intake only up to the first bound.
 */
export function cpuBounds(c: CpuShare, cores = cpus().length): { machineRps: number; oneHubRps: number; twoHubsOverOne: number } {
  const hub = c.hubs.reduce((a, b) => a + b, 0) / c.records;
  const all = (c.hubs.reduce((a, b) => a + b, 0) + c.nodes + c.postgres + c.bench) / c.records;
  const machineRps = cores / all;
  const oneHubRps = 1 / hub;
  return { machineRps, oneHubRps, twoHubsOverOne: Math.min(2 * oneHubRps, machineRps) / Math.min(oneHubRps, machineRps) };
}

/** "CPU per 1,000 records: hubs 41+40 ms, nodes 30 ms, …; cores used: …" */
export function cpuLine(c: CpuShare): string {
  if (!(c.wall >= 1)) return `CPU not measured (the run was over within ${c.wall.toFixed(1)} s of sampling)`;
  const per = (s: number) => `${Math.round((s / c.records) * 1e6)} ms`;
  const cores = (s: number) => (s / c.wall).toFixed(2);
  const hubs = c.hubs.reduce((a, b) => a + b, 0);
  return `CPU per 1,000 records: hubs ${c.hubs.map(per).join(' + ')}, nodes ${per(c.nodes)}, PostgreSQL backends ${per(c.postgres)}, bench process (balancer) ${per(c.bench)}; ` +
    `cores used over ${c.wall.toFixed(1)} s: hubs ${c.hubs.map(cores).join(' + ')}, nodes ${cores(c.nodes)}, PostgreSQL ${cores(c.postgres)}, bench ${cores(c.bench)}, all ${cores(hubs + c.nodes + c.postgres + c.bench)} of ${cpus().length}`;
}

export const hubsPgScenario: Scenario = {
  name: 'hubs-pg',
  unavailable: () => pgUnavailable(),
  async run({ quick, log }): Promise<BenchResult[]> {
    const nodes = Number(process.env.BENCH_HUBS_NODES) || (quick ? 2 : 4);
    const perNode = Number(process.env.BENCH_HUBS_RECORDS) || (quick ? 2_000 : 50_000);
    const pgUrl = benchPgUrl()!;
    log(`hubs-pg: ${nodes} node processes × ${perNode} records, through 1 hub and then 2 hubs on PostgreSQL (load average ${loadavg()[0]!.toFixed(1)})`);
    const one = await runHubs({ hubs: 1, nodes, perNode, pgUrl, log });
    const two = await runHubs({ hubs: 2, nodes, perNode, pgUrl, log });
    const what = `${nodes} node processes × ${perNode.toLocaleString('en-US')} records, batches of 1,000, balancer in the bench process`;
    const b = cpuBounds(one.cpu);
    const bound = `CPU bound on these ${cpus().length} cores, from the 1-hub run's CPU per record: the whole federation ≤ ${Math.round(b.machineRps).toLocaleString('en-US')} records/s, one hub process (one core) ≤ ${Math.round(b.oneHubRps).toLocaleString('en-US')}, so 2 hubs ≤ ${b.twoHubsOverOne.toFixed(2)} × 1 hub here`;
    log(`hubs-pg: ${bound}`);
    const note = (f: HubsFigures) => `${f.windowRecords.toLocaleString('en-US')} records in ${f.windowSeconds.toFixed(1)} s with every node sending; ${cpuLine(f.cpu)}`;
    return [
      { label: `intake through 1 hub process on PostgreSQL (${what})`, key: 'hubs1_pg_rps', value: one.rps, unit: 'records/s', note: note(one) },
      { label: `intake through 2 hub processes on one PostgreSQL (${what})`, key: 'hubs2_pg_rps', value: two.rps, unit: 'records/s', note: `batches per hub ${two.perHub.join(' / ')}; ${note(two)}` },
      ...(Number.isFinite(b.twoHubsOverOne) && one.cpu.wall >= 1 ? [{ label: 'at most 2 hubs vs 1 that the CPU of this machine allows', key: 'hubs2_vs_1_cpu_bound', value: b.twoHubsOverOne, unit: '×', note: bound }] : []),
    ];
  },
};
