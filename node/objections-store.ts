/**
 * SQL for objections across the province (node_objections with owner, filing node and deadline)
 * and the queue of outgoing notices (node_notices_out). The only place in node/ that reads or
 * writes node_notices_out; the older single-node objection calls stay in records-store.ts.
 */
import type { Db } from '../audit/knex-connect.js';
import { uuidv7 } from '../protocol/crypto.js';
import type { Notice } from '../protocol/notices.js';
import type { Objection } from './records-store.js';

export interface ProvinceObjection extends Objection {
  /** The record's source node: the only node that may decide. */
  ownerNode: string;
  /** The node where it was filed (this node when null in the table). */
  filedNode: string;
  /** Last working day for the owner's decision. */
  dueDate: string | null;
}

export interface ObjectionFilter {
  status?: Objection['status'];
  recordId?: string;
  /** Open objections whose due date is before this day. */
  overdueOn?: string;
  limit?: number;
}

export interface QueuedNotice {
  n: number;
  envelopeId: string;
  notice: Notice;
  attempts: number;
}

type Row = Record<string, unknown>;
const O = 'node_objections';
const Q = 'node_notices_out';

function fromRow(row: Row, self: string): ProvinceObjection {
  return {
    id: String(row.id), recordId: String(row.record_id), status: row.status as Objection['status'], grounds: String(row.grounds),
    filedBy: String(row.filed_by), filedAt: String(row.filed_at), resolvedBy: (row.resolved_by as string | null) ?? null,
    resolvedAt: (row.resolved_at as string | null) ?? null, resolutionNote: (row.resolution_note as string | null) ?? null,
    ownerNode: String(row.owner_node ?? self), filedNode: String(row.filed_node ?? self), dueDate: (row.due_date as string | null) ?? null,
  };
}

export const objectionsStore = {
  async insert(db: Db, self: string, o: ProvinceObjection): Promise<boolean> {
    const out: unknown[] = await db(O)
      .insert({
        id: o.id, record_id: o.recordId, status: o.status, grounds: o.grounds, filed_by: o.filedBy, filed_at: o.filedAt,
        resolved_by: o.resolvedBy, resolved_at: o.resolvedAt, resolution_note: o.resolutionNote,
        owner_node: o.ownerNode, filed_node: o.filedNode === self ? null : o.filedNode, due_date: o.dueDate,
      })
      .onConflict('id')
      .ignore()
      .returning('id');
    return out.length === 1;
  },

  async find(db: Db, self: string, id: string): Promise<ProvinceObjection | undefined> {
    const row: Row | undefined = await db(O).where({ id }).first();
    return row ? fromRow(row, self) : undefined;
  },

  async list(db: Db, self: string, f: ObjectionFilter): Promise<ProvinceObjection[]> {
    const q = db(O).select(`${O}.*`).orderBy(`${O}.id`).limit(f.limit ?? 1000);
    if (f.status) q.where(`${O}.status`, f.status);
    if (f.recordId) q.where(`${O}.record_id`, f.recordId);
    if (f.overdueOn) q.where(`${O}.status`, 'open').whereNotNull(`${O}.due_date`).andWhere(`${O}.due_date`, '<', f.overdueOn);
    return ((await q) as Row[]).map((r) => fromRow(r, self));
  },

  async openOf(db: Db, self: string, recordId: string): Promise<ProvinceObjection[]> {
    return this.list(db, self, { recordId, status: 'open' });
  },

  /**
   * Decides one open objection; false when it was not open. `orClosed`: also one closed by a
   * withdrawal that arrived first (the owner's result, coming later, says what was decided).
   */
  async decide(db: Db, id: string, outcome: 'upheld' | 'rejected' | 'closed', by: string, at: string, note: string | null, orClosed = false): Promise<boolean> {
    const n = await db(O).where({ id }).whereIn('status', orClosed ? ['open', 'closed'] : ['open']).update({ status: outcome, resolved_by: by, resolved_at: at, resolution_note: note });
    return n === 1;
  },

  /** Queues a notice for the hub; returns the id its envelope will carry (fixed now, so a resend is a replay). */
  async enqueue(db: Db, notice: Notice, at: string): Promise<string> {
    const envelopeId = uuidv7();
    await db(Q).insert({ envelope_id: envelopeId, notice: JSON.stringify(notice), created_at: at });
    return envelopeId;
  },

  async pending(db: Db, limit: number): Promise<QueuedNotice[]> {
    const rows: Row[] = await db(Q).whereNull('sent_at').orderBy('n').limit(limit);
    return rows.map((r) => ({ n: Number(r.n), envelopeId: String(r.envelope_id), notice: JSON.parse(String(r.notice)) as Notice, attempts: Number(r.attempts) }));
  },

  async markSent(db: Db, n: number, at: string): Promise<void> {
    await db(Q).where({ n }).update({ sent_at: at, last_error: null });
  },

  async markFailed(db: Db, n: number, error: string): Promise<void> {
    await db(Q).where({ n }).update({ attempts: db.raw('attempts + 1'), last_error: error.slice(0, 200) });
  },

  async backlog(db: Db): Promise<number> {
    const row = (await db(Q).whereNull('sent_at').count({ n: '*' }).first()) as Row | undefined;
    return Number(row?.n ?? 0);
  },
};
