/**
 * What Order No. 36 of 2025 says about publishing a record, applied when a record is written
 * (at its source node) and again where a copy is received:
 *  - a decision date may not lie in the future (ERR_DECISION_DATE_FUTURE);
 *  - minor (轻微) negative records are "in principle not published": their class is raised to
 *    MINOR_RECORD_CLASS, which does not leave the node unless the province's policy says so;
 *  - records about a natural person who was under 18 on the decision date (birth date from the
 *    resident ID) are never public: raised to MINOR_PERSON_CLASS.
 * A class is only ever raised (classification.ts), never lowered. Pure.
 *
 * Kept apart from the catalog so that it can read the rule set in force on the decision date
 * (catalog rule sets with effective dates) without changing its callers.
 */
import { addMonths, isIsoDate } from './catalog-calendar.js';
import { getRecordType } from './catalog-types.js';
import type { FieldError } from './catalog-fields.js';
import { classRank, type Classification } from './classification.js';

/**
 * Class of minor (轻微) negative records: `internal` (不予共享) — kept at the source node, never
 * sent to the hub or other nodes. A province that shares them among departments changes this to
 * `shared` (never `public`).
 */
export const MINOR_RECORD_CLASS: Classification = 'internal';
/** Class of records about a natural person who was a minor on the decision date: never public, kept home. */
export const MINOR_PERSON_CLASS: Classification = 'internal';
/** Age of majority (中华人民共和国民法典 art. 17). */
export const AGE_OF_MAJORITY = 18;

export type PolicyReason = 'minor-severity' | 'minor-person';

interface Publishable {
  type: string;
  classification: Classification;
  fields: Record<string, unknown>;
}

/** The problem with a decision date after `today` (China date), or null. */
export function decisionDateProblem(fields: Record<string, unknown>, today: string): FieldError | null {
  const d = fields.decisionDate;
  if (!isIsoDate(d) || d <= today) return null;
  return { field: 'decisionDate', code: 'ERR_DECISION_DATE_FUTURE', message: `决定日期 ${d} 晚于今天 ${today}：不能登记尚未作出的决定（decision date is in the future）` };
}

/** Birth date (YYYY-MM-DD) written in an 18-character resident ID, or null. */
export function birthDateOf(residentId: unknown): string | null {
  if (typeof residentId !== 'string' || !/^\d{17}[\dX]$/.test(residentId)) return null;
  const d = `${residentId.slice(6, 10)}-${residentId.slice(10, 12)}-${residentId.slice(12, 14)}`;
  return isIsoDate(d) ? d : null;
}

/** True when the holder of `residentId` was under 18 on `date` (YYYY-MM-DD). */
export function wasMinorOn(residentId: unknown, date: string): boolean {
  const born = birthDateOf(residentId);
  return born !== null && addMonths(born, AGE_OF_MAJORITY * 12) > date;
}

/** The resident IDs of natural persons a record is about (the subject; its legal representative is not the subject). */
function personIds(r: Publishable): string[] {
  const out: string[] = [];
  if (typeof r.fields.idNumber === 'string') out.push(r.fields.idNumber);
  const t = getRecordType(r.type);
  const subject = r.fields[t.subjectField];
  if (typeof subject === 'string' && /^\d{17}[\dX]$/.test(subject)) out.push(subject);
  return out;
}

/**
 * The class the record must have at least under the policy, and why; null when the policy
 * asks nothing of it. `decisionDate` defaults to the record's.
 */
export function policyFloor(r: Publishable): { classification: Classification; reason: PolicyReason } | null {
  const decision = typeof r.fields.decisionDate === 'string' ? r.fields.decisionDate : null;
  if (decision !== null && personIds(r).some((id) => wasMinorOn(id, decision))) return { classification: MINOR_PERSON_CLASS, reason: 'minor-person' };
  if (getRecordType(r.type).negative && r.fields.severity === 'minor') return { classification: MINOR_RECORD_CLASS, reason: 'minor-severity' };
  return null;
}

/** The record with its class raised to the policy's floor (unchanged when already at or above it). */
export function applyPublicationPolicy<R extends Publishable>(r: R): R {
  const floor = policyFloor(r);
  if (floor === null || classRank(r.classification) >= classRank(floor.classification)) return r;
  return { ...r, classification: floor.classification };
}
