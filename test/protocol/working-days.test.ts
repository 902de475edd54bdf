import t from 'tap';
import { workingDayCalendar } from '../../protocol/working-days.js';
import { WORKING_DAY_CALENDAR } from '../../protocol/working-day-data.js';

const cal = workingDayCalendar();

t.test('调休: weekend working days and weekday holidays of the State Council notices', async (t) => {
  t.equal(cal.isWorkingDay('2025-01-26'), true, '2025-01-26 is a Sunday worked before 春节');
  t.equal(cal.isWorkingDay('2025-01-28'), false, '2025 春节 (除夕, a Tuesday)');
  t.equal(cal.isWorkingDay('2026-02-14'), true, '2026-02-14 is a Saturday worked before 春节');
  t.equal(cal.isWorkingDay('2026-02-23'), false, '2026 春节 ends on Monday 23 February');
  t.equal(cal.isWorkingDay('2026-10-08'), true, 'the day after 国庆 2026');
  t.equal(cal.isWorkingDay('2026-12-05'), false, 'an ordinary Saturday');
  t.equal(cal.isWorkingDay('2026-12-07'), true, 'an ordinary Monday');
});

t.test('deadlines in working days skip weekends and holidays and count 调休 Saturdays', async (t) => {
  // Wednesday 2026-09-30: the next working days are 10-08 (Thu), 10-09 (Fri), 10-10 (Sat, worked), 10-12 (Mon)
  t.equal(cal.addWorkingDays('2026-09-30', 1), '2026-10-08');
  t.equal(cal.addWorkingDays('2026-09-30', 3), '2026-10-10');
  t.equal(cal.addWorkingDays('2026-09-30', 4), '2026-10-12');
  t.equal(cal.addWorkingDays('2026-02-13', 1), '2026-02-14', 'Friday before 春节 → the worked Saturday');
  t.equal(cal.addWorkingDays('2026-02-14', 1), '2026-02-24', 'then straight past the nine days of 春节');
  t.equal(cal.workingDaysBetween('2026-09-30', '2026-10-12'), 4);
  t.equal(cal.workingDaysBetween('2026-10-12', '2026-10-12'), 0);
});

t.test('2027 is shipped as provisional; a year not held is refused, never guessed', async (t) => {
  t.same(cal.years().map((y) => `${y.year}:${y.provisional}`), ['2025:false', '2026:false', '2027:true']);
  t.match(WORKING_DAY_CALENDAR[2027]!.source, /PROVISIONAL/);
  t.equal(cal.isWorkingDay('2027-02-05'), false, '2027 除夕 (statutory)');
  t.throws(() => cal.isWorkingDay('2028-01-03'), { code: 'ERR_CALENDAR_YEAR_MISSING', details: { year: 2028 } });
  t.throws(() => cal.addWorkingDays('2027-12-31', 1), { code: 'ERR_CALENDAR_YEAR_MISSING' });
  const extended = workingDayCalendar({ ...WORKING_DAY_CALENDAR, 2028: { source: 'test', provisional: true, off: ['2028-01-03'], work: [] } });
  t.equal(extended.addWorkingDays('2027-12-31', 1), '2028-01-04', 'a year added as data extends the calendar');
});
