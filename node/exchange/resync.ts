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
export async function renumberAfter(db: Knex, audit: AuditWriter, nodeId: string, lastSeq: number): Promise<Renumbered[]> {
  return db.transaction(async (trx) => {
    const rows = (await trx('node_batches').select('id', 'seq').whereIn('status', ['open', 'sent']).orderBy('seq')) as { id: string; seq: number | string }[];
    if (rows.length === 0 || Number(rows[0]!.seq) > lastSeq) return [];
    const moved = rows.map((r, i) => ({ id: String(r.id), from: Number(r.seq), to: lastSeq + 1 + i }));
    // two steps: seqs are unique, and the new range may overlap the old one
    for (const m of moved) await trx('node_batches').where({ id: m.id }).update({ seq: -m.to });
    for (const m of moved) await trx('node_batches').where({ id: m.id }).update({ seq: m.to, last_error: null });
    await audit.recordIn(trx, {
      actor: `node:${nodeId}`, actorNode: nodeId, action: 'batch.resync', object: moved[0]!.id, outcome: 'success',
      reason: `hubLastSeq=${lastSeq} batches=${moved.length} seq ${moved[0]!.from}→${moved[0]!.to}${moved.length > 1 ? ` … ${moved[moved.length - 1]!.from}→${moved[moved.length - 1]!.to}` : ''}`,
    });
    return moved;
  });
}
