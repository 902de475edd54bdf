/**
 * SQL for the node's quality tables (quality-migration.ts): kept import rejections and the
 * counters per (数据来源单位, type, month). The only place in node/ that touches them.
 */
import type { Knex } from 'knex';
import { engineOf, whereInList as inList, type Db } from '../audit/knex-connect.js';
import { QUALITY_COUNTERS, type QualityTally } from '../protocol/quality-facts.js';

export interface ImportRejectionRow {
  importId: string;
  line: number;
  type: string | null;
  sourceUnit: string;
  code: string;
  field: string | null;
  at: string;
  month: string;
  docKey: string | null;
}

type Row = Record<string, unknown>;
const PER = 500;

export const nodeQualityStore = {
  async addRejections(db: Db, rows: readonly ImportRejectionRow[]): Promise<void> {
    for (let i = 0; i < rows.length; i += PER) {
      await db('node_import_rejections').insert(
        rows.slice(i, i + PER).map((r) => ({ import_id: r.importId, line: r.line, type: r.type, source_unit: r.sourceUnit, code: r.code, field: r.field, at: r.at, month: r.month, doc_key: r.docKey })),
      );
    }
  },

  async bump(db: Db, tally: QualityTally): Promise<void> {
    for (const { key, delta } of tally.cells.values()) {
      const cols = QUALITY_COUNTERS.filter((c) => delta[c]);
      if (cols.length === 0) continue;
      const names = ['node', 'unit', 'type', 'month', ...cols];
      await db.raw(
        `insert into node_quality_agg (${names.join(',')}) values (${names.map(() => '?').join(',')}) on conflict (node, unit, type, month) do update set ${cols.map((c) => `${c} = node_quality_agg.${c} + excluded.${c}`).join(', ')}`,
        [key.node, key.unit, key.type, key.month, ...cols.map((c) => delta[c]!)],
      );
    }
  },

  /** Marks uncorrected rejections with these doc keys corrected; returns the cells they were counted in. */
  async markCorrected(db: Db, keys: readonly string[], at: string): Promise<{ unit: string; type: string; month: string }[]> {
    const unique = [...new Set(keys)];
    const out: { unit: string; type: string; month: string }[] = [];
    for (let i = 0; i < unique.length; i += PER) {
      const rows: Row[] = await inList(db, db('node_import_rejections').select('id', 'source_unit', 'type', 'month').whereNull('corrected_at'), 'doc_key', unique.slice(i, i + PER));
      if (rows.length === 0) continue;
      for (const r of rows) out.push({ unit: String(r.source_unit), type: String(r.type ?? '-'), month: String(r.month) });
      await db('node_import_rejections').whereIn('id', rows.map((r) => Number(r.id))).update({ corrected_at: at });
    }
    return out;
  },

  /** The record ids already holding each of `keys` (node_quality_doc_keys). */
  async docKeyHolders(db: Db, keys: readonly string[]): Promise<Map<string, string[]>> {
    const out = new Map<string, string[]>();
    const unique = [...new Set(keys)];
    for (let i = 0; i < unique.length; i += PER) {
      const rows: Row[] = await inList(db, db('node_quality_doc_keys').select('doc_key', 'record_id'), 'doc_key', unique.slice(i, i + PER));
      for (const r of rows) out.set(String(r.doc_key), [...(out.get(String(r.doc_key)) ?? []), String(r.record_id)]);
    }
    return out;
  },

  async addDocKeys(db: Db, rows: readonly { docKey: string; id: string }[]): Promise<void> {
    for (let i = 0; i < rows.length; i += PER) {
      await db('node_quality_doc_keys').insert(rows.slice(i, i + PER).map((r) => ({ doc_key: r.docKey, record_id: r.id }))).onConflict(['doc_key', 'record_id']).ignore();
    }
  },

  /** The name keys held under each of `usccs`. */
  async namesOf(db: Db, usccs: readonly string[]): Promise<Map<string, Set<string>>> {
    const out = new Map<string, Set<string>>();
    const unique = [...new Set(usccs)];
    for (let i = 0; i < unique.length; i += PER) {
      const rows: Row[] = await inList(db, db('node_quality_names').select('uscc', 'name_key'), 'uscc', unique.slice(i, i + PER));
      for (const r of rows) {
        if (!out.has(String(r.uscc))) out.set(String(r.uscc), new Set());
        out.get(String(r.uscc))!.add(String(r.name_key));
      }
    }
    return out;
  },

  async addNames(db: Db, rows: readonly { uscc: string; nameKey: string }[]): Promise<void> {
    for (let i = 0; i < rows.length; i += PER) {
      await db('node_quality_names').insert(rows.slice(i, i + PER).map((r) => ({ uscc: r.uscc, name_key: r.nameKey }))).onConflict(['uscc', 'name_key']).ignore();
    }
  },

  async cells(db: Db, o: { month?: string } = {}): Promise<{ node: string; unit: string; type: string; month: string; counters: Record<string, number> }[]> {
    const q = db('node_quality_agg').select('*');
    if (o.month) q.where({ month: o.month });
    const rows: Row[] = await q.orderBy(['unit', 'type', 'month']);
    return rows.map((r) => ({ node: String(r.node), unit: String(r.unit), type: String(r.type), month: String(r.month), counters: Object.fromEntries(QUALITY_COUNTERS.map((c) => [c, Number(r[c] ?? 0)])) }));
  },

  async rejections(db: Db, o: { month?: string; importId?: string; limit: number }): Promise<(ImportRejectionRow & { correctedAt: string | null })[]> {
    const q = db('node_import_rejections').select('*').orderBy('id', 'desc').limit(o.limit);
    if (o.month) q.where({ month: o.month });
    if (o.importId) q.where({ import_id: o.importId });
    const rows: Row[] = await q;
    return rows.map((r) => ({
      importId: String(r.import_id), line: Number(r.line), type: (r.type as string | null) ?? null, sourceUnit: String(r.source_unit), code: String(r.code),
      field: (r.field as string | null) ?? null, at: String(r.at), month: String(r.month), docKey: (r.doc_key as string | null) ?? null, correctedAt: (r.corrected_at as string | null) ?? null,
    }));
  },
};
