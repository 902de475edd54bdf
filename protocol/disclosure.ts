/**
 * Disclosure windows of negative credit information, by the rule in force on the decision date
 * (catalog-rules.ts; Order No. 36 of 2025 from 2026-04-01).
 * The period is counted from the decision date in calendar months: minor at most 3 months,
 * ordinary 3 months to 1 year, serious 1 to 3 years. A record may state its own end (公示截止期,
 * field `disclosureEnd`) within those bounds; otherwise it is disclosed for the maximum. From the
 * minimum on (`repairFrom`) the subject may apply for credit repair. Both dates are inclusive: the
 * record is shown on `disclosureEnd` and not the day after.
 */
import type { CreditRecordInput } from './catalog-fields.js';
import { addMonths, isIsoDate } from './catalog-calendar.js';
import { ruleSetFor } from './catalog-rules.js';
import { disclosurePeriodProblem, isSeverity, type Severity } from './catalog-severity.js';
import { getRecordType } from './catalog-types.js';
import { protocolError } from './errors.js';

export interface DisclosureWindow {
  severity: Severity;
  decisionDate: string;
  /** decision + the severity's minimum (minor: 0 months, ordinary: 3 months, serious: 1 year). */
  repairFrom: string;
  /** Last day of disclosure: the stated 公示截止期, or decision + the severity's maximum. */
  disclosureEnd: string;
}

/**
 * The window of a negative record; null for positive types. Throws ERR_DISCLOSURE_PERIOD when the
 * stated end lies outside the severity's bounds, ERR_RECORD_INVALID when severity or decision date
 * is missing, ERR_UNKNOWN_RECORD_TYPE for an unknown type.
 */
export function disclosureWindow(record: CreditRecordInput): DisclosureWindow | null {
  const t = getRecordType(record.type);
  if (!t.negative) return null;
  const { severity, decisionDate, disclosureEnd: stated } = record.fields;
  if (!isSeverity(severity) || !isIsoDate(decisionDate)) {
    throw protocolError('ERR_RECORD_INVALID', 'a negative record needs a severity (minor, ordinary, serious) and a YYYY-MM-DD decisionDate');
  }
  const w = ruleSetFor(decisionDate).bands[severity];
  let end = addMonths(decisionDate, w.maxMonths);
  if (stated !== undefined && stated !== null && stated !== '') {
    const problem = isIsoDate(stated) ? disclosurePeriodProblem(severity, decisionDate, stated) : 'disclosureEnd must be a YYYY-MM-DD date';
    if (problem !== null) throw protocolError('ERR_DISCLOSURE_PERIOD', problem);
    end = stated as string;
  }
  return { severity, decisionDate, repairFrom: addMonths(decisionDate, w.minMonths), disclosureEnd: end };
}

/**
 * Whether the record may be shown and shared on `today` (YYYY-MM-DD): positive records always,
 * negative ones from their decision date through their disclosure end, inclusive.
 */
export function isDisclosed(record: CreditRecordInput, today: string): boolean {
  if (!isIsoDate(today)) throw protocolError('ERR_INVALID_DATE', 'today must be a YYYY-MM-DD date');
  const w = disclosureWindow(record);
  return w === null || (today >= w.decisionDate && today <= w.disclosureEnd);
}

/** Whether the subject may apply for credit repair on `today`; false for positive records. */
export function isRepairable(record: CreditRecordInput, today: string): boolean {
  const w = disclosureWindow(record);
  return w !== null && today >= w.repairFrom;
}
