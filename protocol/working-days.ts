/**
 * Working days (工作日) of the province's calendar (working-day-data.ts): objection and credit
 * repair deadlines are counted in them. Pure. A date in a year the calendar does not hold throws
 * ERR_CALENDAR_YEAR_MISSING, so a deadline is never computed from a guess.
 */
import { isIsoDate } from './catalog-calendar.js';
import { protocolError } from './errors.js';
import { WORKING_DAY_CALENDAR, type WorkingDayYear } from './working-day-data.js';

export interface WorkingDayCalendar {
  /** True for a working day. */
  isWorkingDay(date: string): boolean;
  /** The `n`-th working day after `date` (the day itself not counted); n ≥ 1. */
  addWorkingDays(date: string, n: number): string;
  /** Working days after `from` up to and including `to` (0 when to ≤ from). */
  workingDaysBetween(from: string, to: string): number;
  /** Years held, and which of them are provisional. */
  years(): { year: number; provisional: boolean }[];
}

function nextDay(date: string): string {
  return new Date(Date.parse(`${date}T00:00:00Z`) + 86_400_000).toISOString().slice(0, 10);
}

export function workingDayCalendar(data: Readonly<Record<number, WorkingDayYear>> = WORKING_DAY_CALENDAR): WorkingDayCalendar {
  const off = new Set<string>();
  const work = new Set<string>();
  for (const y of Object.values(data)) {
    for (const d of y.off) off.add(d);
    for (const d of y.work) work.add(d);
  }
  const isWorkingDay = (date: string): boolean => {
    if (!isIsoDate(date)) throw new RangeError(`not a YYYY-MM-DD date: ${date}`);
    const year = Number(date.slice(0, 4));
    if (!data[year]) {
      throw protocolError('ERR_CALENDAR_YEAR_MISSING', `the working-day calendar has no entry for ${year}; add it to protocol/working-day-data.ts`, { year, years: Object.keys(data).map(Number) });
    }
    if (work.has(date)) return true;
    if (off.has(date)) return false;
    const dow = new Date(`${date}T00:00:00Z`).getUTCDay();
    return dow !== 0 && dow !== 6;
  };
  return {
    isWorkingDay,
    addWorkingDays(date, n) {
      if (!Number.isInteger(n) || n < 1) throw new RangeError(`n must be a whole number ≥ 1: ${n}`);
      let d = date;
      for (let left = n; left > 0; ) {
        d = nextDay(d);
        if (isWorkingDay(d)) left--;
      }
      return d;
    },
    workingDaysBetween(from, to) {
      let n = 0;
      for (let d = nextDay(from); d <= to; d = nextDay(d)) if (isWorkingDay(d)) n++;
      return n;
    },
    years: () => Object.entries(data).map(([y, e]) => ({ year: Number(y), provisional: e.provisional })),
  };
}
