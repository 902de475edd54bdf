/**
 * The node's own view of its data quality (issue 19): the counters of node_quality_agg (added as
 * import rows arrive) and the state indicators read at report time (quality-state.ts: 超期公示数,
 * objection and repair handling).
 */
import type { Db } from '../audit/knex-connect.js';
import { todayInChina } from '../protocol/catalog-calendar.js';
import { buildQualityReport, type QualityReport } from '../protocol/quality-report.js';
import { workingDayCounter, type WorkingDayCounter } from '../protocol/working-day-count.js';
import { nodeStateCells } from './quality-state.js';
import { nodeQualityStore } from './quality-store.js';

let counter: WorkingDayCounter | undefined;

export async function nodeQuality(db: Db, o: { nodeId: string; now: Date; month?: string }): Promise<QualityReport> {
  counter ??= workingDayCounter();
  const cells = await nodeQualityStore.cells(db, o.month ? { month: o.month } : {});
  const state = await nodeStateCells(db, { nodeId: o.nodeId, today: todayInChina(o.now), days: counter, ...(o.month ? { month: o.month } : {}) });
  return buildQualityReport([...cells, ...state], { scope: 'node', issuer: o.nodeId, generatedAt: o.now.toISOString(), node: o.nodeId, ...(o.month ? { month: o.month } : {}) });
}
