/**
 * The hub's planner statistics on PostgreSQL (server/planner-stats.ts): ANALYZE of the tables every
 * batch grows, as records are accepted (hub/intake-service.ts calls `grew`).
 */
import type { Knex } from 'knex';
import { storePlannerStats, type PlannerStats, type PlannerStatsOptions } from '../server/planner-stats.js';

export type { PlannerStats, PlannerStatsOptions } from '../server/planner-stats.js';

/** The tables that grow with every record a batch brings. */
export const BULK_TABLES = ['hub_records', 'hub_distributions', 'hub_quality_doc_keys', 'hub_quality_names'] as const;
/** First key of the advisory lock one ANALYZE of a store's bulk tables holds across hub processes (the second: hashtext of the schema; intake-service.ts STREAM_LOCK_CLASS is 430_000_003). */
export const PLANNER_STATS_LOCK_KEY = 430_000_004;

export function plannerStats(db: Knex, o: PlannerStatsOptions): PlannerStats {
  return storePlannerStats(db, { tables: BULK_TABLES, sizeTable: 'hub_records', lockKey: PLANNER_STATS_LOCK_KEY, what: 'hub tables' }, o);
}
