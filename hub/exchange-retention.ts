/**
 * What the hub prunes (audit/exchange-retention.ts): hub_envelopes rows (the replay window's
 * memory and the stored answer to a re-sent batch) processed more than the retention period ago.
 * A row is written only once its envelope is settled (accepted, refused or answered), so every row
 * past the period goes; the replay check itself never needs them that long (an envelope older than
 * `windowMs` is refused for its timestamp, and sequence numbers live in hub_streams).
 */
import type { Knex } from 'knex';
import { pruneExchangeRows, type ExchangePruneCounts, type PrunableTable, type RetentionAudit } from '../audit/exchange-retention.js';

export const HUB_PRUNABLE: readonly PrunableTable[] = [
  {
    table: 'hub_envelopes',
    async pickSettled(db, cutoff, limit) {
      const rows = (await db('hub_envelopes')
        .whereIn('outcome', ['accepted', 'refused', 'answered'])
        .where('received_at', '<', cutoff)
        .orderBy('received_at')
        .limit(limit)
        .select('id')) as { id: string }[];
      return rows.map((r) => String(r.id));
    },
    remove: (db, ids) => db('hub_envelopes').whereIn('id', ids).del(),
  },
];

export function pruneHubExchange(db: Knex, audit: RetentionAudit, o: { now: Date; days: number; batchSize?: number }): Promise<ExchangePruneCounts> {
  return pruneExchangeRows(db, audit, HUB_PRUNABLE, { ...o, actor: 'system:retention' });
}
