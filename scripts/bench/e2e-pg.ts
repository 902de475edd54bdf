/**
 * Bench: the exchange (exchange.ts) with the hub's store on PostgreSQL (bench-pg.ts: BENCH_PG_URL,
 * else DATABASE_URL if postgres://; a throwaway schema), the node on SQLite as a city node runs:
 * e2e_pg_rps, then province queries against all those records at the hub (query_pg_p50_ms,
 * query_pg_p99_ms). Runs beside the SQLite figures of the same run.
 */
import { benchPgUrl, pgUnavailable } from './bench-pg.js';
import { percentile, runExchange } from './exchange.js';
import { median, type BenchResult, type Scenario } from './scenario.js';

export const e2ePgScenario: Scenario = {
  name: 'e2e-pg',
  unavailable: () => pgUnavailable(),
  async run({ quick, log }): Promise<BenchResult[]> {
    const n = Number(process.env.BENCH_EXCHANGE_RECORDS) || (quick ? 10_000 : 1_000_000);
    const f = await runExchange({ records: n, queries: quick ? 100 : 500, pgUrl: benchPgUrl()!, log });
    const where = `hub store on PostgreSQL, node on SQLite`;
    return [
      { label: `end to end, outbox → hub on PostgreSQL (${n} records)`, key: 'e2e_pg_rps', value: f.rps, unit: 'records/s', note: `${where}; ${f.batches} batches in ${f.span.toFixed(1)} s` },
      { label: `province query p50, hub on PostgreSQL (${n} records at the hub)`, key: 'query_pg_p50_ms', value: median(f.times), unit: 'ms', note: `${f.times.length} queries one after another` },
      { label: 'province query p99, hub on PostgreSQL', key: 'query_pg_p99_ms', value: percentile(f.times, 99), unit: 'ms' },
    ];
  },
};
