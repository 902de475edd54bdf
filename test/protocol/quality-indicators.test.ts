/**
 * Every quality formula (docs/quality.md) on crafted items with answers worked out by hand,
 * including working days across 国庆 2026 (10-01…10-07 off, 中秋 09-25…09-27 off) and the 调休
 * Saturday 2026-10-10.
 */
import t from 'tap';
import { exampleRecord } from '../../protocol/catalog.js';
import { acceptedDelta, docKey, fillCounts, nameKey, normaliseDocNo, QualityTally, rejectedDelta, sourceUnitOf, monthInChina } from '../../protocol/quality-facts.js';
import { addCounters, indicatorsOf, interconnectionRate, rankCities, zeroCounters, type Counters } from '../../protocol/quality-indicators.js';
import { buildQualityReport, qualityTables, toCsv, type QualityCell } from '../../protocol/quality-report.js';
import { HUNAN_EXPECTED_NODES, registerProblems } from '../../protocol/expected-nodes.js';
import { workingDayCounter } from '../../protocol/working-day-count.js';
import { workingDayCalendar } from '../../protocol/working-days.js';

const days = workingDayCounter();
const cf = (over: Record<string, unknown> = {}) => ({ ...exampleRecord('CF').fields, ...over });
const sum = (...deltas: Record<string, number | undefined>[]): Counters => deltas.reduce<Counters>((c, d) => addCounters(c, d), zeroCounters());

t.test('working days decision → hub across 国庆 and the 调休 Saturday', async (t) => {
  // 09-30 (Wed) → 10-09 (Fri): 10-01…10-07 off, 10-08 and 10-09 work
  t.equal(days.between('2026-09-30', '2026-10-09'), 2);
  // 09-24 (Thu) → 10-12 (Mon): 09-28, 09-29, 09-30, 10-08, 10-09, 10-10 (调休 Saturday), 10-12
  t.equal(days.between('2026-09-24', '2026-10-12'), 7);
  t.equal(days.between('2026-09-24', '2026-10-13'), 8);
  t.equal(days.between('2026-10-09', '2026-10-10'), 1, 'the 调休 Saturday counts');
  t.equal(days.between('2026-10-10', '2026-10-11'), 0, 'an ordinary Sunday does not');
  t.equal(days.between('2024-12-30', '2025-01-03'), null, 'a year outside the calendar: no count, never a guess');
  t.equal(days.between('2026-10-12', '2026-10-09'), 0);
  const cal = workingDayCalendar();
  for (const [a, b] of [['2025-09-26', '2025-10-14'], ['2026-02-10', '2026-03-02'], ['2026-12-28', '2027-01-06'], ['2025-01-20', '2025-02-10']] as const) {
    t.equal(days.between(a, b), cal.workingDaysBetween(a, b), `${a} → ${b} as working-days.ts counts it`);
  }
});

t.test('报送及时率 and mean working days', async (t) => {
  const c = sum(
    acceptedDelta('CF', cf({ decisionDate: '2026-09-30' }), '2026-10-09', true, days), // 2
    acceptedDelta('CF', cf({ decisionDate: '2026-09-24' }), '2026-10-12', true, days), // 7: on time
    acceptedDelta('CF', cf({ decisionDate: '2026-09-24' }), '2026-10-13', true, days), // 8: late
    acceptedDelta('CF', cf({ decisionDate: '2024-12-30' }), '2026-10-13', true, days), // outside the calendar
    acceptedDelta('CF', cf({ decisionDate: '2026-01-05' }), '2026-10-13', false, days), // a re-send: not timed again
  );
  t.equal(c.timed, 3);
  t.equal(c.untimed, 1);
  t.equal(c.timely, 2);
  t.equal(c.wd_sum, 17);
  const i = indicatorsOf(c);
  t.equal(i.timelyRate, 0.6667);
  t.equal(i.meanWorkingDays, 5.67);
});

t.test('数据合规率 and 统一社会信用代码错码率', async (t) => {
  const c = sum(
    acceptedDelta('CF', cf(), '2026-10-12', true, days),
    acceptedDelta('CF', cf(), '2026-10-12', true, days),
    acceptedDelta('CF', cf(), '2026-10-12', true, days),
    rejectedDelta('CF', cf({ uscc: '91430100MA4L000000' }), ['ERR_INVALID_USCC', 'ERR_FIELD_REQUIRED']),
  );
  t.equal(c.submitted, 4);
  t.equal(indicatorsOf(c).complianceRate, 0.75);
  t.equal(indicatorsOf(c).usccErrorRate, 0.25);
  t.equal(c.missing_required, 1);
  t.equal(indicatorsOf(zeroCounters()).complianceRate, null, 'no items: no rate');
});

