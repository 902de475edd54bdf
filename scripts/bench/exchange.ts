/**
 * Bench: the exchange itself, two real processes on loopback (`credit hub start`, `credit node start`).
 *
 *   e2e_rps       records/s from the node's outbox to rows committed at the hub — seal, mTLS POST,
 *                 verify, decrypt, validate, store, signed receipt, audit on both sides. Timed by the
 *                 hub's own receipt times (first to last accepted batch), so process start-up and the
 *                 outbox backfill are not counted.
 *   query_p50_ms / query_p99_ms
 *                 a province-wide subject query (node API → sealed query → hub → sealed answer → node)
 *                 with all those records stored at the hub, and next to it, in the same run, the raw
 *                 parts it cannot avoid: an mTLS round trip on a kept-alive connection and the
 *                 indexed lookup in the hub's store (its blind index, rows opened: encryption at rest). query_vs_raw = p50 / (rtt p50 + lookup p50).
 *   naive_query_p50_ms / query_vs_naive
 *                 the fair peer of the query: what a team would build without this project, a plain
 *                 JSON GET over a kept-alive mTLS connection (the node's and hub's certificates) to a
 *                 bare Fastify route in a child process (bench/naive-server.ts) that does the same
 *                 lookup on the same hub store and commits one audit row. query_vs_naive = p50 / its p50.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import Fastify from 'fastify';
import { Agent, request } from 'undici';
import { connect } from '../../audit/knex-connect.js';
import { migrateAudit } from '../../audit/index.js';
import { assertRecord } from '../../protocol/catalog.js';
import { randomUscc, seededRng } from '../../protocol/identifiers.js';
import { tlsClientOptions, tlsServerOptions } from '../../certs/tls.js';
import { migrateNode } from '../../node/migrations.js';
import { toStoredRecord } from '../../node/record-model.js';
import { recordsStore, type StoredRecord } from '../../node/records-store.js';
import { NODE_AT_REST } from '../../node/at-rest.js';
import { recordsStore as hubRecords } from '../../hub/records-store.js';
import { fileKeyWrapper, readKeyring } from '../../server/at-rest-keys.js';
import { attachKeyring, startAtRest } from '../../server/at-rest-store.js';
import { Federation, waitFor } from '../demo/federation.js';
import { sampleRecord } from '../demo/sample-data.js';
import { benchSchema, dropSchema, urlWithSchema } from './bench-pg.js';
import { fill } from './hub-fill.js';
import { naiveServerArgs, spawnServer } from './child.js';
import type { NaiveServerConfig } from './naive-server.js';
import { median, type BenchResult, type Scenario } from './scenario.js';
import { DEFAULT_BATCH_MAX_RECORDS } from '../../node/config-schema.js';

const NODE = { id: '430100', name: '长沙市', grade: 3 };
const RECORDS_PER_SUBJECT = 5;

export function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
}

export async function timeEach(n: number, fn: (i: number) => Promise<unknown>): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = process.hrtime.bigint();
    await fn(i);
    out.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  return out;
}

/**
 * Writes `n` public XK records straight into a node's store (as an import would leave them: sealed
 * at rest under the node's data key, created here as the node's first start would); returns the subjects.
 */
export async function prefill(file: string, n: number, log: (l: string) => void, nodeId = NODE.id): Promise<string[]> {
  const db = await connect(file);
  try {
    await migrateAudit(db);
    await migrateNode(db);
    await startAtRest(db, NODE_AT_REST, { keyFile: join(dirname(file), 'data.key'), keyWrapper: 'file' });
    const rng = seededRng(7);
    const subjects = Array.from({ length: Math.max(1, Math.ceil(n / RECORDS_PER_SUBJECT)) }, () => randomUscc(rng, { division: nodeId }));
    const now = new Date().toISOString();
    for (let i = 0; i < n; i += 1000) {
      const chunk: StoredRecord[] = [];
      for (let j = i; j < Math.min(n, i + 1000); j++) {
        const r = assertRecord(sampleRecord('XK', { nodeId, uscc: subjects[j % subjects.length]!, serial: j }));
        chunk.push(toStoredRecord(r, { nodeId, actor: 'user:bench', now }));
      }
      await db.transaction((trx) => recordsStore.insertMany(trx, chunk));
      if (i % 100_000 === 0 && i > 0) log(`  prefilled ${i} records`);
    }
    return subjects;
  } finally {
    await db.destroy();
  }
}

