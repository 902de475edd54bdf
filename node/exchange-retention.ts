/**
 * What the node prunes (audit/exchange-retention.ts): node_outbox rows of batches whose receipt
 * is stored (status accepted or refused) more than the retention period ago, and that were
 * queued before then too. Unbatched rows and rows of batches still waiting for a receipt stay.
 * node_batches rows stay (one small row per batch; the next seq is counted from them), with their
 * receipts: a hub whose store went back in time (failover, restore) and no longer has a pruned
 * batch gets it again rebuilt from that receipt (node/exchange/resync.ts reopenFrom), so pruning
 * never costs a record the hub might still need.
 */
import type { Knex } from 'knex';
import { pruneExchangeRows, type ExchangePruneCounts, type PrunableTable, type RetentionAudit } from '../audit/exchange-retention.js';

export const NODE_PRUNABLE: readonly PrunableTable[] = [
  {
    table: 'node_outbox',
    async pickSettled(db, cutoff, limit) {
      const rows = (await db('node_outbox as o')
        .join('node_batches as b', 'b.id', 'o.batch_id')
        .whereIn('b.status', ['accepted', 'refused'])
        .whereNotNull('b.receipt_at')
        .where('b.receipt_at', '<', cutoff)
        .where('o.created_at', '<', cutoff)
        .orderBy('o.id')
        .limit(limit)
        .select('o.id')) as { id: number | string }[];
      return rows.map((r) => Number(r.id));
    },
    remove: (db, ids) => db('node_outbox').whereIn('id', ids).del(),
  },
];

export function pruneNodeExchange(db: Knex, audit: RetentionAudit, o: { now: Date; days: number; batchSize?: number }): Promise<ExchangePruneCounts> {
  return pruneExchangeRows(db, audit, NODE_PRUNABLE, { ...o, actor: 'system:retention' });
}
