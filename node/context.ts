/** What the composition root (app.ts) hands to routes: the built services and the config. */
import type { RefusalAudit } from '../audit/refusals.js';
import type { Knex } from 'knex';
import type { NodeConfig } from './config.js';
import type { DisclosureJob } from './disclosure-job.js';
import type { Exchange } from './exchange/exchange.js';
import type { ProvinceQuery } from './exchange/province-query.js';
import type { ImportService } from './import-service.js';
import type { NodeMetrics } from './metrics.js';
import type { AuditWriter, RecordsService } from './records-service.js';
import type { RepairService } from './repair-service.js';

export interface NodeContext {
  config: NodeConfig;
  db: Knex;
  audit: AuditWriter;
  /** Refused requests go to the audit log aggregated per source and minute (audit/refusals.ts). */
  refusals: RefusalAudit;
  records: RecordsService;
  repair: RepairService;
  imports: ImportService;
  metrics: NodeMetrics;
  job: DisclosureJob;
  state: { closing: boolean };
  /** The hub exchange and province-wide queries; absent on a standalone node (no `hub` in the config). */
  exchange?: Exchange;
  province?: ProvinceQuery;
}
