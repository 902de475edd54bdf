/**
 * What one objection, repair application or overdue record adds (protocol/quality-handling.ts), and
 * the indicators over them (quality-indicators.ts), with answers worked out by hand: China-time days
 * at the UTC+8 boundary, a closed objection handled but not judged, a year outside the calendar not
 * timed (never guessed), no data → null.
 */
import t from 'tap';
import { addCounters, indicatorsOf, zeroCounters, type Counters } from '../../protocol/quality-indicators.js';
import { dayInChina, objectionDelta, overdueMonth, repairDelta } from '../../protocol/quality-handling.js';
import { workingDayCounter } from '../../protocol/working-day-count.js';

const days = workingDayCounter();

t.test('China-time days and months', async (t) => {
  t.equal(dayInChina('2026-09-30T15:59:59.000Z'), '2026-09-30');
  t.equal(dayInChina('2026-09-30T16:00:00.000Z'), '2026-10-01', 'midnight in Shanghai is 16:00 UTC');
  t.equal(overdueMonth('2026-10-31'), '2026-10');
});

t.test('objections', async (t) => {
  // filed Wed 09-30 (China), decided 10-08 after 国庆 (10-01…10-07 off): 1 working day
  t.same(objectionDelta({ status: 'upheld', filedAt: '2026-09-30T02:00:00Z', resolvedAt: '2026-10-08T02:00:00Z', dueDate: '2026-10-15' }, '2026-11-01', days), { obj_filed: 1, obj_handled: 1, obj_judged: 1, obj_upheld: 1, obj_timely: 1, obj_days_sum: 1 });
  // decided at 17:00 UTC on the due date = 10-16 in China: late; 10-08, 10-09, 10-10 (调休), 10-12…10-16: 8
  t.same(objectionDelta({ status: 'rejected', filedAt: '2026-09-30T02:00:00Z', resolvedAt: '2026-10-15T17:00:00Z', dueDate: '2026-10-15' }, '2026-11-01', days), { obj_filed: 1, obj_handled: 1, obj_judged: 1, obj_days_sum: 8 });
  t.same(objectionDelta({ status: 'closed', filedAt: '2026-09-30T02:00:00Z', resolvedAt: '2026-09-30T03:00:00Z', dueDate: '2026-10-15' }, '2026-11-01', days), { obj_filed: 1, obj_handled: 1, obj_timely: 1, obj_days_sum: 0 }, 'closed (record withdrawn first): handled, not judged');
  t.same(objectionDelta({ status: 'open', filedAt: '2026-09-30T02:00:00Z', resolvedAt: null, dueDate: '2026-10-15' }, '2026-10-15', days), { obj_filed: 1 }, 'open on its due date: not overdue');
  t.same(objectionDelta({ status: 'open', filedAt: '2026-09-30T02:00:00Z', resolvedAt: null, dueDate: '2026-10-15' }, '2026-10-16', days), { obj_filed: 1, obj_overdue: 1 });
  t.same(objectionDelta({ status: 'upheld', filedAt: '2031-01-05T02:00:00Z', resolvedAt: '2031-01-06T02:00:00Z', dueDate: null }, '2031-02-01', days), { obj_filed: 1, obj_handled: 1, obj_judged: 1, obj_upheld: 1, obj_untimed: 1 }, 'a year outside the calendar: not timed; no due date: not timely');

  const c = [
    objectionDelta({ status: 'upheld', filedAt: '2026-09-30T02:00:00Z', resolvedAt: '2026-10-08T02:00:00Z', dueDate: '2026-10-15' }, '2026-11-01', days),
    objectionDelta({ status: 'rejected', filedAt: '2026-09-30T02:00:00Z', resolvedAt: '2026-10-15T17:00:00Z', dueDate: '2026-10-15' }, '2026-11-01', days),
    objectionDelta({ status: 'closed', filedAt: '2026-09-30T02:00:00Z', resolvedAt: '2026-09-30T03:00:00Z', dueDate: '2026-10-15' }, '2026-11-01', days),
    objectionDelta({ status: 'open', filedAt: '2026-09-30T02:00:00Z', resolvedAt: null, dueDate: '2026-10-15' }, '2026-11-01', days),
  ].reduce<Counters>((acc, d) => addCounters(acc, d), zeroCounters());
  const i = indicatorsOf(c);
  // 4 filed, 3 handled, 2 judged (1 upheld), 2 of 3 handled on time, (1 + 8 + 0) / 3 working days, 1 overdue
  t.same([i.objectionHandledRate, i.objectionUpheldRate, i.objectionTimelyRate, i.objectionMeanDays, i.objectionsOverdue], [0.75, 0.5, 0.6667, 3, 1]);
});

t.test('repairs', async (t) => {
  const d1 = repairDelta({ status: 'accepted', appliedAt: '2026-10-09T02:00:00Z', decidedAt: '2026-10-12T02:00:00Z', dueDate: '2026-10-23' }, '2026-11-01', days); // 10-10 调休 Saturday, 10-12: 2
  t.same(d1, { rep_applied: 1, rep_decided: 1, rep_accepted: 1, rep_timely: 1, rep_days_sum: 2 });
  const d2 = repairDelta({ status: 'refused', appliedAt: '2026-10-09T02:00:00Z', decidedAt: '2026-10-27T02:00:00Z', dueDate: '2026-10-23' }, '2026-11-01', days); // 10-10, 10-12…16, 10-19…23, 10-26, 10-27: 13
  t.same(d2, { rep_applied: 1, rep_decided: 1, rep_days_sum: 13 });
  const d3 = repairDelta({ status: 'pending', appliedAt: '2026-10-09T02:00:00Z', decidedAt: null, dueDate: '2026-10-23' }, '2026-11-01', days);
  t.same(d3, { rep_applied: 1, rep_overdue: 1 });
  const i = indicatorsOf([d1, d2, d3].reduce<Counters>((acc, d) => addCounters(acc, d), zeroCounters()));
  t.same([i.repairMeanDays, i.repairTimelyRate, i.repairsOverdue], [7.5, 0.5, 1]);
  const none = indicatorsOf(zeroCounters());
  t.same([none.repairMeanDays, none.repairTimelyRate, none.objectionHandledRate, none.objectionMeanDays, none.overduePublic], [null, null, null, null, 0], 'no data: null rates, zero counts');
});
