/**
 * Bench: the exchange (exchange.ts) with the hub's store on PostgreSQL (bench-pg.ts: BENCH_PG_URL,
 * else DATABASE_URL if postgres://; a throwaway schema), the node on SQLite as a city node runs:
 * e2e_pg_rps, then province queries against all those records at the hub (query_pg_p50_ms,
 * query_pg_p99_ms). Runs beside the SQLite figures of the same run. Opt-in `BENCH_PG_QUERY_ROWS=N`:
 * before the queries, hub_records is filled to N rows by SQL (hub-fill.ts), so the query is timed end
 * to end against a hub of that size (issue 22 item 3: p99 < 50 ms at 10,000,000 records).
 */
import { benchPgUrl, pgUnavailable } from './bench-pg.js';
import { percentile, runExchange } from './exchange.js';
import { median, type BenchResult, type Scenario } from './scenario.js';

export const e2ePgScenario: Scenario = {
  name: 'e2e-pg',
  unavailable: () => pgUnavailable(),
  async run({ quick, log }): Promise<BenchResult[]> {
    const n = Number(process.env.BENCH_EXCHANGE_RECORDS) || (quick ? 10_000 : 1_000_000);
    // opt-in: the queries against a hub holding this many rows (the exchanged records plus filler rows written by SQL)
    const fillTo = Number(process.env.BENCH_PG_QUERY_ROWS) || undefined;
    const f = await runExchange({ records: n, queries: quick ? 100 : 500, pgUrl: benchPgUrl()!, log, ...(fillTo ? { fillTo } : {}) });
    const where = `hub store on PostgreSQL, node on SQLite`;
    const atHub = fillTo && fillTo > n ? fillTo : n;
    const filled = f.filledS !== undefined ? `; ${(atHub - n).toLocaleString('en-US')} filler rows written by SQL before the queries (${f.filledS.toFixed(0)} s, BENCH_PG_QUERY_ROWS)` : '';
    return [
      { label: `end to end, outbox → hub on PostgreSQL (${n} records)`, key: 'e2e_pg_rps', value: f.rps, unit: 'records/s', note: `${where}; ${f.batches} batches in ${f.span.toFixed(1)} s` },
      { label: `province query p50, hub on PostgreSQL (${atHub} records at the hub)`, key: 'query_pg_p50_ms', value: median(f.times), unit: 'ms', note: `${f.times.length} queries one after another${filled}` },
      { label: 'province query p99, hub on PostgreSQL', key: 'query_pg_p99_ms', value: percentile(f.times, 99), unit: 'ms' },
    ];
  },
};
