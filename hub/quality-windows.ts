/**
 * 超期公示数 at the hub (docs/quality.md): hub_quality_windows holds, for every active negative
 * record the hub holds, its 数据来源单位, type and 公示截止期 (disclosure_end), kept in each batch's
 * transaction (a record or version taken: upsert; a withdrawal: delete). The indicator is then an
 * index range — the rows whose disclosure_end is before today — not a scan of the records.
 * Migration 031_hub_quality_windows creates it and fills it from the records already held.
 */
import type { Knex } from 'knex';
import { whereInList as inList, type Db } from '../audit/knex-connect.js';
import { disclosureWindow } from '../protocol/disclosure.js';
import type { Classification } from '../protocol/classification.js';
import { sourceUnitOf } from '../protocol/quality-facts.js';
import { overdueMonth } from '../protocol/quality-handling.js';
import type { QualityCell } from '../protocol/quality-report.js';

const W = 'hub_quality_windows';
const PER = 500;

/** The 公示截止期 of a negative record; null for positive types, unknown types or a window that cannot be computed. */
export function disclosureEndOf(type: string, fields: Record<string, unknown>): string | null {
  try {
    return disclosureWindow({ type, classification: 'public' as Classification, fields } as Parameters<typeof disclosureWindow>[0])?.disclosureEnd ?? null;
  } catch {
    return null;
  }
}

export const hubQualityWindowsMigration = {
  name: '031_hub_quality_windows',
  async up(db: Knex) {
    await db.schema.createTable(W, (t) => {
      t.string('source_node', 6).notNullable();
      t.string('record_id', 36).notNullable();
      t.string('unit', 20).notNullable();
      t.string('type', 16).notNullable();
      t.string('disclosure_end', 10).notNullable();
      t.primary(['source_node', 'record_id'], 'hub_quality_windows_pkey');
      t.index(['disclosure_end'], 'hub_quality_windows_end_idx');
    });
    // the records already held, in keyset order (ids are unique per source node only)
    let last: { node: string; id: string } | null = null;
    for (;;) {
      const q = db('hub_records').select('source_node', 'id', 'type', 'fields').where({ status: 'active' }).orderBy([{ column: 'source_node' }, { column: 'id' }]).limit(2000);
      if (last) { const l = last; q.andWhere((w) => void w.where('source_node', '>', l.node).orWhere((x) => void x.where('source_node', l.node).andWhere('id', '>', l.id))); }
      const rows = (await q) as { source_node: string; id: string; type: string; fields: string }[];
      if (rows.length === 0) break;
      const out = rows.flatMap((r) => {
        let fields: Record<string, unknown> = {};
        try { fields = JSON.parse(r.fields) as Record<string, unknown>; } catch { /* unreadable: no window */ }
        const end = disclosureEndOf(r.type, fields);
        return end ? [{ source_node: r.source_node, record_id: r.id, unit: sourceUnitOf(fields), type: r.type.slice(0, 16), disclosure_end: end }] : [];
      });
      for (let i = 0; i < out.length; i += PER) await db(W).insert(out.slice(i, i + PER));
      const tail = rows[rows.length - 1]!;
      last = { node: tail.source_node, id: tail.id };
    }
  },
  async down(db: Knex) {
    await db.schema.dropTableIfExists(W);
  },
};

export const windowsStore = {
  /** Records (and versions) taken in a batch: their current window, or none (a positive type). */
  async put(db: Db, node: string, rows: readonly { id: string; type: string; fields: Record<string, unknown>; status?: string }[]): Promise<void> {
    const latest = new Map(rows.map((r) => [r.id, r]));
    const keep = [...latest.values()].flatMap((r) => {
      if (r.status === 'withdrawn') return [];
      const end = disclosureEndOf(r.type, r.fields);
      return end ? [{ source_node: node, record_id: r.id, unit: sourceUnitOf(r.fields), type: r.type.slice(0, 16), disclosure_end: end }] : [];
    });
    for (let i = 0; i < keep.length; i += PER) await db(W).insert(keep.slice(i, i + PER)).onConflict(['source_node', 'record_id']).merge(['unit', 'type', 'disclosure_end']);
    await this.drop(db, node, [...latest.keys()].filter((id) => !keep.some((k) => k.record_id === id)));
  },

  async drop(db: Db, node: string, ids: readonly string[]): Promise<void> {
    for (let i = 0; i < ids.length; i += PER) await inList(db, db(W).where({ source_node: node }), 'record_id', ids.slice(i, i + PER)).delete();
  },

  /** 超期公示数 cells: active negative records past their 公示截止期 on `today`, by node × unit × type × month of that date. */
  async overdueCells(db: Db, o: { today: string; month?: string; node?: string }): Promise<QualityCell[]> {
    // joined to the record (primary key): a record re-sent after its withdrawal keeps its status
    const q = db(`${W} as w`).join('hub_records as r', (j) => void j.on('r.source_node', 'w.source_node').andOn('r.id', 'w.record_id'))
      .select('w.source_node', 'w.unit', 'w.type', 'w.disclosure_end').count({ n: '*' })
      .where('w.disclosure_end', '<', o.today).andWhere('r.status', 'active')
      .groupBy('w.source_node', 'w.unit', 'w.type', 'w.disclosure_end');
    if (o.node) q.andWhere('w.source_node', o.node);
    if (o.month) q.andWhere('w.disclosure_end', '>=', `${o.month}-01`).andWhere('w.disclosure_end', '<=', `${o.month}-31`);
    const rows = (await q) as { source_node: string; unit: string; type: string; disclosure_end: string; n: number | string }[];
    return rows.map((r) => ({ node: r.source_node, unit: r.unit, type: r.type, month: overdueMonth(r.disclosure_end), counters: { overdue_public: Number(r.n) } }));
  },
};
