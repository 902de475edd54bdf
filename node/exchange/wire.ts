/**
 * Records as they travel (protocol/exchange.ts WireRecord) ↔ the node's stored records. A record
 * from another node is validated against the catalog like a local one, keeps its id and times,
 * and is stored with source_node = the node that owns it.
 */
import { validateRecord } from '../../protocol/catalog.js';
import type { FieldError } from '../../protocol/catalog.js';
import type { WireRecord } from '../../protocol/exchange.js';
import { toStoredRecord } from '../record-model.js';
import type { RecordStatus, StoredRecord } from '../records-store.js';

export function toWire(r: StoredRecord): WireRecord {
  return { id: r.id, type: r.type, classification: r.classification, fields: r.fields, createdAt: r.createdAt, updatedAt: r.updatedAt };
}

export type FromWire = { ok: true; record: StoredRecord } | { ok: false; code: string; errors: FieldError[] };

/** A record of `sourceNode` as this node stores (or shows) it; invalid against our catalog → ok: false. */
export function fromWire(w: WireRecord, sourceNode: string, today: string, status: RecordStatus = 'active'): FromWire {
  const v = validateRecord({ type: w.type, classification: w.classification, fields: w.fields }, { today });
  if (!v.ok) return { ok: false, code: v.errors[0]?.code ?? 'ERR_RECORD_INVALID', errors: v.errors };
  const s = toStoredRecord(v.record, { nodeId: sourceNode, actor: `node:${sourceNode}`, now: w.createdAt });
  return { ok: true, record: { ...s, id: w.id, status, createdAt: w.createdAt, updatedAt: w.updatedAt } };
}
