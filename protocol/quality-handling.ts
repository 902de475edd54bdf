/**
 * Indicators read from the state of a node's store at report time rather than counted as items
 * arrive (docs/quality.md, "state indicators"): 超期公示数, the 异议 (objection) and 信用修复 (repair)
 * handling figures. Pure: node/quality-handling-store.ts reads the rows (small tables, or an index
 * range), this turns each into the counters of its (node, 数据来源单位, type, month) cell.
 */
import type { WorkingDayCounter } from './working-day-count.js';

/** State counters, summed with the stored ones (quality-indicators.ts Counters). */
export const STATE_COUNTERS = [
  'overdue_public',
  'obj_filed', 'obj_handled', 'obj_judged', 'obj_upheld', 'obj_timely', 'obj_days_sum', 'obj_untimed', 'obj_overdue',
  'rep_applied', 'rep_decided', 'rep_accepted', 'rep_timely', 'rep_days_sum', 'rep_untimed', 'rep_overdue',
] as const;
export type StateCounter = (typeof STATE_COUNTERS)[number];
type Delta = Partial<Record<StateCounter, number>>;

/** The China-time (UTC+8) calendar day of an ISO instant. */
export function dayInChina(iso: string): string {
  return new Date(Date.parse(iso) + 8 * 3600_000).toISOString().slice(0, 10);
}

export interface ObjectionFact {
  status: 'open' | 'upheld' | 'rejected' | 'closed';
  filedAt: string;
  resolvedAt: string | null;
  dueDate: string | null;
}

/**
 * One objection decided (or to be decided) by this node, counted in the month it was filed:
 * handled = no longer open (upheld, rejected, or closed because the record was withdrawn first);
 * judged = upheld or rejected (成立率's denominator); timely = handled on or before its due date;
 * days = working days after the filing day up to and including the handling day; overdue = still
 * open after its due date on `today`.
 */
export function objectionDelta(o: ObjectionFact, today: string, days: WorkingDayCounter): Delta {
  const d: Delta = { obj_filed: 1 };
  if (o.status === 'open') {
    if (o.dueDate !== null && o.dueDate < today) d.obj_overdue = 1;
    return d;
  }
  d.obj_handled = 1;
  if (o.status === 'upheld' || o.status === 'rejected') d.obj_judged = 1;
  if (o.status === 'upheld') d.obj_upheld = 1;
  const done = o.resolvedAt ? dayInChina(o.resolvedAt) : null;
  if (done !== null && o.dueDate !== null && done <= o.dueDate) d.obj_timely = 1;
  const n = done === null ? null : days.between(dayInChina(o.filedAt), done);
  if (n === null) d.obj_untimed = 1;
  else d.obj_days_sum = n;
  return d;
}

export interface RepairFact {
  status: 'pending' | 'accepted' | 'refused';
  appliedAt: string;
  decidedAt: string | null;
  dueDate: string | null;
}

/** One repair application (origin application: not decisions imported from upstream), counted in the month it was filed; as objectionDelta. */
export function repairDelta(r: RepairFact, today: string, days: WorkingDayCounter): Delta {
  const d: Delta = { rep_applied: 1 };
  if (r.status === 'pending') {
    if (r.dueDate !== null && r.dueDate < today) d.rep_overdue = 1;
    return d;
  }
  d.rep_decided = 1;
  if (r.status === 'accepted') d.rep_accepted = 1;
  const done = r.decidedAt ? dayInChina(r.decidedAt) : null;
  if (done !== null && r.dueDate !== null && done <= r.dueDate) d.rep_timely = 1;
  const n = done === null ? null : days.between(dayInChina(r.appliedAt), done);
  if (n === null) d.rep_untimed = 1;
  else d.rep_days_sum = n;
  return d;
}

/** The month a record still public past its 公示截止期 is counted in: the month of that last day. */
export function overdueMonth(disclosureEnd: string): string {
  return disclosureEnd.slice(0, 7);
}
