/** SQL for credit repair applications and decisions (node_repairs): the only place that touches that table. */
import type { Db } from '../audit/knex-connect.js';

export type RepairStatus = 'pending' | 'accepted' | 'refused';

export interface Repair {
  id: string;
  recordId: string;
  status: RepairStatus;
  /** application: filed here (POST /v1/records/:id/repairs); upstream: decided by a department or 信用中国 and imported. */
  origin: 'application' | 'upstream';
  /** References to the evidence (document numbers, file ids), never the documents themselves. */
  evidence: string[];
  /** The subject's 信用承诺 text. */
  commitment: string | null;
  appliedBy: string;
  appliedAt: string;
  /** Last working day for the decision. */
  dueDate: string | null;
  decidedBy: string | null;
  decidedAt: string | null;
  /** Why it was refused (required), or the note of an acceptance. */
  reason: string | null;
  /** Upstream decider and its reference (origin upstream). */
  upstream: string | null;
}

type Row = Record<string, unknown>;
const R = 'node_repairs';

function fromRow(r: Row): Repair {
  return {
    id: String(r.id), recordId: String(r.record_id), status: r.status as RepairStatus, origin: r.origin as Repair['origin'],
    evidence: JSON.parse(String(r.evidence)) as string[], commitment: (r.commitment as string | null) ?? null,
    appliedBy: String(r.applied_by), appliedAt: String(r.applied_at), dueDate: (r.due_date as string | null) ?? null,
    decidedBy: (r.decided_by as string | null) ?? null, decidedAt: (r.decided_at as string | null) ?? null,
    reason: (r.reason as string | null) ?? null, upstream: (r.upstream as string | null) ?? null,
  };
}

export const repairsStore = {
  async insert(db: Db, r: Repair): Promise<void> {
    await db(R).insert({
      id: r.id, record_id: r.recordId, status: r.status, origin: r.origin, evidence: JSON.stringify(r.evidence), commitment: r.commitment,
      applied_by: r.appliedBy, applied_at: r.appliedAt, due_date: r.dueDate, decided_by: r.decidedBy, decided_at: r.decidedAt, reason: r.reason, upstream: r.upstream,
    });
  },

  async find(db: Db, id: string): Promise<Repair | undefined> {
    const row: Row | undefined = await db(R).where({ id }).first();
    return row ? fromRow(row) : undefined;
  },

  async list(db: Db, f: { status?: RepairStatus; recordId?: string; overdueOn?: string }): Promise<Repair[]> {
    const q = db(R).orderBy('id').limit(1000);
    if (f.status) q.where({ status: f.status });
    if (f.recordId) q.where({ record_id: f.recordId });
    if (f.overdueOn) q.where({ status: 'pending' }).whereNotNull('due_date').andWhere('due_date', '<', f.overdueOn);
    return ((await q) as Row[]).map(fromRow);
  },

  /** Decides a pending application; false when it was no longer pending. */
  async decide(db: Db, id: string, status: 'accepted' | 'refused', by: string, at: string, reason: string | null): Promise<boolean> {
    const n = await db(R).where({ id, status: 'pending' }).update({ status, decided_by: by, decided_at: at, reason });
    return n === 1;
  },

  /** Refuses every pending application of a record (it was withdrawn for another reason). */
  async closePending(db: Db, recordId: string, by: string, at: string, reason: string): Promise<number> {
    return db(R).where({ record_id: recordId, status: 'pending' }).update({ status: 'refused', decided_by: by, decided_at: at, reason });
  },
};
