/**
 * The pure part of batch intake: which records a node may publish at all (class policy), and each
 * record checked against the catalog. No I/O; intake-service.ts applies the result in one
 * transaction.
 */
import { validateWireRecord, subjectOf } from '../protocol/catalog.js';
import { todayInChina } from '../protocol/catalog-calendar.js';
import { provinceSerial } from '../protocol/catalog-registry.js';
import { classRank, MIN_GRADE_TO_SEND, type Classification } from '../protocol/classification.js';
import type { WireRecord } from '../protocol/exchange.js';
import { decisionDateProblem, policyFloor } from '../protocol/publication-policy.js';

export interface Rejection {
  id: string;
  code: string;
  message: string;
  /** Catalog problems only, kept for the quality counters (never in the receipt): the first problem's field, every problem's code. */
  field?: string;
  codes?: string[];
}

export interface CheckedRecord {
  wire: WireRecord;
  classification: Classification;
  subject: string;
  fields: Record<string, unknown>;
  /** Catalog version the fields were checked against (the wire's stamp; unstamped: 2026.1). */
  catalogVersion: string;
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
 * keeps the first; a decision date after today is rejected (ERR_DECISION_DATE_FUTURE), and so is a
 * record below the class Order No. 36 asks of it (ERR_CLASSIFICATION_DENIED: minor records and
 * records of minors stay at their node). `today` (China time) is taken once per batch.
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
    if (wire.provinceCatalog !== undefined && wire.provinceCatalog > provinceSerial()) {
      rejected.push({ id: wire.id, code: 'ERR_CATALOG_VERSION_UNKNOWN', message: `record ${wire.id} (${wire.type}) names province catalog serial ${wire.provinceCatalog}; the hub has published ${provinceSerial() || 'none'}` });
      continue;
    }
    const r = validateWireRecord(wire, opts);
    if (!r.ok) {
      const first = r.errors[0]!;
      rejected.push({ id: wire.id, code: first.code, message: r.errors.map((e) => `${e.field || '(record)'} ${e.code}: ${e.message}`).join('; ').slice(0, 2000), field: first.field, codes: r.errors.map((e) => e.code) });
      continue;
    }
    const future = decisionDateProblem(r.record.fields, today);
    if (future) {
      rejected.push({ id: wire.id, code: future.code, message: future.message, field: 'decisionDate' });
      continue;
    }
    // Order No. 36 (publication-policy.ts): a record its source node should have kept home is not taken
    const floor = policyFloor(r.record);
    if (floor && classRank(floor.classification) > classRank(r.record.classification)) {
      rejected.push({ id: wire.id, code: 'ERR_CLASSIFICATION_DENIED', message: `record ${wire.id} is at least ${floor.classification} under Order No. 36 (${floor.reason === 'minor-person' ? 'about a person under 18 on the decision date' : 'minor (轻微) record'}); it does not leave its node` });
      continue;
    }
    valid.push({ wire, classification: r.record.classification, subject: subjectOf(r.record), fields: r.record.fields, catalogVersion: r.record.catalogVersion });
  }
  return { valid, rejected };
}


/** A new version of a record the hub holds may raise its class, never lower it (ERR_CLASSIFICATION_LOWERED). */
export function loweredClass(id: string, held: Classification, next: Classification): Rejection | null {
  if (classRank(next) >= classRank(held)) return null;
  return { id, code: 'ERR_CLASSIFICATION_LOWERED', message: `record ${id} is held at the hub as ${held}; a new version may raise its class, never lower it to ${next}` };
}
