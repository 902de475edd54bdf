/**
 * What a batch adds to the quality tables, inside the batch's own transaction (intake-service.ts):
 * one hub_rejections row per refused item, the counters of each (node, 数据来源单位, type, month)
 * cell, the duplicate, one-USCC-several-names and correction checks for records arriving for the
 * first time, and the batch's exchange counters (unit and type '*'). Months are China-time months
 * of the hub's receipt.
 */
import type { Db } from '../audit/knex-connect.js';
import { todayInChina } from '../protocol/catalog-calendar.js';
import { acceptedDelta, docKey, monthInChina, nameKey, QualityTally, rejectedDelta, sourceUnitOf } from '../protocol/quality-facts.js';
import { workingDayCounter, type WorkingDayCounter } from '../protocol/working-day-count.js';
import { qualityStore, type HubRejectionRow } from './quality-store.js';
import { windowsStore } from './quality-windows.js';

export interface ItemRejection {
  id: string;
  code: string;
  /** The field of the first problem, when known. */
  field?: string;
  /** Every problem's code (default: [code]). */
  codes?: string[];
}

export interface BatchQualityInput {
  node: string;
  batchId: string;
  /** The envelope's timestamp (the node's send time) and the hub's receipt time, ISO. */
  sentAt: string;
  receivedAt: string;
  /** False when the whole batch was refused. */
  ok: boolean;
  /** The batch's records and versions by id, as sent. */
  items: ReadonlyMap<string, { type: string; fields: Record<string, unknown> }>;
  /** Refused records and versions (not withdrawals). */
  rejected: readonly ItemRejection[];
  /** Records and versions written, and whether the hub held each before. */
  accepted: readonly { id: string; type: string; fields: Record<string, unknown>; first: boolean; status?: string }[];
  /** Records withdrawn by the batch (their 公示截止期 no longer counts). */
  withdrawn?: readonly string[];
}

let counter: WorkingDayCounter | undefined;

export async function recordBatchQuality(trx: Db, b: BatchQualityInput): Promise<void> {
  counter ??= workingDayCounter();
  const month = monthInChina(b.receivedAt);
  const arrival = todayInChina(new Date(b.receivedAt));
  const tally = new QualityTally();
  const cell = (type: string, fields: Record<string, unknown> | undefined) => ({ node: b.node, unit: sourceUnitOf(fields), type, month });

  const latency = Math.max(0, Date.parse(b.receivedAt) - Date.parse(b.sentAt));
  tally.add({ node: b.node, unit: '*', type: '*', month }, { batches: 1, batches_ok: b.ok ? 1 : 0, latency_ms_sum: Number.isFinite(latency) ? latency : 0 });

  const rows: HubRejectionRow[] = [];
  for (const r of b.rejected) {
    const item = b.items.get(r.id);
    const type = item && typeof item.type === 'string' ? item.type.slice(0, 16) : null;
    const fields = item && typeof item.fields === 'object' && item.fields !== null ? item.fields : undefined;
    rows.push({ sourceNode: b.node, batchId: b.batchId, recordId: String(r.id).slice(0, 64), type, sourceUnit: sourceUnitOf(fields), code: r.code.slice(0, 64), field: r.field?.slice(0, 100) ?? null, at: b.receivedAt, month, docKey: type ? docKey(type, fields) : null });
    tally.add(cell(type ?? '-', fields), rejectedDelta(type ?? '-', fields, r.codes ?? [r.code]));
  }

  const seenFirst = new Set<string>();
  const firsts = b.accepted.filter((a) => a.first && !seenFirst.has(a.id) && seenFirst.add(a.id));
  const keyed = firsts.map((a) => ({ a, key: docKey(a.type, a.fields), name: nameKey(a.fields) }));
  const holders = await qualityStore.docKeyHolders(trx, keyed.flatMap((k) => (k.key ? [k.key] : [])));
  const names = await qualityStore.namesOf(trx, keyed.flatMap((k) => (k.name ? [k.name.uscc] : [])));
  const newKeys: { docKey: string; node: string; id: string }[] = [];
  const newNames: { uscc: string; nameKey: string }[] = [];
  const timedOnce = new Set<string>();
  for (const a of b.accepted) {
    const first = seenFirst.has(a.id) && !timedOnce.has(a.id);
    if (first) timedOnce.add(a.id);
    tally.add(cell(a.type, a.fields), acceptedDelta(a.type, a.fields, arrival, first, counter));
  }
  for (const { a, key, name } of keyed) {
    const c = cell(a.type, a.fields);
    if (key) {
      const others = (holders.get(key) ?? []).filter((h) => !(h.node === b.node && h.id === a.id));
      if (others.some((h) => h.node === b.node)) tally.add(c, { dup_within: 1 });
      else if (others.length > 0) tally.add(c, { dup_across: 1 });
      holders.set(key, [...(holders.get(key) ?? []), { node: b.node, id: a.id }]);
      newKeys.push({ docKey: key, node: b.node, id: a.id });
    }
    if (name) {
      const held = names.get(name.uscc) ?? new Set<string>();
      if (held.size > 0 && !held.has(name.name)) tally.add(c, { multi_name: 1 });
      if (!held.has(name.name)) newNames.push({ uscc: name.uscc, nameKey: name.name });
      held.add(name.name);
      names.set(name.uscc, held);
    }
  }
  await qualityStore.addDocKeys(trx, newKeys);
  await qualityStore.addNames(trx, newNames);
  // 纠正率: this node's earlier rejections of the same decision, now taken (this batch's own are stored after)
  const fixed = await qualityStore.markCorrected(trx, b.node, newKeys.map((k) => k.docKey), b.receivedAt);
  await qualityStore.addRejections(trx, rows);
  for (const f of fixed) tally.add({ node: b.node, unit: f.unit, type: f.type, month: f.month }, { corrected: 1 });
  await qualityStore.bump(trx, tally);
  // 超期公示数: the 公示截止期 of the negative records the hub now holds active (quality-windows.ts)
  await windowsStore.put(trx, b.node, b.accepted);
  await windowsStore.drop(trx, b.node, b.withdrawn ?? []);
}
