/**
 * The counters behind the data-quality indicators (docs/quality.md), and what one submitted item
 * adds to them. Pure. Node and hub keep the same counters per (node, 数据来源单位, type, month) and
 * add each item's delta in the transaction that takes or rejects it, so an indicator is a few
 * sums over small aggregate rows, never a scan of the records.
 */
import { findRecordType } from './catalog-types.js';
import { sha256Joined } from './crypto.js';
import type { WorkingDayCounter } from './working-day-count.js';

/** Counter columns, in storage order (both stores: node_quality_agg, hub_quality_agg). */
export const QUALITY_COUNTERS = [
  'submitted', 'accepted', 'rejected',
  'uscc_bad', 'missing_required', 'accuracy_fail', 'multi_name',
  'req_filled', 'req_slots', 'opt_filled', 'opt_slots', 'cond_filled', 'cond_slots',
  'timed', 'timely', 'wd_sum', 'untimed',
  'dup_within', 'dup_across', 'corrected',
  'batches', 'batches_ok', 'latency_ms_sum',
] as const;
export type QualityCounter = (typeof QUALITY_COUNTERS)[number];
export type QualityDelta = Partial<Record<QualityCounter, number>>;

/** The cell an item is counted in. Node- and batch-level counters use unit and type '*'. */
export interface QualityKey {
  node: string;
  unit: string;
  type: string;
  month: string;
}

/** Working days from decision to arrival within which a record is on time (报送及时). */
export const TIMELY_WORKING_DAYS = 7;
/** Rejection codes that are accuracy failures (准确性): an impossible date order, a future decision. */
export const ACCURACY_CODES: readonly string[] = ['ERR_DATE_RANGE', 'ERR_DECISION_DATE_FUTURE'];
export const UNKNOWN_UNIT = '-';
const USCC_SHAPE = /^[0-9A-HJ-NPQRTUWXY]{2}\d{6}[0-9A-HJ-NPQRTUWXY]{10}$/;

const str = (v: unknown): string => (typeof v === 'string' ? v : typeof v === 'number' ? String(v) : '');

/** The 数据来源单位 an item is counted under: its 数据来源单位统一社会信用代码 when well formed, else '-'. */
export function sourceUnitOf(fields: Record<string, unknown> | undefined): string {
  const u = str(fields?.sourceUscc).trim().toUpperCase();
  return USCC_SHAPE.test(u) ? u : UNKNOWN_UNIT;
}

/** 文书号 normalised: no spaces, full-width ASCII folded, every bracket of the year written 〔〕, upper case. */
export function normaliseDocNo(s: string): string {
  return s
    .replace(/[\uFF01-\uFF5E]/g, (c) => String.fromCharCode(c.charCodeAt(0) - 0xfee0))
    .replace(/\s+/g, '')
    .replace(/[[【(（]/g, '〔')
    .replace(/[\]】)）]/g, '〕')
    .toUpperCase();
}

/**
 * The key two items share when they are the same decision: type, normalised 文书号 and the deciding
 * authority (its USCC, else its name). A SHA-256 (32 hex): no personal data is kept by it. Null
 * without a 文书号.
 */
export function docKey(type: string, fields: Record<string, unknown> | undefined): string | null {
  const no = normaliseDocNo(str(fields?.decisionNo));
  if (!no) return null;
  const auth = str(fields?.authorityUscc).trim().toUpperCase() || str(fields?.authority).replace(/\s+/g, '');
  return sha256Joined([type, no, auth], '\u0000').toString('hex').slice(0, 32);
}

/** The key of an organisation's name under its USCC (one USCC under several names is an accuracy failure); null for persons or without a USCC. */
export function nameKey(fields: Record<string, unknown> | undefined): { uscc: string; name: string } | null {
  const uscc = str(fields?.uscc).trim().toUpperCase();
  const name = str(fields?.subjectName).replace(/\s+/g, '');
  if (!USCC_SHAPE.test(uscc) || !name || fields?.subjectCategory === '自然人') return null;
  return { uscc, name: sha256Joined([name], '').toString('hex').slice(0, 32) };
}

const filled = (v: unknown): boolean => v !== undefined && v !== null && !(typeof v === 'string' && v.trim() === '') && !(Array.isArray(v) && v.length === 0);

/** Fill counts of an item's fields against its type (字段完整率); {} when the type is unknown. */
export function fillCounts(type: string, fields: Record<string, unknown> | undefined): QualityDelta {
  const t = findRecordType(type);
  if (!t) return {};
  const f = fields ?? {};
  const d = { req_filled: 0, req_slots: 0, opt_filled: 0, opt_slots: 0, cond_filled: 0, cond_slots: 0 };
  for (const spec of t.fields) {
    const has = filled(f[spec.name]) || filled(f[spec.label]);
    if (spec.required) {
      d.req_slots++;
      if (has) d.req_filled++;
    } else if (spec.requiredIf) {
      const ctl = f[spec.requiredIf.field];
      const values = Array.isArray(ctl) ? ctl.map(String) : [str(ctl)];
      if (!values.some((v) => spec.requiredIf!.anyOf.includes(v))) continue;
      d.cond_slots++;
      if (has) d.cond_filled++;
    } else {
      d.opt_slots++;
      if (has) d.opt_filled++;
    }
  }
  return d;
}

/** Delta of an item refused with `codes` (every problem's code). */
export function rejectedDelta(type: string, fields: Record<string, unknown> | undefined, codes: readonly string[]): QualityDelta {
  return {
    submitted: 1, rejected: 1,
    uscc_bad: codes.includes('ERR_INVALID_USCC') ? 1 : 0,
    missing_required: codes.includes('ERR_FIELD_REQUIRED') ? 1 : 0,
    accuracy_fail: codes.some((c) => ACCURACY_CODES.includes(c)) ? 1 : 0,
    ...fillCounts(type, fields),
  };
}

/**
 * Delta of an accepted item arriving on `arrival` (YYYY-MM-DD, China time). `first`: the first
 * time this record arrives (timeliness is counted once per record, not for re-sends or versions).
 */
export function acceptedDelta(type: string, fields: Record<string, unknown>, arrival: string, first: boolean, days: WorkingDayCounter): QualityDelta {
  const d: QualityDelta = { submitted: 1, accepted: 1, ...fillCounts(type, fields) };
  if (first) {
    const n = days.between(str(fields.decisionDate), arrival);
    if (n === null) d.untimed = 1;
    else Object.assign(d, { timed: 1, timely: n <= TIMELY_WORKING_DAYS ? 1 : 0, wd_sum: n });
  }
  return d;
}

/** Sums deltas per key (one upsert row per cell and batch). */
export class QualityTally {
  readonly cells = new Map<string, { key: QualityKey; delta: Record<string, number> }>();

  add(key: QualityKey, delta: QualityDelta): void {
    const id = `${key.node}\u0000${key.unit}\u0000${key.type}\u0000${key.month}`;
    let c = this.cells.get(id);
    if (!c) this.cells.set(id, (c = { key, delta: {} }));
    for (const [k, v] of Object.entries(delta)) if (v) c.delta[k] = (c.delta[k] ?? 0) + v;
  }

  get size(): number {
    return this.cells.size;
  }
}

/** The month (YYYY-MM) of an ISO instant in China time. */
export function monthInChina(iso: string): string {
  return new Date(Date.parse(iso) + 8 * 3600_000).toISOString().slice(0, 7);
}
