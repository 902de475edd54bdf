/**
 * Working days between two dates in O(1): a prefix count over the calendar's years
 * (working-day-data.ts), for the quality indicators that count decision → hub delays for a million
 * records. Same answers as working-days.ts `workingDaysBetween` (a test holds them equal), but a
 * date outside the calendar gives `null` instead of throwing: an indicator then leaves the record
 * out of its denominator rather than guess.
 */
import { isIsoDate } from './catalog-calendar.js';
import { WORKING_DAY_CALENDAR, type WorkingDayYear } from './working-day-data.js';
import { workingDayCalendar } from './working-days.js';

export interface WorkingDayCounter {
  /** Working days after `from` up to and including `to` (0 when to ≤ from); null when either year is not in the calendar. */
  between(from: string, to: string): number | null;
}

const DAY = 86_400_000;

export function workingDayCounter(data: Readonly<Record<number, WorkingDayYear>> = WORKING_DAY_CALENDAR): WorkingDayCounter {
  const years = Object.keys(data).map(Number).sort((a, b) => a - b);
  const cal = workingDayCalendar(data);
  // contiguous years from the first: prefix[i] = working days on the first i days
  const first = years[0]!;
  let last = first;
  while (data[last + 1]) last++;
  const start = Date.UTC(first, 0, 1);
  const days = Math.round((Date.UTC(last + 1, 0, 1) - start) / DAY);
  const prefix = new Uint32Array(days + 1);
  for (let i = 0; i < days; i++) prefix[i + 1] = prefix[i]! + (cal.isWorkingDay(new Date(start + i * DAY).toISOString().slice(0, 10)) ? 1 : 0);
  const index = (date: string): number | null => {
    if (!isIsoDate(date)) return null;
    const i = Math.round((Date.parse(`${date}T00:00:00Z`) - start) / DAY);
    return i >= 0 && i < days ? i : null;
  };
  return {
    between(from, to) {
      const a = index(from);
      const b = index(to);
      if (a === null || b === null) return null;
      return b <= a ? 0 : prefix[b + 1]! - prefix[a + 1]!;
    },
  };
}
