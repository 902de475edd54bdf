/**
 * Resynchronising the batch stream with the hub after the node's store went back in time (restored
 * from an older backup). The hub answers a batch whose seq is not above the last one it accepted
 * from this node with ERR_OUT_OF_ORDER and `details.lastSeq`. The hub checks a batch's id before its
 * seq (hub/intake-service.ts), so a batch answered that way is one the hub never took: its id is
 * new to the hub. Every batch this node still holds without a receipt is then renumbered, in seq
 * order, to lastSeq + 1, lastSeq + 2, … (ids and content unchanged) and sent again.
 *
 * What comes back: every outbox row the restored store holds reaches the hub (rows queued before
 * the backup and never sent, and everything written after the restore). Records are keyed at the
 * hub by (source node, id): a record sent again under a new batch is the same record, never a
 * second one. What does not come back: records, corrections and withdrawals written on the node
 * after the backup was taken are not in the restored store; the hub keeps the copies it received,
 * but the node cannot recreate them (docs/operations: "Backup and restore").
 */
import type { Knex } from 'knex';
import type { AuditWriter } from '../records-service.js';
import { receiptIdsOf } from './outbox-store.js';
import type { ActingOn } from './seq-answer.js';

/** The hub's last accepted seq from an ERR_OUT_OF_ORDER answer, when the answer carries one. */
export function hubLastSeq(e: unknown): number | null {
  const x = e as { code?: unknown; details?: { lastSeq?: unknown } } | undefined;
  if (x?.code !== 'ERR_OUT_OF_ORDER') return null;
  const n = x.details?.lastSeq;
  return typeof n === 'number' && Number.isSafeInteger(n) && n >= 0 ? n : null;
}

export interface Renumbered {
  id: string;
  from: number;
  to: number;
}

/**
 * Renumbers every batch without a receipt to follow `lastSeq`, in one transaction, audited as
 * 'batch.resync'. Returns what moved (empty when nothing was behind the hub).
 */
export async function renumberAfter(db: Knex, audit: AuditWriter, nodeId: string, lastSeq: number, on: ActingOn = { note: '' }): Promise<Renumbered[]> {
  return db.transaction(async (trx) => {
    const rows = (await trx('node_batches').select('id', 'seq').whereIn('status', ['open', 'sent']).orderBy('seq')) as { id: string; seq: number | string }[];
    if (rows.length === 0 || Number(rows[0]!.seq) > lastSeq) return [];
    const moved = rows.map((r, i) => ({ id: String(r.id), from: Number(r.seq), to: lastSeq + 1 + i }));
    // two steps: seqs are unique, and the new range may overlap the old one
    for (const m of moved) await trx('node_batches').where({ id: m.id }).update({ seq: -m.to });
    for (const m of moved) await trx('node_batches').where({ id: m.id }).update({ seq: m.to, last_error: null });
    await on.keep?.(trx);
    await audit.recordIn(trx, {
      actor: `node:${nodeId}`, actorNode: nodeId, action: 'batch.resync', object: moved[0]!.id, outcome: 'success',
      reason: `hubLastSeq=${lastSeq} batches=${moved.length} seq ${moved[0]!.from}→${moved[0]!.to}${moved.length > 1 ? ` … ${moved[moved.length - 1]!.from}→${moved[moved.length - 1]!.to}` : ''}${on.note}`,
    });
    return moved;
  });
}

// ---------------------------------------------------------------- the hub went back in time

