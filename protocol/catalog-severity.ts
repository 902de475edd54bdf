/**
 * Severity of negative credit information and its disclosure window (Order No. 36 of 2025, in
 * force 2026-04-01): counted from the decision date, minor at most 3 months, ordinary 3 months to
 * 1 year, serious 1 to 3 years. The minimum is also when the subject may apply for repair.
 */
import { addMonths, isIsoDate } from './catalog-calendar.js';

export const SEVERITIES = ['minor', 'ordinary', 'serious'] as const;
export type Severity = (typeof SEVERITIES)[number];

export const SEVERITY_LABELS: Record<Severity, string> = { minor: '轻微', ordinary: '一般', serious: '严重' };

/** Window bounds in calendar months from the decision date. */
export const SEVERITY_WINDOWS: Record<Severity, { minMonths: number; maxMonths: number }> = {
  minor: { minMonths: 0, maxMonths: 3 },
  ordinary: { minMonths: 3, maxMonths: 12 },
  serious: { minMonths: 12, maxMonths: 36 },
};

export function isSeverity(x: unknown): x is Severity {
  return typeof x === 'string' && (SEVERITIES as readonly string[]).includes(x);
}

/** "3–12 months" style text for listings. */
export function describeWindow(s: Severity): string {
  const w = SEVERITY_WINDOWS[s];
  return `${w.minMonths}–${w.maxMonths} months`;
}

/**
 * Why a stated disclosure end date is outside the window for `severity`, or null when it is
 * inside: decision + minimum ≤ end ≤ decision + maximum (both ends inclusive).
 */
export function disclosurePeriodProblem(severity: Severity, decisionDate: string, end: string): string | null {
  if (!isIsoDate(decisionDate) || !isIsoDate(end)) return 'decision date and disclosure end must be YYYY-MM-DD dates';
  const w = SEVERITY_WINDOWS[severity];
  const earliest = addMonths(decisionDate, w.minMonths);
  const latest = addMonths(decisionDate, w.maxMonths);
  if (end < earliest || end > latest) {
    return `a ${severity} record is disclosed ${describeWindow(severity)} from its decision date: the end must lie between ${earliest} and ${latest}, got ${end}`;
  }
  return null;
}
