/**
 * The node's state indicators (protocol/quality-handling.ts) read at report time: 超期公示数 (its own
 * negative records still active after their 公示截止期: the index node_records_expiry_idx, only the
 * overdue rows are read), and the handling of objections it decides (node_objections whose owner
 * is this node) and of repair applications filed here (node_repairs, origin application). Both
 * tables hold a handful of rows per record contested, not one per record. The only reader of these
 * tables for quality.
 */
import type { Db } from '../audit/knex-connect.js';
import { isSealed } from '../protocol/at-rest.js';
import { openRecord } from '../server/at-rest-store.js';
import { recordContext } from './at-rest.js';
import { sourceUnitOf } from '../protocol/quality-facts.js';
import { monthInChina } from '../protocol/quality-facts.js';
import { objectionDelta, overdueMonth, repairDelta } from '../protocol/quality-handling.js';
import type { QualityCell } from '../protocol/quality-report.js';
import type { WorkingDayCounter } from '../protocol/working-day-count.js';

type Row = Record<string, unknown>;

/** A record row's fields: opened when sealed at rest (docs/at-rest.md; needs `id`), else parsed (unreadable: none). */
function fieldsOf(db: Db, row: Row): Record<string, unknown> {
  if (isSealed(String(row.fields))) return openRecord(db, recordContext(String(row.id)), row).fields;
  try {
    const f = JSON.parse(String(row.fields)) as unknown;
    return typeof f === 'object' && f !== null ? (f as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

class Cells {
  private readonly map = new Map<string, QualityCell>();
  constructor(private readonly node: string) {}
  add(unit: string, type: string, month: string, delta: Record<string, number | undefined>): void {
    const k = `${unit}\u0000${type}\u0000${month}`;
    let c = this.map.get(k);
    if (!c) this.map.set(k, (c = { node: this.node, unit, type, month, counters: {} }));
    for (const [name, v] of Object.entries(delta)) if (v) c.counters[name] = (c.counters[name] ?? 0) + v;
  }
  list(month?: string): QualityCell[] {
    return [...this.map.values()].filter((c) => !month || c.month === month);
  }
}

export async function nodeStateCells(db: Db, o: { nodeId: string; today: string; month?: string; days: WorkingDayCounter }): Promise<QualityCell[]> {
  const cells = new Cells(o.nodeId);
  const overdue: Row[] = await db('node_records').select('id', 'type', 'fields', 'disclosure_end')
    .where({ status: 'active', negative: true, source_node: o.nodeId }).andWhere('disclosure_end', '<', o.today);
  for (const r of overdue) cells.add(sourceUnitOf(fieldsOf(db, r)), String(r.type), overdueMonth(String(r.disclosure_end)), { overdue_public: 1 });

  const objections: Row[] = await db('node_objections as o').join('node_records as r', 'r.id', 'o.record_id')
    .select('o.status', 'o.filed_at', 'o.resolved_at', 'o.due_date', 'r.id', 'r.type', 'r.fields')
    .where((q) => void q.where('o.owner_node', o.nodeId).orWhereNull('o.owner_node'));
  for (const r of objections) {
    const d = objectionDelta({ status: r.status as 'open', filedAt: String(r.filed_at), resolvedAt: (r.resolved_at as string | null) ?? null, dueDate: (r.due_date as string | null) ?? null }, o.today, o.days);
    cells.add(sourceUnitOf(fieldsOf(db, r)), String(r.type), monthInChina(String(r.filed_at)), d);
  }

  const repairs: Row[] = await db('node_repairs as p').join('node_records as r', 'r.id', 'p.record_id')
    .select('p.status', 'p.applied_at', 'p.decided_at', 'p.due_date', 'r.id', 'r.type', 'r.fields')
    .where('p.origin', 'application');
  for (const r of repairs) {
    const d = repairDelta({ status: r.status as 'pending', appliedAt: String(r.applied_at), decidedAt: (r.decided_at as string | null) ?? null, dueDate: (r.due_date as string | null) ?? null }, o.today, o.days);
    cells.add(sourceUnitOf(fieldsOf(db, r)), String(r.type), monthInChina(String(r.applied_at)), d);
  }
  return cells.list(o.month);
}
