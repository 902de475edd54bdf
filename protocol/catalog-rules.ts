/**
 * Rule sets for the disclosure of negative credit information, with the dates they are in force.
 * A record is judged by the rule in force on its decision date (处罚决定日期), not on the day it
 * is imported: `ruleSetFor(decisionDate)`. Each rule set gives, per severity (失信程度), the
 * shortest and longest disclosure window in calendar months from the decision date, and whether
 * records of that severity are published at all.
 *
 * - Order No. 36 of 2025 (in force 2026-04-01): minor ≤ 3 months, ordinary 3–12 months, serious
 *   12–36 months.
 * - NDRC Order No. 58 of 2023, 《失信行为纠正后的信用信息修复管理办法（试行）》 (in force
 *   2023-05-01): administrative penalties are disclosed for at least 3 months and at most 3 years
 *   (at least 1 year in the special-equipment, work-safety and fire fields); penalties of a
 *   warning or 通报批评 only are not published (`minor`). The text found gives that overall span,
 *   not a split by severity: within it, ordinary 3–12 and serious 12–36 months, as before it.
 * - Before it, the NDRC 2019 notice on the repair of administrative-penalty information (发改办财金
 *   〔2019〕527号): ordinary 3 months–1 year, serious 1–3 years, minor not published. Its bands are
 *   written from memory of the published text (docs/catalog.md says so).
 *
 * Pure: no clock; callers pass dates.
 */
import { addMonths, isIsoDate } from './catalog-calendar.js';
import type { Severity } from './catalog-severity.js';

export interface SeverityBand {
  minMonths: number;
  maxMonths: number;
  /** False: records of this severity are kept but never published (DESIGN: minor records). */
  published: boolean;
}

export interface RuleSet {
  id: string;
  title: string;
  /** First decision date (inclusive) the rule applies to, YYYY-MM-DD. */
  from: string;
  bands: Readonly<Record<Severity, SeverityBand>>;
}

export const RULE_SETS: readonly RuleSet[] = Object.freeze([
  {
    id: 'order-36-2025',
    title: 'Order No. 36 of 2025',
    from: '2026-04-01',
    bands: { minor: { minMonths: 0, maxMonths: 3, published: false }, ordinary: { minMonths: 3, maxMonths: 12, published: true }, serious: { minMonths: 12, maxMonths: 36, published: true } },
  },
  {
    id: 'ndrc-order-58-2023',
    title: 'NDRC Order No. 58 of 2023 (失信行为纠正后的信用信息修复管理办法（试行）)',
    from: '2023-05-01',
    bands: { minor: { minMonths: 0, maxMonths: 3, published: false }, ordinary: { minMonths: 3, maxMonths: 12, published: true }, serious: { minMonths: 12, maxMonths: 36, published: true } },
  },
  {
    id: 'ndrc-2019-527',
    title: 'NDRC notice 发改办财金〔2019〕527号 (bands from memory)',
    from: '0001-01-01',
    bands: { minor: { minMonths: 0, maxMonths: 3, published: false }, ordinary: { minMonths: 3, maxMonths: 12, published: true }, serious: { minMonths: 12, maxMonths: 36, published: true } },
  },
].map((r) => Object.freeze({ ...r, bands: Object.freeze(r.bands) })));

/** The rule set in force on `decisionDate` (YYYY-MM-DD); the newest for a malformed date. */
export function ruleSetFor(decisionDate: string): RuleSet {
  if (!isIsoDate(decisionDate)) return RULE_SETS[0]!;
  return RULE_SETS.find((r) => decisionDate >= r.from) ?? RULE_SETS[RULE_SETS.length - 1]!;
}

/** Severities from the least to the most severe. */
const ORDER: readonly Severity[] = ['minor', 'ordinary', 'serious'];

/**
 * The severity a stated disclosure end implies under the rule in force on the decision date: the
 * least severe one whose window holds the end (departments publish for the longest window of
 * their severity, so an end exactly 12 months on is `ordinary`, not `serious`). Null when no
 * band of `allowed` holds it.
 */
export function severityFromWindow(decisionDate: string, end: string, allowed: readonly string[] = ORDER): Severity | null {
  if (!isIsoDate(decisionDate) || !isIsoDate(end)) return null;
  const rule = ruleSetFor(decisionDate);
  for (const s of ORDER) {
    if (!allowed.includes(s)) continue;
    const b = rule.bands[s];
    if (end >= addMonths(decisionDate, b.minMonths) && end <= addMonths(decisionDate, b.maxMonths)) return s;
  }
  return null;
}

/**
 * Province defaults of severity (node config `severityDefaults`): keys are a type code (`CF`) or a
 * type code and a category value (`CF/警告`); the more specific key wins, and of several category
 * values (处罚类别 may hold several, separated by 、,，;；) the most severe.
 */
export type SeverityDefaults = Readonly<Record<string, Severity>>;

export function defaultSeverity(type: string, category: unknown, defaults: SeverityDefaults | undefined): Severity | null {
  if (!defaults) return null;
  if (typeof category === 'string' && category !== '') {
    const hits = [category, ...category.split(/[、,，;；]/)].map((c) => defaults[`${type}/${c.trim()}`]).filter((s): s is Severity => s !== undefined);
    if (hits.length) return hits.reduce((a, b) => (ORDER.indexOf(b) > ORDER.indexOf(a) ? b : a));
  }
  return defaults[type] ?? null;
}

/** How a record's severity was derived, when it was not given: from 公示截止期 or a province default. */
export type SeverityDerivation = 'disclosureEnd' | 'default';