/** p50 of an mTLS GET round trip on a kept-alive connection, with the hub's and node's certificates. */
async function rawRoundTripP50(fed: Federation, samples: number): Promise<number> {
  const hubData = join(fed.hubDir, 'data');
  const ex = join(fed.node(NODE.id).dir, 'data', 'exchange');
  const caCertPem = readFileSync(fed.caCertFile, 'utf8');
  const app = Fastify({ https: tlsServerOptions({ caCertPem, certPem: readFileSync(join(hubData, 'hub.pem'), 'utf8'), keyPem: readFileSync(join(hubData, 'hub.key'), 'utf8') }) });
  app.get('/ping', async () => ({ ok: true }));
  await app.listen({ host: '127.0.0.1', port: 0 });
  const port = (app.server.address() as { port: number }).port;
  const agent = new Agent({ connect: tlsClientOptions({ caCertPem, certPem: readFileSync(join(ex, 'node.pem'), 'utf8'), keyPem: readFileSync(join(ex, 'node.key'), 'utf8') }) });
  try {
    const get = async () => (await request(`https://127.0.0.1:${port}/ping`, { dispatcher: agent })).body.text();
    for (let i = 0; i < 20; i++) await get();
    return median(await timeEach(samples, get));
  } finally {
    await agent.close();
    await app.close();
  }
}

export interface ExchangeRun {
  records: number;
  /** Province queries to time after the intake (0: none). */
  queries: number;
  /** The national suite: SM2 root beside the RSA one, hub and node with suites ["SM"], SM audit logs (as `credit demo --suite sm`). */
  sm?: boolean;
  /** The hub's store on this PostgreSQL server, in a throwaway schema (dropped after); the node stays on SQLite. */
  pgUrl?: string;
  /** Also the raw parts of a query: mTLS round trip and the hub store's lookup. */
  raw?: boolean;
  /** PostgreSQL only: before the queries, fill the hub's hub_records with filler rows up to this many (scripts/bench/hub-fill.ts). */
  fillTo?: number;
  log: (line: string) => void;
}

/**
 * The naive query's times: `count` plain JSON GETs, one after another on one kept-alive mTLS
 * connection, to the naive server's lookup route over the hub's store (after 20 to warm up), asking
 * for the subjects the province query asks for. SQLite hub only.
 */
async function naiveQueryTimes(fed: Federation, subjectAt: (i: number) => string, count: number): Promise<number[]> {
  const hubData = join(fed.hubDir, 'data');
  const ex = join(fed.node(NODE.id).dir, 'data', 'exchange');
  const caCertPem = readFileSync(fed.caCertFile, 'utf8');
  const config: NaiveServerConfig = {
    store: { engine: 'SQLite', target: join(hubData, 'hub.sqlite') },
    caCertPem, certPem: readFileSync(join(hubData, 'hub.pem'), 'utf8'), keyPem: readFileSync(join(hubData, 'hub.key'), 'utf8'),
    query: { keyFile: join(hubData, 'data.key') },
  };
  const configFile = join(fed.hubDir, 'naive-query.json');
  writeFileSync(configFile, JSON.stringify(config), { mode: 0o600 });
  const server = await spawnServer('naive query server', naiveServerArgs(configFile));
  const agent = new Agent({ connect: tlsClientOptions({ caCertPem, certPem: readFileSync(join(ex, 'node.pem'), 'utf8'), keyPem: readFileSync(join(ex, 'node.key'), 'utf8') }) });
  try {
    const get = async (i: number) => {
      const res = await request(`${server.url}/subjects/${subjectAt(i)}`, { dispatcher: agent });
      const body = (await res.body.json()) as { records?: unknown[] };
      if (res.statusCode !== 200 || !Array.isArray(body.records) || body.records.length === 0) throw new Error(`naive query server answered ${res.statusCode} ${JSON.stringify(body).slice(0, 200)}`);
    };
    for (let i = 0; i < 20; i++) await get(i);
    return await timeEach(count, (i) => get(i + 20));
  } finally {
    await agent.close();
    await server.stop();
  }
}

