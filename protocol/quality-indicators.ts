/**
 * The data-quality indicators (docs/quality.md) from summed counters (quality-facts.ts). Pure: a
 * rate whose denominator is 0 is null (no data), never 0 or 1.
 */
import { QUALITY_COUNTERS, type QualityCounter } from './quality-facts.js';
import { STATE_COUNTERS, type StateCounter } from './quality-handling.js';

/** Every counter: those stored as items arrive and those read from the store's state (quality-handling.ts). */
export const ALL_COUNTERS = [...QUALITY_COUNTERS, ...STATE_COUNTERS] as const;
export type Counters = Record<QualityCounter | StateCounter, number>;

export interface QualityIndicators {
  /** 报送及时率: records at the hub within 7 working days of the decision / records timed. */
  timelyRate: number | null;
  /** 平均报送时长 (working days, decision → hub). */
  meanWorkingDays: number | null;
  /** 数据合规率: accepted / submitted. */
  complianceRate: number | null;
  /** 统一社会信用代码错码率: items with an invalid USCC / submitted. */
  usccErrorRate: number | null;
  /** 必填字段完整率, 选填字段填报率, 条件必填完整率: filled / slots. */
  requiredFillRate: number | null;
  optionalFillRate: number | null;
  conditionalFillRate: number | null;
  /** 准确性问题数: rejections for impossible dates + accepted records whose USCC is held under another name. */
  accuracyFailures: number;
  /** 重复率: accepted records repeating a 文书号 + authority under another id / accepted. */
  duplicateRate: number | null;
  duplicatesWithinNode: number;
  duplicatesAcrossNodes: number;
  /** 纠正率: rejected items later accepted / rejected. */
  correctionRate: number | null;
  /** 交换成功率: batches accepted / batches received (hub). */
  exchangeSuccessRate: number | null;
  /** Mean receipt latency (ms, batch timestamp → hub receipt). */
  meanReceiptLatencyMs: number | null;
  /** 超期公示数: negative records still public (active, not withdrawn) after their 公示截止期 (node). */
  overduePublic: number;
  /** 异议处理占比: objections handled / objections filed. */
  objectionHandledRate: number | null;
  /** 异议处理及时率: handled by the due date / handled. */
  objectionTimelyRate: number | null;
  /** 异议平均处理时长 (working days, filing → handling). */
  objectionMeanDays: number | null;
  /** 异议成立率: upheld / decided (upheld + rejected). */
  objectionUpheldRate: number | null;
  /** Objections open past their due date. */
  objectionsOverdue: number;
  /** 信用修复办理时长 (working days, application → decision). */
  repairMeanDays: number | null;
  /** 信用修复办理及时率: decided by the due date / decided. */
  repairTimelyRate: number | null;
  /** Repair applications pending past their due date. */
  repairsOverdue: number;
}

export function zeroCounters(): Counters {
  return Object.fromEntries(ALL_COUNTERS.map((c) => [c, 0])) as Counters;
}

export function addCounters(into: Counters, from: Partial<Record<string, unknown>>): Counters {
  for (const c of ALL_COUNTERS) into[c] += Number(from[c] ?? 0);
  return into;
}

const rate = (num: number, den: number): number | null => (den > 0 ? Math.round((num / den) * 10_000) / 10_000 : null);
const mean = (sum: number, n: number): number | null => (n > 0 ? Math.round((sum / n) * 100) / 100 : null);

export function indicatorsOf(c: Counters): QualityIndicators {
  return {
    timelyRate: rate(c.timely, c.timed),
    meanWorkingDays: mean(c.wd_sum, c.timed),
    complianceRate: rate(c.accepted, c.submitted),
    usccErrorRate: rate(c.uscc_bad, c.submitted),
    requiredFillRate: rate(c.req_filled, c.req_slots),
    optionalFillRate: rate(c.opt_filled, c.opt_slots),
    conditionalFillRate: rate(c.cond_filled, c.cond_slots),
    accuracyFailures: c.accuracy_fail + c.multi_name,
    duplicateRate: rate(c.dup_within + c.dup_across, c.accepted),
    duplicatesWithinNode: c.dup_within,
    duplicatesAcrossNodes: c.dup_across,
    correctionRate: rate(c.corrected, c.rejected),
    exchangeSuccessRate: rate(c.batches_ok, c.batches),
    meanReceiptLatencyMs: mean(c.latency_ms_sum, c.batches),
    overduePublic: c.overdue_public,
    objectionHandledRate: rate(c.obj_handled, c.obj_filed),
    objectionTimelyRate: rate(c.obj_timely, c.obj_handled),
    objectionMeanDays: mean(c.obj_days_sum, c.obj_handled - c.obj_untimed),
    objectionUpheldRate: rate(c.obj_upheld, c.obj_judged),
    objectionsOverdue: c.obj_overdue,
    repairMeanDays: mean(c.rep_days_sum, c.rep_decided - c.rep_untimed),
    repairTimelyRate: rate(c.rep_timely, c.rep_decided),
    repairsOverdue: c.rep_overdue,
  };
}

/** 互联互通率: expected nodes seen in the last 24 h / expected nodes. */
export function interconnectionRate(expected: readonly string[], seen: ReadonlySet<string>): { expected: number; seen: number; rate: number | null; missing: string[] } {
  const missing = expected.filter((n) => !seen.has(n));
  return { expected: expected.length, seen: expected.length - missing.length, rate: rate(expected.length - missing.length, expected.length), missing };
}

/** The 市州 a node belongs to (GB/T 2260: the first four digits + 00). */
export function cityOf(node: string): string {
  return `${node.slice(0, 4)}00`;
}

export interface RankRow {
  city: string;
  indicators: QualityIndicators;
}

/**
 * 月度排名: cities by 数据合规率, then 报送及时率, then 统一社会信用代码错码率 (lower first), then
 * code; a city without data ranks last. Rank numbers are dense from 1.
 */
export function rankCities(rows: readonly RankRow[]): (RankRow & { rank: number })[] {
  const v = (x: number | null, dir: 1 | -1) => (x === null ? Number.NEGATIVE_INFINITY : dir * x);
  const sorted = [...rows].sort(
    (a, b) =>
      v(b.indicators.complianceRate, 1) - v(a.indicators.complianceRate, 1) ||
      v(b.indicators.timelyRate, 1) - v(a.indicators.timelyRate, 1) ||
      v(b.indicators.usccErrorRate, -1) - v(a.indicators.usccErrorRate, -1) ||
      (a.city < b.city ? -1 : 1),
  );
  return sorted.map((r, i) => ({ ...r, rank: i + 1 }));
}