/**
 * The mirror case: the HUB's store went back in time (a PostgreSQL failover to a standby that
 * missed the last commits, a hub store restored from an older backup). The node holds receipts for
 * batches the hub no longer has; its next batch is answered ERR_SEQUENCE_GAP with
 * `details.expected`, the seq the hub wants next, so the hub's last accepted seq is expected − 1.
 * Every batch of this node with a receipt and a seq from `expected` up is then put back to
 * unacknowledged ('sent', its receipt kept until the new one replaces it) and sent again with its
 * id and seq, in seq order (sender.ts): the hub does not know those ids, so it accepts them; a hub
 * that still holds one answers ERR_REPLAY with the receipt it stored — a hub claiming a loss it
 * did not have gets replays, nothing twice. Records are keyed at the hub by (source node, id):
 * a record the hub still had is the same record. The receipts replaced stay in the node's exchange
 * log (node_envelopes, 'received'), so the first receipt of a re-sent batch is never lost.
 *
 * Content: a batch travels as the current rows of the records its outbox rows name
 * (outbox-store.ts items). The outbox rows of a receipted batch are pruned after the retention
 * period (node/exchange-retention.ts); a re-opened batch whose rows are gone gets them back from its
 * own stored receipt (accepted → 'record', versioned → 'version', withdrawn → 'withdrawal'; the
 * rejected ones were not taken the first time and are not sent again): from the ids noted in
 * node_batches.receipt_items when the receipt came, so no key is needed (the receipt is sealed to
 * the node's key of that time, which two renewals later the node no longer holds); a batch from
 * before that column is opened instead (renewal notes them before it replaces the key).
 *
 * What the node accepts from the hub, and what it reports:
 *  - `expected` must be a whole number ≥ 1 and below the seq the hub refused (else it is not a gap
 *    the hub can mean: ignored, the refusal stands and is retried). The node only ever re-sends its
 *    own batches, to the hub it is configured for, with their own ids, seqs and content: nothing
 *    can be made to go to another recipient, nothing is dropped (a batch is never skipped or cut
 *    again) and the node's seqs never move.
 *  - The cosigned floor: the highest seq whose 'batch.receipt' entry lies in a head of this node's
 *    audit log the hub has cosigned (audit_cosignatures). The hub cosigned that head after the batch
 *    was committed at the hub, so a hub that says it lost a batch at or below the floor lost state
 *    it had attested: its store was rolled back past its own signatures. The batches are still sent
 *    again (losing the records would be worse), but the resync is audited as a failure with
 *    ERR_HUB_ROLLED_BACK and logged as an error: a security event for both operators.
 *  - Every resync is audited on the node as 'batch.resync.hub' (the range, the hub's last seq, the
 *    floor). A repeated one (a range overlapping the previous resync's) is done too, but the sender
 *    then waits its backoff before sending, so a hub cannot keep a node re-sending in a tight loop.
 */

/** The seq the hub expects next, from an ERR_SEQUENCE_GAP answer to a batch of seq `sentSeq`; null when the answer carries no usable one. */
export function hubExpected(e: unknown, sentSeq: number): number | null {
  const x = e as { code?: unknown; details?: { expected?: unknown } } | undefined;
  if (x?.code !== 'ERR_SEQUENCE_GAP') return null;
  const n = x.details?.expected;
  return typeof n === 'number' && Number.isSafeInteger(n) && n >= 1 && n < sentSeq ? n : null;
}

/** The highest batch seq whose receipt is in a head of this node's log the hub has cosigned (0 when none). */
export async function cosignedFloor(db: Knex): Promise<number> {
  if (!(await db.schema.hasTable('audit_cosignatures'))) return 0;
  const top = (await db('audit_cosignatures').max({ m: 'tree_size' }).first()) as { m: number | string | null } | undefined;
  const size = Number(top?.m ?? 0);
  if (size <= 0) return 0;
  const row = (await db('node_batches as b')
    .join('audit_log as a', 'a.object', 'b.id')
    .where('a.action', 'batch.receipt')
    .where('a.seq', '<=', size)
    .max({ m: 'b.seq' })
    .first()) as { m: number | string | null } | undefined;
  return Number(row?.m ?? 0);
}

export interface Reopened {
  /** The seqs put back to unacknowledged, in order. */
  seqs: number[];
  /** The hub's last accepted seq (its `expected` − 1). */
  hubLastSeq: number;
  floor: number;
  /** The hub claims to have lost a batch at or below the cosigned floor. */
  rolledBack: boolean;
  /** The range overlaps the previous resync's. */
  repeated: boolean;
}

