/**
 * Records as they travel (protocol/exchange.ts WireRecord) ↔ the node's stored records. A record
 * from another node is validated against the catalog like a local one, keeps its id and times,
 * and version, and is stored with source_node = the node that owns it.
 */
import { validateWireRecord } from '../../protocol/catalog.js';
import { catalogMarker, provinceSerial } from '../../protocol/catalog-registry.js';
import type { FieldError } from '../../protocol/catalog.js';
import type { WireRecord } from '../../protocol/exchange.js';
import { toStoredRecord } from '../record-model.js';
import type { RecordStatus, StoredRecord } from '../records-store.js';

export function toWire(r: StoredRecord): WireRecord {
  return { id: r.id, type: r.type, classification: r.classification, catalogVersion: r.catalogVersion, fields: r.fields, createdAt: r.createdAt, updatedAt: r.updatedAt, ...catalogMarker(r.type), ...(r.version > 1 ? { version: r.version } : {}) };
}

export type FromWire = { ok: true; record: StoredRecord } | { ok: false; code: string; errors: FieldError[] };

/** A record of `sourceNode` as this node stores (or shows) it; invalid against our catalog → ok: false. */
export function fromWire(w: WireRecord, sourceNode: string, today: string, status: RecordStatus = 'active'): FromWire {
  if (w.provinceCatalog !== undefined && w.provinceCatalog > provinceSerial()) {
    const message = `${w.type} record ${w.id} needs province catalog serial ${w.provinceCatalog}; this node holds ${provinceSerial() || 'none'}`;
    return { ok: false, code: 'ERR_CATALOG_VERSION_UNKNOWN', errors: [{ field: 'type', code: 'ERR_CATALOG_VERSION_UNKNOWN', message }] };
  }
  // Checked against the catalog version the record names (unstamped: see validateWireRecord).
  const v = validateWireRecord(w, { today });
  if (!v.ok) return { ok: false, code: v.errors[0]?.code ?? 'ERR_RECORD_INVALID', errors: v.errors };
  // stored expired when its disclosure window has ended on `today` (never shown as active)
  const s = toStoredRecord(v.record, { nodeId: sourceNode, actor: `node:${sourceNode}`, now: w.updatedAt, today });
  return { ok: true, record: { ...s, id: w.id, status: status === 'active' ? s.status : status, createdAt: w.createdAt, updatedAt: w.updatedAt, version: w.version ?? 1 } };
}