t.test('字段完整率: required, optional and conditional fields (CF, 14 + 14 + 3 by the catalog)', async (t) => {
  t.same(fillCounts('CF', cf()), { req_filled: 14, req_slots: 14, opt_filled: 3, opt_slots: 14, cond_filled: 1, cond_slots: 1 });
  const missing = cf({ basis: '  ', fineAmount: undefined });
  t.same(fillCounts('CF', missing), { req_filled: 13, req_slots: 14, opt_filled: 3, opt_slots: 14, cond_filled: 0, cond_slots: 1 }, 'a blank required field and a missing 罚款金额 under 罚款');
  t.same(fillCounts('CF', cf({ category: ['警告'], fineAmount: undefined })), { req_filled: 14, req_slots: 14, opt_filled: 3, opt_slots: 14, cond_filled: 0, cond_slots: 0 }, '警告 asks for no amount');
  t.same(fillCounts('NOPE', cf()), {}, 'an unknown type counts no slots');
  const i = indicatorsOf(sum(fillCounts('CF', cf()), fillCounts('CF', missing)));
  t.equal(i.requiredFillRate, 0.9643); // 27/28
  t.equal(i.optionalFillRate, 0.2143); // 6/28
  t.equal(i.conditionalFillRate, 0.5); // 1/2
});

t.test('accuracy failures: impossible dates among the rejections, one USCC under several names', async (t) => {
  const c = sum(rejectedDelta('XK', {}, ['ERR_DATE_RANGE']), rejectedDelta('CF', {}, ['ERR_DECISION_DATE_FUTURE']), rejectedDelta('CF', {}, ['ERR_INVALID_DATE']), { multi_name: 2 });
  t.equal(indicatorsOf(c).accuracyFailures, 4);
  t.same(nameKey({ uscc: '9143010200000A1B4J', subjectName: '长沙示例 餐饮有限公司' })?.name, nameKey({ uscc: '9143010200000a1b4j', subjectName: '长沙示例餐饮有限公司' })?.name, 'spaces and case do not make another name');
  t.equal(nameKey({ uscc: '9143010200000A1B4J', subjectName: '张三', subjectCategory: '自然人' }), null, 'persons are not indexed');
});

t.test('重复率 and 纠正率 from their counters; the 文书号 normalised', async (t) => {
  t.equal(normaliseDocNo('长市监处罚［2026］12 号'), '长市监处罚〔2026〕12号');
  t.equal(normaliseDocNo('长市监处罚(2026)12号'), '长市监处罚〔2026〕12号');
  const k = docKey('CF', cf());
  t.equal(docKey('CF', cf({ decisionNo: '长市监处罚[2026]12号 ' })), k, 'the same decision written otherwise');
  t.not(docKey('CF', cf({ authorityUscc: '11430100000000000X' })), k, 'another authority');
  t.not(docKey('XK', cf()), k, 'another type');
  t.equal(docKey('CF', cf({ decisionNo: '' })), null);
  t.notMatch(k!, /长/, 'a hash, not the number');
  const c = sum({ submitted: 10, accepted: 8, rejected: 2, dup_within: 1, dup_across: 1, corrected: 1 });
  t.equal(indicatorsOf(c).duplicateRate, 0.25); // 2/8
  t.equal(indicatorsOf(c).correctionRate, 0.5); // 1/2
});

t.test('交换成功率 and receipt latency', async (t) => {
  const c = sum({ batches: 4, batches_ok: 3, latency_ms_sum: 4000 });
  t.equal(indicatorsOf(c).exchangeSuccessRate, 0.75);
  t.equal(indicatorsOf(c).meanReceiptLatencyMs, 1000);
});