/** Receipt content of a batch, to rebuild its outbox rows when they were pruned. */
export type ReceiptItems = (batchId: string, seq: number, receipt: string) => Promise<{ accepted: string[]; versioned: string[]; withdrawn: string[] }>;

const HUB_RESYNC_KEY = 'hub.resync.last';

/**
 * Puts every receipted batch with a seq ≥ `expected` back to unacknowledged, in one transaction,
 * audited as 'batch.resync.hub' (a failure with ERR_HUB_ROLLED_BACK below the cosigned floor).
 * Returns null when no receipted batch is at or above `expected` (a batch that overtook the one
 * before it: nothing was lost).
 */
export async function reopenFrom(db: Knex, audit: AuditWriter, nodeId: string, expected: number, at: string, receiptItems: ReceiptItems, on: ActingOn = { note: '' }): Promise<Reopened | null> {
  const floor = await cosignedFloor(db);
  return db.transaction(async (trx) => {
    const rows = (await trx('node_batches').select('id', 'seq', 'receipt', 'receipt_items', 'records', 'withdrawals').whereIn('status', ['accepted', 'refused']).where('seq', '>=', expected).orderBy('seq')) as {
      id: string; seq: number | string; receipt: string | null; receipt_items: string | null; records: number | string; withdrawals: number | string;
    }[];
    if (rows.length === 0) return null;
    for (const r of rows) {
      const held = (await trx('node_outbox').where({ batch_id: r.id }).count({ n: '*' }).first()) as { n: number | string } | undefined;
      if (Number(held?.n ?? 0) > 0 || r.receipt === null) continue;
      // pruned after its receipt (exchange-retention.ts): the rows again, from what the hub took —
      // as noted when the receipt came (no key needed), else from the receipt itself
      const items = receiptIdsOf(r.receipt_items) ?? (await receiptItems(String(r.id), Number(r.seq), r.receipt));
      const back = [
        ...items.accepted.map((id) => ({ record_id: id, kind: 'record' })),
        ...items.versioned.map((id) => ({ record_id: id, kind: 'version' })),
        ...items.withdrawn.map((id) => ({ record_id: id, kind: 'withdrawal' })),
      ];
      for (let i = 0; i < back.length; i += 500) await trx('node_outbox').insert(back.slice(i, i + 500).map((b) => ({ ...b, batch_id: r.id, created_at: at })));
    }
    const seqs = rows.map((r) => Number(r.seq));
    const ids = rows.map((r) => String(r.id));
    await trx('node_batches').whereIn('id', ids).update({ status: 'sent', last_error: 'ERR_SEQUENCE_GAP (resync)' });
    const hubLastSeq = expected - 1;
    const prevText = (await trx('node_exchange_state').where({ key: HUB_RESYNC_KEY }).first()) as { value: string } | undefined;
    const prev = prevText ? (JSON.parse(prevText.value) as { from: number; to: number }) : null;
    const repeated = prev !== null && seqs[0]! <= prev.to && seqs[seqs.length - 1]! >= prev.from;
    await trx('node_exchange_state').insert({ key: HUB_RESYNC_KEY, value: JSON.stringify({ from: seqs[0], to: seqs[seqs.length - 1], hubLastSeq, at }), updated_at: at }).onConflict('key').merge(['value', 'updated_at']);
    const rolledBack = hubLastSeq < floor;
    const range = `seq ${seqs[0]}${seqs.length > 1 ? `…${seqs[seqs.length - 1]}` : ''}`;
    await on.keep?.(trx);
    await audit.recordIn(trx, {
      actor: `node:${nodeId}`, actorNode: nodeId, action: 'batch.resync.hub', object: ids[0]!, outcome: rolledBack ? 'failure' : 'success',
      reason: `${rolledBack ? 'ERR_HUB_ROLLED_BACK ' : ''}hubLastSeq=${hubLastSeq} batches=${seqs.length} ${range} cosignedFloor=${floor}${repeated ? ' repeated' : ''}${on.note}: receipted batches the hub no longer holds are sent again with their ids and seqs`,
    });
    return { seqs, hubLastSeq, floor, rolledBack, repeated };
  });
}
