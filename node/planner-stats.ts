/**
 * The node's planner statistics on PostgreSQL (server/planner-stats.ts): ANALYZE of the tables an
 * import and the distribution feed grow. Without statistics, the import's look-up of a chunk of
 * natural keys (`source_node = $1 and natural_key in (…)`, records-store.ts) scanned every record of
 * the node: 122 ms instead of 3.3 ms per 500 keys at 300,000 records (docs/scale.md "Planner
 * statistics"). node/routes/import.ts and the puller call `grew` after each committed batch / page.
 */
import type { Knex } from 'knex';
import { storePlannerStats, type PlannerStats, type PlannerStatsOptions } from '../server/planner-stats.js';

export type { PlannerStats } from '../server/planner-stats.js';

/** The tables that grow with every record imported or received. */
export const NODE_BULK_TABLES = ['node_records', 'node_outbox', 'node_record_versions', 'node_quality_doc_keys', 'node_quality_names'] as const;
/** First key of the advisory lock of one ANALYZE of a node store's tables (the hub's is 430_000_004; login failures' 430_000_005). */
export const NODE_PLANNER_STATS_LOCK_KEY = 430_000_006;

export function nodePlannerStats(db: Knex, o: PlannerStatsOptions): PlannerStats {
  return storePlannerStats(db, { tables: NODE_BULK_TABLES, sizeTable: 'node_records', lockKey: NODE_PLANNER_STATS_LOCK_KEY, what: 'node tables' }, o);
}
