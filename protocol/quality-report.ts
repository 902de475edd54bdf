/**
 * A quality report from aggregate cells (pure): totals, per node, per 数据来源单位 × type, the
 * interconnection rate and the 市州 ranking. Shared by `credit hub quality`, `credit node quality`
 * and GET /v1/quality on both servers; CSV rows for the operator's export.
 */
import { addCounters, cityOf, indicatorsOf, interconnectionRate, rankCities, zeroCounters, type Counters, type QualityIndicators } from './quality-indicators.js';

export interface QualityCell {
  node: string;
  unit: string;
  type: string;
  month: string;
  counters: Record<string, number>;
}

export interface QualityReport {
  scope: 'province' | 'node';
  issuer: string;
  generatedAt: string;
  month: string | null;
  node: string | null;
  totals: { indicators: QualityIndicators; counters: Counters };
  interconnection?: { expected: number; seen: number; rate: number | null; missing: string[] };
  nodes: { node: string; name: string | null; indicators: QualityIndicators; counters: Counters }[];
  /** Per node × 数据来源单位 × type (the month filter applied; months summed when none). */
  units: { node: string; unit: string; type: string; indicators: QualityIndicators; counters: Counters }[];
  /** 月度排名 of 市州 (province view only). */
  ranking?: { rank: number; city: string; name: string | null; indicators: QualityIndicators }[];
}

export function buildQualityReport(cells: readonly QualityCell[], o: { scope: 'province' | 'node'; issuer: string; generatedAt: string; month?: string; node?: string; names?: ReadonlyMap<string, string>; expected?: readonly string[]; seen?: ReadonlySet<string> }): QualityReport {
  const totals = zeroCounters();
  const byNode = new Map<string, Counters>();
  const byUnit = new Map<string, { node: string; unit: string; type: string; c: Counters }>();
  const byCity = new Map<string, Counters>();
  for (const cell of cells) {
    addCounters(totals, cell.counters);
    if (!byNode.has(cell.node)) byNode.set(cell.node, zeroCounters());
    addCounters(byNode.get(cell.node)!, cell.counters);
    const city = cityOf(cell.node);
    if (!byCity.has(city)) byCity.set(city, zeroCounters());
    addCounters(byCity.get(city)!, cell.counters);
    if (cell.unit === '*') continue; // batch-level counters
    const k = `${cell.node}\u0000${cell.unit}\u0000${cell.type}`;
    if (!byUnit.has(k)) byUnit.set(k, { node: cell.node, unit: cell.unit, type: cell.type, c: zeroCounters() });
    addCounters(byUnit.get(k)!.c, cell.counters);
  }
  const name = (n: string) => o.names?.get(n) ?? null;
  const report: QualityReport = {
    scope: o.scope, issuer: o.issuer, generatedAt: o.generatedAt, month: o.month ?? null, node: o.node ?? null,
    totals: { indicators: indicatorsOf(totals), counters: totals },
    nodes: [...byNode].sort(([a], [b]) => (a < b ? -1 : 1)).map(([node, c]) => ({ node, name: name(node), indicators: indicatorsOf(c), counters: c })),
    units: [...byUnit.values()].sort((a, b) => (a.node + a.unit + a.type < b.node + b.unit + b.type ? -1 : 1)).map((u) => ({ node: u.node, unit: u.unit, type: u.type, indicators: indicatorsOf(u.c), counters: u.c })),
  };
  if (o.expected && o.seen) report.interconnection = interconnectionRate(o.expected, o.seen);
  if (o.scope === 'province') {
    const cities = new Set([...byCity.keys(), ...(o.expected ?? []).filter((n) => n.endsWith('00'))]);
    report.ranking = rankCities([...cities].map((city) => ({ city, indicators: indicatorsOf(byCity.get(city) ?? zeroCounters()) }))).map((r) => ({ rank: r.rank, city: r.city, name: name(r.city), indicators: r.indicators }));
  }
  return report;
}

const INDICATOR_COLUMNS: [keyof QualityIndicators, string][] = [
  ['complianceRate', '数据合规率'], ['timelyRate', '报送及时率'], ['meanWorkingDays', '平均报送工作日'], ['usccErrorRate', '统一社会信用代码错码率'],
  ['requiredFillRate', '必填字段完整率'], ['optionalFillRate', '选填字段填报率'], ['conditionalFillRate', '条件必填完整率'], ['accuracyFailures', '准确性问题数'],
  ['duplicateRate', '重复率'], ['correctionRate', '纠正率'], ['exchangeSuccessRate', '交换成功率'], ['meanReceiptLatencyMs', '平均回执时延(ms)'],
  ['overduePublic', '超期公示数'], ['objectionHandledRate', '异议处理占比'], ['objectionTimelyRate', '异议处理及时率'], ['objectionMeanDays', '异议平均处理工作日'],
  ['objectionUpheldRate', '异议成立率'], ['objectionsOverdue', '异议超期未办数'], ['repairMeanDays', '信用修复平均办理工作日'], ['repairTimelyRate', '信用修复办理及时率'], ['repairsOverdue', '信用修复超期未办数'],
];

/**
 * One CSV cell. Spreadsheets evaluate a cell that starts with = + - @ (or a tab / CR before one)
 * even when it is quoted, and a node controls some cells (信息类别 of a rejected record) and an
 * operator others (node names): such a cell gets a leading apostrophe (CWE-1236), unless it is a
 * plain number (-0.5) or a lone "-", which stay readable.
 */
const csvCell = (v: unknown): string => {
  let s = v === null || v === undefined ? '' : String(v);
  if (/^[=+\-@\t\r]/.test(s) && !/^-?\d+(\.\d+)?$/.test(s) && s !== '-') s = `'${s}`;
  return /[",\n\r\t]/.test(s) || s.startsWith("'") ? `"${s.replaceAll('"', '""')}"` : s;
};

/** The report as tables: per 数据来源单位 × type, and (province) the ranking. Header row first. */
export function qualityTables(r: QualityReport): { units: string[][]; ranking: string[][] } {
  const units = [['节点', '数据来源单位', '信息类别', '报送条数', '合规条数', ...INDICATOR_COLUMNS.map(([, l]) => l)]];
  for (const u of r.units) units.push([u.node, u.unit, u.type, String(u.counters.submitted), String(u.counters.accepted), ...INDICATOR_COLUMNS.map(([k]) => (u.indicators[k] === null ? '' : String(u.indicators[k])))]);
  const ranking = [['排名', '市州代码', '市州', ...INDICATOR_COLUMNS.map(([, l]) => l)]];
  for (const x of r.ranking ?? []) ranking.push([String(x.rank), x.city, x.name ?? '', ...INDICATOR_COLUMNS.map(([k]) => (x.indicators[k] === null ? '' : String(x.indicators[k])))]);
  return { units, ranking };
}

export function toCsv(rows: readonly string[][]): string {
  return `\uFEFF${rows.map((r) => r.map(csvCell).join(',')).join('\r\n')}\r\n`;
}
