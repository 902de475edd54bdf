/**
 * Planner statistics for the tables a PostgreSQL store grows in bulk (the hub's records, their
 * distribution rows and quality keys: hub/planner-stats.ts; the node's records, outbox, versions and
 * quality keys: node/planner-stats.ts). PostgreSQL chooses its plans from statistics that only
 * ANALYZE (or autovacuum's autoanalyze) refreshes. Without them it takes the default selectivity of
 * `source_node = $1` (0.5 % of the rows) and looks up a batch's 1,000 ids by scanning every row of
 * the node instead of probing the (source_node, id) key: measured 377 ms instead of 9 ms per batch
 * at 535,000 records at the hub, growing with the store (docs/benchmarks.md, "planner
 * statistics"); at a node, the import's look-up of 500 natural keys by (source_node, natural_key)
 * took 122 ms instead of 3.3 ms at 300,000 records (docs/scale.md "Planner statistics"). Autovacuum
 * can be off (it is on this project's CI machine) or behind, so the servers keep them current
 * themselves: once the rows a process has added since the last ANALYZE reach max(`minRows`,
 * `fraction` × the size table's size as PostgreSQL last counted it), it runs one ANALYZE of these
 * tables in the background, one at a time, in a transaction of its own with its own timeouts:
 *  - `pg_try_advisory_xact_lock(lockKey, hashtext(schema of the size table))` first: when another
 *    process on the same store is analysing, this one skips (those statistics are shared) and
 *    counts from zero again; stores in other schemas of the database do not meet;
 *  - `statement_timeout` ANALYZE_TIMEOUT_MS (ANALYZE of a 10 M-row table outlasts the sessions' 30 s),
 *    `lock_timeout` 2 s (behind autovacuum or a manual ANALYZE it gives up rather than queue);
 *  - ANALYZE's SHARE UPDATE EXCLUSIVE lock is one no insert or update waits for.
 * Afterwards the table's size is read again (reltuples, which ANALYZE has just set). A failure is
 * logged with the database's code and tried again only after another `minRows` records; close()
 * cancels an ANALYZE under way rather than wait for it (pg_cancel_backend of its session, only
 * while that session is still in the ANALYZE's transaction). SQLite needs none of
 * this: its plans for these lookups use the key.
 */
import type { Knex } from 'knex';
import { engineOf } from '../audit/knex-connect.js';

/** statement_timeout of the ANALYZE (the sessions' own is 30 s: audit/knex-connect.ts PG_TIMEOUTS). */
export const ANALYZE_TIMEOUT_MS = 600_000;

/** Which store: its bulk tables, the one whose size sets the pace, and the first key of the advisory lock (the second: hashtext of the schema). */
export interface StoreTables {
  tables: readonly string[];
  sizeTable: string;
  lockKey: number;
  /** For the log lines: "hub tables", "node tables". */
  what: string;
}

export interface PlannerStatsOptions {
  /** Records accepted before the first ANALYZE, the least between two, and the wait after a failure (default 10,000). */
  minRows?: number;
  /** Growth, as a share of the size table's size at the last ANALYZE, that calls for the next (default 0.1, autoanalyze's own). */
  fraction?: number;
  /** lock_timeout of the ANALYZE (default 2,000 ms: behind autovacuum or a manual ANALYZE it gives up rather than queue). */
  lockTimeoutMs?: number;
  log: { warn(obj: object, msg: string): void; debug(obj: object, msg: string): void };
}

export interface PlannerStats {
  /** `rows` records were accepted (committed): may start an ANALYZE in the background. */
  grew(rows: number): void;
  /** The ANALYZE under way, if any, has ended (tests). */
  settled(): Promise<void>;
  /** Cancels an ANALYZE under way and waits for it to end; later growth starts none. */
  close(): Promise<void>;
  /** ANALYZEs this process ran to the end (metrics, tests). */
  readonly runs: number;
}

const NONE: PlannerStats = { grew: () => undefined, settled: async () => undefined, close: async () => undefined, runs: 0 };

type Outcome = 'analysed' | 'skipped' | 'not due';