export interface ExchangeFigures {
  rps: number;
  batches: number;
  span: number;
  times: number[];
  /** The suites of the batches and receipts the hub kept as evidence. */
  suites: string[];
  rtt?: number;
  lookup?: number;
  /** The naive query's times (with `raw`, SQLite hub). */
  naiveTimes?: number[];
  /** Seconds spent filling hub_records to `fillTo` (PostgreSQL). */
  filledS?: number;
}

/**
 * One exchange run: hub and node as child processes, the node's outbox prefilled with `records`,
 * timed by the hub's receipt times; then the queries. Every process, file and schema is gone after.
 */
/**
 * Records per batch of a run of `n` records: the node's default (DEFAULT_BATCH_MAX_RECORDS, 5,000),
 * smaller when the run is too short for 10 batches (the rate is timed between the first and the last
 * receipt: a run of a few batches would time next to nothing); BENCH_BATCH_RECORDS sets it (A/B runs).
 */
export function batchRecordsFor(n: number): number {
  return Number(process.env.BENCH_BATCH_RECORDS) || Math.min(DEFAULT_BATCH_MAX_RECORDS, Math.max(1, Math.ceil(n / 10)));
}

export async function runExchange(o: ExchangeRun): Promise<ExchangeFigures> {
  const { records: n, log } = o;
  const dir = mkdtempSync(join(tmpdir(), 'bench-exchange-'));
  const schema = o.pgUrl ? benchSchema('e2e') : undefined;
  const pgAdmin = o.pgUrl && schema ? await connect(o.pgUrl, { schema, poolMax: 2 }) : undefined; // creates the schema
  const fed = new Federation(dir, {
    hubConfig: { rateLimit: { enabled: false }, logLevel: 'warn', ...(o.pgUrl && schema ? { databaseUrl: urlWithSchema(o.pgUrl, schema) } : {}), ...(o.sm ? { suites: ['SM'], audit: { hashAlg: 'sm3' } } : {}) },
    nodeHubConfig: { batchMaxRecords: batchRecordsFor(n), batchMaxAgeMs: 100, pollIntervalMs: 600_000, checkpointIntervalMs: 600_000, ...(o.sm ? { suites: ['SM'] } : {}) },
    ...(o.sm ? { sm2Ca: true, nodeConfig: { audit: { hashAlg: 'sm3' } } } : {}),
  });
  try {
    await fed.init();
    await fed.startHub();
    const node = await fed.enrolNode(NODE);
    log(`exchange: prefilling ${n} records at node ${NODE.id}${o.sm ? ' (national suite)' : ''}${o.pgUrl ? ` (hub on PostgreSQL, schema ${schema})` : ''}`);
    const subjects = await prefill(join(node.dir, 'data', 'node.sqlite'), n, log);
    await fed.startNode(NODE.id);
    log('exchange: node started; waiting for its outbox to drain');
    await waitFor('the outbox to drain', async () => {
      const s = await fed.api<{ outbox: { pending: number }; batches: { pending: number; accepted: number } }>(NODE.id, 'GET', '/v1/exchange/status');
      return s.status === 200 && s.body.outbox.pending === 0 && s.body.batches.pending === 0 && s.body.batches.accepted > 0 ? true : undefined;
    }, { timeoutMs: n * 5, everyMs: 1000 });
    const hubDb = pgAdmin ?? (await connect(join(fed.hubDir, 'data', 'hub.sqlite')));
    const out: ExchangeFigures = { rps: 0, batches: 0, span: 0, times: [], suites: [] };
    try {
      const batches = (await hubDb('hub_envelopes').where({ type: 'batch', outcome: 'accepted' }).orderBy('received_at').select('received_at')) as { received_at: string }[];
      const stored = Number(((await hubDb('hub_records').where({ source_node: NODE.id }).count({ c: '*' }).first()) as { c: number | string }).c);
      if (stored !== n) throw new Error(`the hub holds ${stored} records, expected ${n}`);
      out.span = (Date.parse(batches.at(-1)!.received_at) - Date.parse(batches[0]!.received_at)) / 1000;
      out.batches = batches.length;
      out.rps = (n - n / batches.length) / out.span; // the first batch's records arrived before the clock started
      const headers = (await hubDb('hub_exchange_evidence').whereIn('type', ['batch', 'receipt']).select('header')) as { header: string }[];
      out.suites = [...new Set(headers.map((h) => (JSON.parse(h.header) as { suite: string }).suite))].sort();
      log(`exchange: ${n} records in ${batches.length} batches, ${out.span.toFixed(1)} s from first to last receipt; suites ${out.suites.join(', ')}`);
      if (o.raw) {
        // the hub's own lookup: blind index (its data key), then the rows opened
        attachKeyring(hubDb, await readKeyring(join(fed.hubDir, 'data', 'data.key'), fileKeyWrapper));
        const lookups = await timeEach(200, (i) => hubRecords.bySubject(hubDb, subjects[(i * 7919) % subjects.length]!));
        out.lookup = median(lookups);
      }
    } finally {
      if (!pgAdmin) await hubDb.destroy();
    }
    const subjectAt = (i: number) => subjects[(i * 104729) % subjects.length]!;
    if (pgAdmin && o.fillTo !== undefined && o.fillTo > n) {
      const t0 = Date.now();
      log(`exchange: filling the hub's hub_records to ${o.fillTo.toLocaleString('en-US')} rows before the queries`);
      await fill(pgAdmin, schema!, o.fillTo - n, log);
      out.filledS = (Date.now() - t0) / 1000;
      log(`exchange: filled in ${out.filledS.toFixed(0)} s (ANALYZE included)`);
    }
    if (o.queries > 0) {
      const purpose = encodeURIComponent('bench');
      const ask = (i: number) => fed.api(NODE.id, 'GET', `/v1/subjects/${subjectAt(i)}?scope=province&purpose=${purpose}`).then((r) => {
        if (r.status !== 200) throw new Error(`province query answered ${r.status}`);
      });
      for (let i = 0; i < 20; i++) await ask(i);
      out.times = await timeEach(o.queries, (i) => ask(i + 20));
    }
    if (o.raw) out.rtt = await rawRoundTripP50(fed, 200);
    if (o.raw && !o.pgUrl && o.queries > 0) out.naiveTimes = await naiveQueryTimes(fed, subjectAt, o.queries);
    return out;
  } finally {
    await fed.close();
    if (pgAdmin) await dropSchema(pgAdmin, schema!);
    rmSync(dir, { recursive: true, force: true });
  }
}

