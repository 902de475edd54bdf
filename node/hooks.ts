/**
 * Seams for later parts of the node: a record write calls every `onRecordWritten` inside the same
 * transaction (the hub exchange adds its outbox row there), so a record and whatever follows from
 * it commit or roll back together. Empty in a standalone node.
 */
import type { Knex } from 'knex';
import type { StoredRecord, WithdrawReason } from './records-store.js';

export interface RecordHooks {
  onRecordWritten: Array<(trx: Knex.Transaction, record: StoredRecord) => Promise<void>>;
  /** Like onRecordWritten, called once per write with every new record (one SQL statement for a 1,000-record import batch). */
  onRecordsWritten?: Array<(trx: Knex.Transaction, records: StoredRecord[]) => Promise<void>>;
  onRecordWithdrawn: Array<(trx: Knex.Transaction, record: StoredRecord, reason: WithdrawReason) => Promise<void>>;
  /** A new version of an own record (record-versions.ts): `after` is current now, `before` the version it replaced. */
  onRecordVersioned?: Array<(trx: Knex.Transaction, after: StoredRecord, before: StoredRecord) => Promise<void>>;
}

export function emptyHooks(): RecordHooks {
  return { onRecordWritten: [], onRecordWithdrawn: [] };
}

export async function runWritten(hooks: RecordHooks, trx: Knex.Transaction, records: StoredRecord[]): Promise<void> {
  if (records.length === 0) return;
  for (const r of records) for (const h of hooks.onRecordWritten) await h(trx, r);
  for (const h of hooks.onRecordsWritten ?? []) await h(trx, records);
}
