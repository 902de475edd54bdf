/**
 * The pure part of batch intake: which records a node may publish at all (class policy), and each
 * record checked against the catalog. No I/O; intake-service.ts applies the result in one
 * transaction.
 */
import { validateRecord, subjectOf } from '../protocol/catalog.js';
import { todayInChina } from '../protocol/catalog-calendar.js';
import { classRank, MIN_GRADE_TO_SEND, type Classification } from '../protocol/classification.js';
import type { WireRecord } from '../protocol/exchange.js';

export interface Rejection {
  id: string;
  code: string;
  message: string;
}

export interface CheckedRecord {
  wire: WireRecord;
  classification: Classification;
  subject: string;
  fields: Record<string, unknown>;
}

/** Records the sender may not publish: `internal`, or a class whose minimum grade is above its registered grade. */
export function classDenials(records: readonly WireRecord[], grade: number): Rejection[] {
  const out: Rejection[] = [];
  for (const r of records) {
    const min = MIN_GRADE_TO_SEND[r.classification];
    if (min === null) out.push({ id: r.id, code: 'ERR_CLASSIFICATION_DENIED', message: `${r.classification} (不予共享) records never leave their node` });
    else if (min > grade) out.push({ id: r.id, code: 'ERR_CLASSIFICATION_DENIED', message: `${r.classification} records need a sender of grade ≥ ${min}; this node is registered at grade ${grade}` });
  }
  return out;
}

/**
 * Catalog validation of every record. A record naming another source node than `sender` is
 * rejected (ERR_NOT_RECORD_OWNER: a node publishes only its own records); an invalid record with
 * the code of its first problem, the message listing them all; the same id twice in one batch
 * keeps the first. `today` (China time, bounds resident-ID birth dates) is taken once per batch.
 */
export function checkRecords(records: readonly WireRecord[], sender: string, today: string = todayInChina()): { valid: CheckedRecord[]; rejected: Rejection[] } {
  const opts = { today };
  const valid: CheckedRecord[] = [];
  const rejected: Rejection[] = [];
  const seen = new Set<string>();
  for (const wire of records) {
    if (seen.has(wire.id)) {
      rejected.push({ id: wire.id, code: 'ERR_RECORD_CONFLICT', message: `record ${wire.id} appears more than once in this batch; the first one counts` });
      continue;
    }
    seen.add(wire.id);
    if (wire.sourceNode !== undefined && wire.sourceNode !== sender) {
      rejected.push({ id: wire.id, code: 'ERR_NOT_RECORD_OWNER', message: `record ${wire.id} names source node ${wire.sourceNode}, but the batch comes from ${sender}: a node publishes only its own records` });
      continue;
    }
    const r = validateRecord({ type: wire.type, classification: wire.classification, fields: wire.fields }, opts);
    if (!r.ok) {
      const first = r.errors[0]!;
      rejected.push({ id: wire.id, code: first.code, message: r.errors.map((e) => `${e.field || '(record)'} ${e.code}: ${e.message}`).join('; ').slice(0, 2000) });
      continue;
    }
    valid.push({ wire, classification: r.record.classification, subject: subjectOf(r.record), fields: r.record.fields });
  }
  return { valid, rejected };
}


/** A new version of a record the hub holds may raise its class, never lower it (ERR_CLASSIFICATION_LOWERED). */
export function loweredClass(id: string, held: Classification, next: Classification): Rejection | null {
  if (classRank(next) >= classRank(held)) return null;
  return { id, code: 'ERR_CLASSIFICATION_LOWERED', message: `record ${id} is held at the hub as ${held}; a new version may raise its class, never lower it to ${next}` };
}
