/**
 * The record hooks of the exchange: a new or withdrawn record gets its outbox row in the record's
 * own transaction (so both commit or roll back together), when the record is this node's own
 * (records received from the hub never go back), is not `internal`, and is of a class this node's
 * registered grade may send (protocol MIN_GRADE_TO_SEND).
 */
import type { Knex } from 'knex';
import { CLASSIFICATIONS, MIN_GRADE_TO_SEND, type Classification } from '../../protocol/classification.js';
import type { RecordHooks } from '../hooks.js';
import type { StoredRecord } from '../records-store.js';
import { outboxStore } from './outbox-store.js';

/** The classes a node of `grade` may publish to the hub. */
export function sendableClasses(grade: number): Classification[] {
  return CLASSIFICATIONS.filter((c) => {
    const min = MIN_GRADE_TO_SEND[c];
    return min !== null && grade >= min;
  });
}

export interface OutboxHookOptions {
  nodeId: string;
  /** The node's current grade (from enrolment; may change at renewal). */
  grade: () => number;
  clock: () => Date;
  /** Called after a transaction that queued something has committed (wakes the sender). */
  onCommit?: () => void;
}

type Trx = Knex.Transaction & { parentTransaction?: Trx };

function afterCommit(trx: Knex.Transaction, fn: (() => void) | undefined): void {
  if (!fn) return;
  let top = trx as Trx;
  while (top.parentTransaction) top = top.parentTransaction;
  top.executionPromise.then(fn, () => undefined);
}

export function outboxHooks(o: OutboxHookOptions): RecordHooks {
  const eligible = (r: StoredRecord) => r.sourceNode === o.nodeId && sendableClasses(o.grade()).includes(r.classification);
  // a record stored already expired (its window ended before it was written) is never distributed
  const fresh = (r: StoredRecord) => eligible(r) && r.status === 'active';
  return {
    onRecordWritten: [],
    onRecordsWritten: [
      async (trx, records) => {
        const rows = records.filter(fresh).map((r) => ({ recordId: r.id, kind: 'record' as const }));
        if (rows.length === 0) return;
        await outboxStore.enqueue(trx, rows, o.clock().toISOString());
        afterCommit(trx, o.onCommit);
      },
    ],
    // A correction travels as a `version` item (protocol 1.1) when the hub may hold the record (it
    // was sendable before) or may hold it now; a raise to a class this node may not send withdraws
    // the hub's copy instead (reason correction), so no node keeps serving the old content.
    onRecordVersioned: [
      async (trx, after, before) => {
        const kind = eligible(after) ? ('version' as const) : eligible(before) && before.status === 'active' ? ('withdrawal' as const) : null;
        if (kind === null) return;
        await outboxStore.enqueue(trx, [{ recordId: after.id, kind }], o.clock().toISOString());
        afterCommit(trx, o.onCommit);
      },
    ],
    onRecordWithdrawn: [
      async (trx, record) => {
        if (!eligible(record)) return;
        await outboxStore.enqueue(trx, [{ recordId: record.id, kind: 'withdrawal' }], o.clock().toISOString());
        afterCommit(trx, o.onCommit);
      },
    ],
  };
}
