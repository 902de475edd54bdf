/**
 * Retention of exchange bookkeeping rows (issue 17 item 9): the node's sent outbox rows and the
 * hub's processed-envelope rows are deleted once they are older than `retention.exchangeDays` AND
 * settled, in small batches (one short transaction each), with one audit entry per run that
 * removed anything (`exchange.prune`, reason = the counts). The floor of the period is the audit
 * log's own (RETENTION_DAYS, 180 days): no row goes while an audit entry naming it must be kept.
 * The signed exchange log (node_exchange_evidence / hub_exchange_evidence) is never pruned here:
 * see docs/exchange-log.md §"Retention". Shared by node/ and hub/, which each give the SQL that
 * picks settled rows (node/exchange-retention.ts, hub/exchange-retention.ts).
 */
import type { Db } from './knex-connect.js';
import type { Knex } from 'knex';
import type { AuditEvent } from './types.js';

/** Where the run's audit entry goes (an AuditLog). */
export interface RetentionAudit {
  record(e: AuditEvent): Promise<number>;
}
import { RETENTION_DAYS } from './prune.js';

/** The shortest allowed exchange retention (days): the audit log's retention. */
export const EXCHANGE_RETENTION_MIN_DAYS = RETENTION_DAYS;
export const EXCHANGE_RETENTION_DEFAULT_DAYS = 400;
const DAY_MS = 86_400_000;

/** One kind of prunable row: picks up to `limit` ids of settled rows older than `cutoff` and deletes them. */
export interface PrunableTable {
  /** The table's name, the key of the counts in the audit entry. */
  table: string;
  pickSettled(db: Db, cutoff: string, limit: number): Promise<(string | number)[]>;
  remove(db: Db, ids: (string | number)[]): Promise<number>;
}

export interface ExchangePruneOptions {
  now: Date;
  days: number;
  /** Rows per transaction. */
  batchSize?: number;
  /** Transactions per run (the rest waits for the next run). */
  maxBatches?: number;
  actor: string;
}

export type ExchangePruneCounts = Record<string, number>;

export function retentionCutoff(now: Date, days: number): string {
  return new Date(now.getTime() - Math.max(days, EXCHANGE_RETENTION_MIN_DAYS) * DAY_MS).toISOString();
}

/** Prunes every table of `tables`; returns the counts removed (all zero: nothing was due). */
export async function pruneExchangeRows(db: Knex, audit: RetentionAudit, tables: readonly PrunableTable[], o: ExchangePruneOptions): Promise<ExchangePruneCounts> {
  const cutoff = retentionCutoff(o.now, o.days);
  const batchSize = o.batchSize ?? 500;
  const maxBatches = o.maxBatches ?? 200;
  const counts: ExchangePruneCounts = {};
  for (const t of tables) {
    let removed = 0;
    for (let i = 0; i < maxBatches; i++) {
      const n = await db.transaction(async (trx) => {
        const ids = await t.pickSettled(trx, cutoff, batchSize);
        return ids.length === 0 ? 0 : t.remove(trx, ids);
      });
      removed += n;
      if (n < batchSize) break;
    }
    counts[t.table] = removed;
  }
  const total = Object.values(counts).reduce((a, b) => a + b, 0);
  if (total > 0) {
    await audit.record({
      action: 'exchange.prune', actor: o.actor, object: `before ${cutoff}`, outcome: 'success',
      reason: `${Object.entries(counts).map(([k, v]) => `${k}=${v}`).join(' ')} days=${o.days}`,
    });
  }
  return counts;
}