t.test('互联互通率 against the shipped register: 14 市州 + 122 county-level units', async (t) => {
  t.equal(HUNAN_EXPECTED_NODES.length, 136);
  t.equal(HUNAN_EXPECTED_NODES.filter((n) => n.code.endsWith('00')).length, 14);
  t.same(registerProblems(HUNAN_EXPECTED_NODES), []);
  t.same(registerProblems([{ code: '4301', name: 'x' }, { code: '430100', name: '' }]), ['[0].code must be a 6-digit GB/T 2260 code', '[1].name must be a non-empty string']);
  const r = interconnectionRate(HUNAN_EXPECTED_NODES.map((n) => n.code), new Set(['430100', '430181', '999999']));
  t.equal(r.seen, 2, 'a node outside the register does not count');
  t.equal(r.rate, 0.0147); // 2/136
  t.equal(r.missing.length, 134);
});

t.test('月度排名 and the report built from cells', async (t) => {
  const cells: QualityCell[] = [
    { node: '430100', unit: '1243010000000X019K', type: 'CF', month: '2026-10', counters: { submitted: 10, accepted: 9, rejected: 1 } },
    { node: '430181', unit: '1243010000000X019K', type: 'XK', month: '2026-10', counters: { submitted: 10, accepted: 10 } }, // 浏阳 counts for 长沙
    { node: '430700', unit: '-', type: 'CF', month: '2026-10', counters: { submitted: 4, accepted: 4, timed: 4, timely: 2 } },
    { node: '430700', unit: '*', type: '*', month: '2026-10', counters: { batches: 2, batches_ok: 1, latency_ms_sum: 500 } },
  ];
  const rep = buildQualityReport(cells, { scope: 'province', issuer: '430000', generatedAt: '2026-11-01T00:00:00.000Z', month: '2026-10', expected: ['430100', '430700', '430200'], seen: new Set(['430100']) });
  t.equal(rep.totals.counters.submitted, 24);
  t.equal(rep.totals.indicators.complianceRate, 0.9583); // 23/24
  t.same(rep.nodes.map((n) => n.node), ['430100', '430181', '430700']);
  t.equal(rep.nodes[2]!.indicators.exchangeSuccessRate, 0.5);
  t.equal(rep.units.length, 3, 'batch-level cells are not units');
  t.same(rep.ranking!.map((r) => [r.rank, r.city]), [['430700', 1], ['430100', 2], ['430200', 3]].map(([c, n]) => [n, c]), '常德 100 % before 长沙 95 %, 株洲 without data last');
  t.equal(rep.interconnection!.rate, 0.3333);
  const csv = toCsv(qualityTables(rep).ranking);
  t.match(csv, /^\uFEFF排名,市州代码,市州,数据合规率/);
  t.equal(csv.trim().split('\r\n').length, 4);
  t.same(rankCities([]), []);
});

t.test('source unit and month keys', async (t) => {
  t.equal(sourceUnitOf(cf()), '1243010000000X019K');
  t.equal(sourceUnitOf({ sourceUscc: 'not a code' }), '-');
  t.equal(monthInChina('2026-10-31T16:30:00.000Z'), '2026-11', 'China time: already November');
  const tally = new QualityTally();
  tally.add({ node: '430100', unit: 'u', type: 'CF', month: '2026-10' }, { submitted: 1, accepted: 1 });
  tally.add({ node: '430100', unit: 'u', type: 'CF', month: '2026-10' }, { submitted: 1, rejected: 1, uscc_bad: 0 });
  t.equal(tally.size, 1);
  t.same([...tally.cells.values()][0]!.delta, { submitted: 2, accepted: 1, rejected: 1 });
});

t.test('CSV export neutralises spreadsheet formulas (a node controls 信息类别, an operator a node name)', async (t) => {
  const csv = toCsv([['节点', '信息类别', '值'], ['430100', "=cmd|'/c calc'!A", '-0.5'], ['+SUM(A1)', '@x', '\tTAB'], ['-', '-1', 'a"b']]);
  const lines = csv.replace(/^\uFEFF/, '').split('\r\n');
  t.equal(lines[1], `430100,"'=cmd|'/c calc'!A",-0.5`, 'a formula is prefixed with an apostrophe and quoted; a negative number stays a number');
  t.equal(lines[2], `"'+SUM(A1)","'@x","'\tTAB"`, '+, @ and a leading tab are neutralised too');
  t.equal(lines[3], `-,-1,"a""b"`, 'a lone minus and a negative integer stay as they are; quotes are doubled');
});
