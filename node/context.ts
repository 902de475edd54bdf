/** What the composition root (app.ts) hands to routes: the built services and the config. */
import type { RefusalAudit } from '../audit/refusals.js';
import type { Knex } from 'knex';
import type { NodeConfig } from './config.js';
import type { DisclosureJob } from './disclosure-job.js';
import type { RetentionJob } from '../audit/retention-job.js';
import type { Exchange } from './exchange/exchange.js';
import type { ProvinceQuery } from './exchange/province-query.js';
import type { ImportService } from './import-service.js';
import type { NodeMetrics } from './metrics.js';
import type { AuditWriter, RecordsService } from './records-service.js';
import type { RepairService } from './repair-service.js';
import type { ObjectionsService } from './objections-service.js';
import type { RepairsService } from './repairs-service.js';
import type { ReportService } from './report-service.js';

import type { PlannerStats } from './planner-stats.js';

export interface NodeContext {
  config: NodeConfig;
  db: Knex;
  audit: AuditWriter;
  /** Refused requests go to the audit log aggregated per source and minute (audit/refusals.ts). */
  refusals: RefusalAudit;
  records: RecordsService;
  repair: RepairService;
  /** Objections across the province (issue 15 item 5). */
  objections: ObjectionsService;
  /** Credit repair applications and decisions (issue 15 item 6). */
  repairs: RepairsService;
  imports: ImportService;
  /** Signed credit reports (issue 19 item 4). */
  reports: ReportService;
  metrics: NodeMetrics;
  job: DisclosureJob;
  /** Prunes settled exchange rows past `retention.exchangeDays` (node/exchange-retention.ts). */
  retention: RetentionJob;
  state: { closing: boolean };
  /** The hub exchange and province-wide queries; absent on a standalone node (no `hub` in the config). */
  exchange?: Exchange;
  province?: ProvinceQuery;
  /** Keeps PostgreSQL's planner statistics of the bulk tables current (node/planner-stats.ts; a no-op on SQLite). */
  plannerStats: PlannerStats;
}
