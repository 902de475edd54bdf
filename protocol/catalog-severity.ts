/**
 * Severity of negative credit information and its disclosure window, counted from the decision
 * date by the rule in force on that date (catalog-rules.ts): under Order No. 36 of 2025 (in force
 * 2026-04-01) minor at most 3 months, ordinary 3 months to 1 year, serious 1 to 3 years. The
 * minimum is also when the subject may apply for repair.
 */
import { addMonths, isIsoDate } from './catalog-calendar.js';
import { RULE_SETS, ruleSetFor } from './catalog-rules.js';

export const SEVERITIES = ['minor', 'ordinary', 'serious'] as const;
export type Severity = (typeof SEVERITIES)[number];

export const SEVERITY_LABELS: Record<Severity, string> = { minor: '轻微', ordinary: '一般', serious: '严重' };

/** Window bounds in calendar months from the decision date under the newest rule (Order No. 36 of 2025). */
export const SEVERITY_WINDOWS: Record<Severity, { minMonths: number; maxMonths: number }> = Object.fromEntries(
  SEVERITIES.map((s) => [s, { minMonths: RULE_SETS[0]!.bands[s].minMonths, maxMonths: RULE_SETS[0]!.bands[s].maxMonths }]),
) as Record<Severity, { minMonths: number; maxMonths: number }>;

export function isSeverity(x: unknown): x is Severity {
  return typeof x === 'string' && (SEVERITIES as readonly string[]).includes(x);
}

/** "3–12 months" style text for listings (the rule in force on `decisionDate`, default the newest). */
export function describeWindow(s: Severity, decisionDate?: string): string {
  const w = decisionDate ? ruleSetFor(decisionDate).bands[s] : SEVERITY_WINDOWS[s];
  return `${w.minMonths}–${w.maxMonths} months`;
}

/** The first and last allowed disclosure end for `severity` under the rule in force on `decisionDate`. */
export function disclosureBounds(severity: Severity, decisionDate: string): { earliest: string; latest: string; rule: string } {
  const r = ruleSetFor(decisionDate);
  const w = r.bands[severity];
  return { earliest: addMonths(decisionDate, w.minMonths), latest: addMonths(decisionDate, w.maxMonths), rule: r.title };
}

/**
 * Why a stated disclosure end date is outside the window for `severity`, or null when it is
 * inside: decision + minimum ≤ end ≤ decision + maximum (both ends inclusive), under the rule in
 * force on the decision date.
 */
export function disclosurePeriodProblem(severity: Severity, decisionDate: string, end: string): string | null {
  if (!isIsoDate(decisionDate) || !isIsoDate(end)) return 'decision date and disclosure end must be YYYY-MM-DD dates';
  const { earliest, latest, rule } = disclosureBounds(severity, decisionDate);
  if (end < earliest || end > latest) {
    return `a ${severity} record is disclosed ${describeWindow(severity, decisionDate)} from its decision date (${rule}): the end must lie between ${earliest} and ${latest}, got ${end}`;
  }
  return null;
}