export const exchangeScenario: Scenario = {
  name: 'e2e',
  async run({ quick, log }) {
    const n = Number(process.env.BENCH_EXCHANGE_RECORDS) || (quick ? 30_000 : 1_000_000); // the env var shrinks it for smoke runs
    const f = await runExchange({ records: n, queries: quick ? 200 : 500, raw: true, log });
    const p50 = median(f.times);
    const results: BenchResult[] = [
      { label: `end to end, outbox → hub (${n} records)`, key: 'e2e_rps', value: f.rps, unit: 'records/s', note: `${f.batches} batches of ${batchRecordsFor(n).toLocaleString('en-US')} in ${f.span.toFixed(1)} s` },
      { label: `province query p50 (${n} records at the hub)`, key: 'query_p50_ms', value: p50, unit: 'ms' },
      { label: 'province query p99', key: 'query_p99_ms', value: percentile(f.times, 99), unit: 'ms' },
      { label: 'raw: mTLS round trip p50 (kept alive)', key: 'raw_mtls_rtt_ms', value: f.rtt!, unit: 'ms' },
      { label: 'raw: indexed lookup p50 (hub store)', key: 'raw_lookup_ms', value: f.lookup!, unit: 'ms' },
      { label: 'query p50 / (rtt + lookup)', key: 'query_vs_raw', value: p50 / (f.rtt! + f.lookup!), unit: '×', note: 'target ≤ 3' },
    ];
    const naiveP50 = median(f.naiveTimes!);
    results.push(
      { label: 'naive query p50: JSON GET over kept-alive mTLS to Fastify, same lookup + one audit row (SQLite)', key: 'naive_query_p50_ms', value: naiveP50, unit: 'ms', note: `${f.naiveTimes!.length} queries; no envelope, signature, role check or release policy` },
      { label: 'query p50 / naive query p50', key: 'query_vs_naive', value: p50 / naiveP50, unit: '×', note: 'target ≤ 2' },
    );
    return results;
  },
};
