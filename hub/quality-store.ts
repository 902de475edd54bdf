/**
 * SQL for the hub's quality tables (quality-migration.ts): the only place in hub/ that touches
 * hub_rejections, hub_quality_agg, hub_quality_doc_keys and hub_quality_names. Counters are added
 * with one upsert per (node, unit, type, month) cell and batch; indicators read only the
 * aggregate rows.
 */
import type { Knex } from 'knex';
import { engineOf, whereInList as inList, type Db } from '../audit/knex-connect.js';
import { QUALITY_COUNTERS, type QualityTally } from '../protocol/quality-facts.js';
import { chunked } from './bulk-sql.js';

export interface HubRejectionRow {
  sourceNode: string;
  batchId: string;
  recordId: string;
  type: string | null;
  sourceUnit: string;
  code: string;
  field: string | null;
  at: string;
  month: string;
  docKey: string | null;
}

export interface AggRow {
  node: string;
  unit: string;
  type: string;
  month: string;
  counters: Record<string, number>;
}

type Row = Record<string, unknown>;
const PER = 500;

export const qualityStore = {
  async addRejections(db: Db, rows: readonly HubRejectionRow[]): Promise<void> {
    for (let i = 0; i < rows.length; i += PER) {
      await db('hub_rejections').insert(
        rows.slice(i, i + PER).map((r) => ({ source_node: r.sourceNode, batch_id: r.batchId, record_id: r.recordId, type: r.type, source_unit: r.sourceUnit, code: r.code, field: r.field, at: r.at, month: r.month, doc_key: r.docKey })),
      );
    }
  },

  /** Adds every cell of `tally` to hub_quality_agg. */
  async bump(db: Db, tally: QualityTally): Promise<void> {
    for (const { key, delta } of tally.cells.values()) {
      const cols = QUALITY_COUNTERS.filter((c) => delta[c]);
      if (cols.length === 0) continue;
      const names = ['node', 'unit', 'type', 'month', ...cols];
      await db.raw(
        `insert into hub_quality_agg (${names.join(',')}) values (${names.map(() => '?').join(',')}) on conflict (node, unit, type, month) do update set ${cols.map((c) => `${c} = hub_quality_agg.${c} + excluded.${c}`).join(', ')}`,
        [key.node, key.unit, key.type, key.month, ...cols.map((c) => delta[c]!)],
      );
    }
  },

  /** The (node, record id) pairs already holding each of `keys`. */
  async docKeyHolders(db: Db, keys: readonly string[]): Promise<Map<string, { node: string; id: string }[]>> {
    const out = new Map<string, { node: string; id: string }[]>();
    const unique = [...new Set(keys)];
    for (let i = 0; i < unique.length; i += PER) {
      const rows: Row[] = await inList(db, db('hub_quality_doc_keys').select('doc_key', 'source_node', 'record_id'), 'doc_key', unique.slice(i, i + PER));
      for (const r of rows) {
        const k = String(r.doc_key);
        out.set(k, [...(out.get(k) ?? []), { node: String(r.source_node), id: String(r.record_id) }]);
      }
    }
    return out;
  },

  async addDocKeys(db: Db, rows: readonly { docKey: string; node: string; id: string }[]): Promise<void> {
    await chunked(db, rows, ['doc_key', 'source_node', 'record_id'], 'insert into hub_quality_doc_keys', 'on conflict (doc_key, source_node, record_id) do nothing', (r) => [r.docKey, r.node, r.id]);
  },

  /** The name keys held under each of `usccs`. */
  async namesOf(db: Db, usccs: readonly string[]): Promise<Map<string, Set<string>>> {
    const out = new Map<string, Set<string>>();
    const unique = [...new Set(usccs)];
    for (let i = 0; i < unique.length; i += PER) {
      const rows: Row[] = await inList(db, db('hub_quality_names').select('uscc', 'name_key'), 'uscc', unique.slice(i, i + PER));
      for (const r of rows) {
        const u = String(r.uscc);
        if (!out.has(u)) out.set(u, new Set());
        out.get(u)!.add(String(r.name_key));
      }
    }
    return out;
  },

  /** Inserted in key order: two nodes' batches adding the same keys lock them in the same order (no deadlock on PostgreSQL). */
  async addNames(db: Db, unsorted: readonly { uscc: string; nameKey: string }[]): Promise<void> {
    const rows = [...unsorted].sort((a, b) => (a.uscc + a.nameKey < b.uscc + b.nameKey ? -1 : a.uscc + a.nameKey > b.uscc + b.nameKey ? 1 : 0));
    await chunked(db, rows, ['uscc', 'name_key'], 'insert into hub_quality_names', 'on conflict (uscc, name_key) do nothing', (r) => [r.uscc, r.nameKey]);
  },

  /** Marks `node`'s uncorrected rejections with these doc keys corrected at `at`; returns the cells they were counted in. */
  async markCorrected(db: Db, node: string, keys: readonly string[], at: string): Promise<{ unit: string; type: string; month: string }[]> {
    const unique = [...new Set(keys)];
    const out: { unit: string; type: string; month: string }[] = [];
    for (let i = 0; i < unique.length; i += PER) {
      const part = unique.slice(i, i + PER);
      const rows: Row[] = await inList(db, db('hub_rejections').select('id', 'source_unit', 'type', 'month').where({ source_node: node }).whereNull('corrected_at'), 'doc_key', part);
      if (rows.length === 0) continue;
      for (const r of rows) out.push({ unit: String(r.source_unit), type: String(r.type ?? '-'), month: String(r.month) });
      await db('hub_rejections').whereIn('id', rows.map((r) => Number(r.id))).update({ corrected_at: at });
    }
    return out;
  },

  /** Aggregate rows, optionally of one month and/or one node. */
  async cells(db: Db, o: { month?: string; node?: string } = {}): Promise<AggRow[]> {
    const q = db('hub_quality_agg').select('*');
    if (o.month) q.where({ month: o.month });
    if (o.node) q.where({ node: o.node });
    const rows: Row[] = await q.orderBy(['node', 'unit', 'type', 'month']);
    return rows.map((r) => ({ node: String(r.node), unit: String(r.unit), type: String(r.type), month: String(r.month), counters: Object.fromEntries(QUALITY_COUNTERS.map((c) => [c, Number(r[c] ?? 0)])) }));
  },

  /** Rejections, newest first (the operator's list). */
  async rejections(db: Db, o: { month?: string; node?: string; limit: number }): Promise<(HubRejectionRow & { correctedAt: string | null })[]> {
    const q = db('hub_rejections').select('*').orderBy('id', 'desc').limit(o.limit);
    if (o.month) q.where({ month: o.month });
    if (o.node) q.where({ source_node: o.node });
    const rows: Row[] = await q;
    return rows.map((r) => ({
      sourceNode: String(r.source_node), batchId: String(r.batch_id), recordId: String(r.record_id), type: (r.type as string | null) ?? null, sourceUnit: String(r.source_unit),
      code: String(r.code), field: (r.field as string | null) ?? null, at: String(r.at), month: String(r.month), docKey: (r.doc_key as string | null) ?? null, correctedAt: (r.corrected_at as string | null) ?? null,
    }));
  },
};

const REGISTER = 'quality_expected_nodes';

/** The operator's register of expected nodes (hub_settings), null while the shipped default applies. */
export const registerStore = {
  async get(db: Db): Promise<unknown[] | null> {
    const row = (await db('hub_settings').where({ name: REGISTER }).first('value')) as { value: string } | undefined;
    return row ? (JSON.parse(String(row.value)) as unknown[]) : null;
  },
  async set(db: Db, list: readonly unknown[] | null): Promise<void> {
    if (list === null) {
      await db('hub_settings').where({ name: REGISTER }).delete();
      return;
    }
    await db('hub_settings').insert({ name: REGISTER, value: JSON.stringify(list) }).onConflict('name').merge();
  },
};
