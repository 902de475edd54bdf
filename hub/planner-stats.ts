/**
 * Planner statistics for the tables a PostgreSQL hub grows in bulk (records, their distribution
 * rows and quality keys). PostgreSQL chooses its plans from statistics that only ANALYZE (or
 * autovacuum's autoanalyze) refreshes. Without them it takes the default selectivity of
 * `source_node = $1` (0.5 % of the rows) and looks up a batch's 1,000 ids by scanning every row of
 * the node instead of probing the (source_node, id) key: measured 377 ms instead of 9 ms per batch
 * at 535,000 records, growing with the store (docs/benchmarks.md, "planner statistics"). Autovacuum
 * can be off (it is on this project's CI machine) or behind, so the hub keeps them current itself:
 * once the rows a process has added since the last ANALYZE reach max(`minRows`, `fraction` ×
 * the table's size then), it runs one ANALYZE of these tables in the background — outside any
 * transaction, one at a time. ANALYZE takes a SHARE UPDATE EXCLUSIVE lock, which no insert or
 * update waits for; a failure (lock_timeout behind autovacuum, say) is logged and the next
 * threshold tries again. SQLite needs none of this: its plans for these lookups use the key.
 */
import type { Knex } from 'knex';
import { engineOf } from '../audit/knex-connect.js';

/** The tables that grow with every record a batch brings. */
export const BULK_TABLES = ['hub_records', 'hub_distributions', 'hub_quality_doc_keys', 'hub_quality_names'] as const;

export interface PlannerStatsOptions {
  /** Rows added before the first ANALYZE, and the least between two (default 10,000). */
  minRows?: number;
  /** Growth, as a share of hub_records' size at the last ANALYZE, that calls for the next (default 0.1, autoanalyze's own). */
  fraction?: number;
  log: { warn(obj: object, msg: string): void; debug(obj: object, msg: string): void };
}

export interface PlannerStats {
  /** `rows` records were added (committed): may start an ANALYZE in the background. */
  grew(rows: number): void;
  /** The ANALYZE under way, if any, has ended (tests; close). */
  settled(): Promise<void>;
  /** ANALYZEs run by this process (metrics, tests). */
  readonly runs: number;
}

const NONE: PlannerStats = { grew: () => undefined, settled: async () => undefined, runs: 0 };

export function plannerStats(db: Knex, o: PlannerStatsOptions): PlannerStats {
  if (engineOf(db) !== 'pg') return NONE;
  const minRows = o.minRows ?? 10_000;
  const fraction = o.fraction ?? 0.1;
  let added = 0;
  let base = -1; // hub_records' size at the last ANALYZE; -1: not read yet
  let running: Promise<void> | null = null;
  let runs = 0;

  async function analyze(): Promise<void> {
    if (base < 0) {
      // the size as the store last recorded it (reltuples: −1 when never analysed)
      const r = (await db.raw(`select greatest(c.reltuples, 0)::bigint as n from pg_class c where c.oid = to_regclass('hub_records')`)) as { rows: { n: string | number }[] };
      base = Number(r.rows[0]?.n ?? 0);
      if (added < Math.max(minRows, fraction * base)) return;
    }
    const started = Date.now();
    const counted = added;
    await db.raw(`analyze ${BULK_TABLES.join(', ')}`);
    runs++;
    added -= counted;
    base += counted;
    o.log.debug({ tables: BULK_TABLES.length, rowsSince: counted, ms: Date.now() - started }, 'planner statistics refreshed (ANALYZE)');
  }

  return {
    grew(rows) {
      added += rows;
      if (running || added < Math.max(minRows, fraction * Math.max(base, 0))) return;
      running = analyze()
        .catch((e: unknown) => o.log.warn({ code: (e as { code?: string }).code ?? 'Error' }, 'ANALYZE of the hub tables failed; it is tried again as they grow'))
        .finally(() => (running = null));
    },
    settled: async () => {
      while (running) await running;
    },
    get runs() {
      return runs;
    },
  };
}