export function storePlannerStats(db: Knex, store: StoreTables, o: PlannerStatsOptions): PlannerStats {
  if (engineOf(db) !== 'pg') return NONE;
  const minRows = o.minRows ?? 10_000;
  const fraction = o.fraction ?? 0.1;
  const lockTimeoutMs = Number.isSafeInteger(o.lockTimeoutMs) && o.lockTimeoutMs! >= 0 ? o.lockTimeoutMs! : 2000;
  let added = 0;
  let base = -1; // the size table's size as PostgreSQL last counted it; -1: not read yet
  let retryAt = 0; // after a failure: `added` must reach this first
  let running: Promise<void> | null = null;
  // the session running the ANALYZE and its transaction's start (close() cancels only that transaction, not a later statement of the pooled connection)
  let backend: { pid: number; since: string } | null = null;
  let closed = false;
  let runs = 0;

  const due = () => added >= Math.max(minRows, fraction * Math.max(base, 0), retryAt);
  const size = async (q: Knex | Knex.Transaction): Promise<number> => {
    // reltuples: −1 when never analysed (PostgreSQL ≥ 14), else ANALYZE's (or VACUUM's) count
    const r = (await q.raw(`select greatest(c.reltuples, 0)::bigint as n from pg_class c where c.oid = to_regclass(?)`, [store.sizeTable])) as { rows: { n: string | number }[] };
    return Number(r.rows[0]?.n ?? 0);
  };

  async function analyze(): Promise<Outcome> {
    if (base < 0) {
      base = await size(db);
      if (!due()) return 'not due';
    }
    const counted = added;
    const outcome = await db.transaction(async (trx): Promise<Outcome> => {
      try {
        const me = ((await trx.raw(`select pg_backend_pid() as pid, now()::text as since`)) as { rows: { pid: number; since: string }[] }).rows[0]!;
        backend = { pid: Number(me.pid), since: me.since };
        if (closed) return 'skipped';
        // keyed by the schema that holds the size table (the store), else the first of the search path
        const lock = (await trx.raw(
          `select pg_try_advisory_xact_lock(?, hashtext(coalesce((select n.nspname::text from pg_class c join pg_namespace n on n.oid = c.relnamespace where c.oid = to_regclass(?)), current_schema()::text, ''))) as ok`,
          [store.lockKey, store.sizeTable],
        )) as { rows: { ok: boolean }[] };
        if (!lock.rows[0]!.ok) {
          base = await size(trx); // another hub process is analysing these tables right now: its count
          return 'skipped';
        }
        await trx.raw(`select set_config('statement_timeout', ?, true), set_config('lock_timeout', ?, true)`, [String(ANALYZE_TIMEOUT_MS), String(lockTimeoutMs)]);
        if (closed) return 'skipped';
        await trx.raw(`analyze ${store.tables.map((t) => `"${t}"`).join(', ')}`);
        base = await size(trx);
        return 'analysed';
      } finally {
        backend = null;
      }
    });
    added -= counted;
    retryAt = 0;
    if (outcome === 'analysed') runs++;
    return outcome;
  }

  return {
    grew(rows) {
      if (rows <= 0 || closed) return;
      added += rows;
      if (running || !due()) return;
      const started = Date.now();
      running = analyze()
        .then((outcome) => {
          if (outcome !== 'not due') o.log.debug({ outcome, tables: store.tables.length, tableRows: base, ms: Date.now() - started }, `planner statistics of the ${store.what} (ANALYZE)`);
        })
        .catch((e: unknown) => {
          retryAt = added + minRows;
          const code = (e as { code?: unknown } | null | undefined)?.code ?? 'Error';
          if (closed) o.log.debug({ code }, `ANALYZE of the ${store.what} ended by close()`);
          else o.log.warn({ code }, `ANALYZE of the ${store.what} failed; tried again after ${minRows} more rows`);
        })
        .finally(() => {
          running = null;
        });
    },
    settled: async () => {
      while (running) await running;
    },
    async close() {
      closed = true;
      // cancel whatever statement of the ANALYZE's session runs, until the ANALYZE has ended
      while (running) {
        const r = running;
        const b = backend;
        if (b !== null) await db.raw(`select pg_cancel_backend(pid) from pg_stat_activity where pid = ? and xact_start = ?::timestamptz`, [b.pid, b.since]).catch(() => undefined);
        await Promise.race([r, new Promise((resolve) => setTimeout(resolve, 100))]);
      }
    },
    get runs() {
      return runs;
    },
  };
}
