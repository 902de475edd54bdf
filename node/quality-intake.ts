/**
 * What an import batch adds to the node's quality tables, in the batch's transaction
 * (import-service.ts): a node_import_rejections row per rejected row, the counters of each
 * (数据来源单位, type, month) cell, and 纠正率 (earlier rejections of a decision now taken).
 * Months are China-time months of the import. The same definitions as the hub's over the node's
 * own store: 报送及时率 (decision → import at this node, once per record created), 重复率 (a record
 * created under a 文书号 + authority this node already holds under another id) and one USCC under
 * several names (node_quality_doc_keys, node_quality_names).
 */
import type { Db } from '../audit/knex-connect.js';
import { todayInChina } from '../protocol/catalog-calendar.js';
import { acceptedDelta, docKey, monthInChina, nameKey, QualityTally, rejectedDelta, sourceUnitOf } from '../protocol/quality-facts.js';
import { workingDayCounter, type WorkingDayCounter } from '../protocol/working-day-count.js';
import { nodeQualityStore, type ImportRejectionRow } from './quality-store.js';

let counter: WorkingDayCounter | undefined;

export interface RowRejection {
  line: number;
  type: string | null;
  fields: Record<string, unknown> | undefined;
  codes: string[];
  field: string | null;
}

export async function recordImportQuality(trx: Db, o: { node: string; importId: string; at: string; rejected: readonly RowRejection[]; accepted: readonly { id: string; type: string; fields: Record<string, unknown>; created: boolean }[] }): Promise<void> {
  counter ??= workingDayCounter();
  const month = monthInChina(o.at);
  const arrival = todayInChina(new Date(o.at));
  const tally = new QualityTally();
  const rows: ImportRejectionRow[] = o.rejected.map((r) => ({
    importId: o.importId, line: r.line, type: r.type?.slice(0, 16) ?? null, sourceUnit: sourceUnitOf(r.fields), code: (r.codes[0] ?? 'ERR_RECORD_INVALID').slice(0, 64), field: r.field?.slice(0, 100) ?? null, at: o.at, month, docKey: r.type ? docKey(r.type, r.fields) : null,
  }));
  for (const r of o.rejected) tally.add({ node: o.node, unit: sourceUnitOf(r.fields), type: r.type ?? '-', month }, rejectedDelta(r.type ?? '-', r.fields, r.codes));
  for (const a of o.accepted) tally.add({ node: o.node, unit: sourceUnitOf(a.fields), type: a.type, month }, acceptedDelta(a.type, a.fields, arrival, a.created, counter));
  const created = o.accepted.filter((a) => a.created).map((a) => ({ a, key: docKey(a.type, a.fields), name: nameKey(a.fields) }));
  const holders = await nodeQualityStore.docKeyHolders(trx, created.flatMap((c) => (c.key ? [c.key] : [])));
  const names = await nodeQualityStore.namesOf(trx, created.flatMap((c) => (c.name ? [c.name.uscc] : [])));
  const newKeys: { docKey: string; id: string }[] = [];
  const newNames: { uscc: string; nameKey: string }[] = [];
  for (const { a, key, name } of created) {
    const cell = { node: o.node, unit: sourceUnitOf(a.fields), type: a.type, month };
    if (key) {
      const held = holders.get(key) ?? [];
      if (held.some((id) => id !== a.id)) tally.add(cell, { dup_within: 1 });
      holders.set(key, [...held, a.id]);
      newKeys.push({ docKey: key, id: a.id });
    }
    if (name) {
      const held = names.get(name.uscc) ?? new Set<string>();
      if (held.size > 0 && !held.has(name.name)) tally.add(cell, { multi_name: 1 });
      if (!held.has(name.name)) newNames.push({ uscc: name.uscc, nameKey: name.name });
      held.add(name.name);
      names.set(name.uscc, held);
    }
  }
  await nodeQualityStore.addDocKeys(trx, newKeys);
  await nodeQualityStore.addNames(trx, newNames.sort((x, y) => (x.uscc + x.nameKey < y.uscc + y.nameKey ? -1 : 1)));
  const keys = o.accepted.flatMap((a) => (a.created ? [docKey(a.type, a.fields)] : [])).filter((k): k is string => k !== null);
  for (const f of await nodeQualityStore.markCorrected(trx, keys, o.at)) tally.add({ node: o.node, unit: f.unit, type: f.type, month: f.month }, { corrected: 1 });
  await nodeQualityStore.addRejections(trx, rows);
  await nodeQualityStore.bump(trx, tally);
}
