/**
 * Calendar dates as ISO `YYYY-MM-DD` strings (no time, no zone): real-date checks and
 * calendar-month arithmetic for disclosure windows. Pure; "today" is passed in by callers, and
 * `todayInChina()` is the one helper that reads the clock (China Standard Time, UTC+8).
 */

const ISO_DATE = /^(\d{4})-(\d{2})-(\d{2})$/;

export function isLeapYear(y: number): boolean {
  return (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;
}

export function daysInMonth(y: number, m: number): number {
  return [31, isLeapYear(y) ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][m - 1] ?? 0;
}

/** True when y-m-d is a day of the Gregorian calendar (years 0001–9999). */
export function isCalendarDay(y: number, m: number, d: number): boolean {
  return Number.isInteger(y) && y >= 1 && y <= 9999 && m >= 1 && m <= 12 && d >= 1 && d <= daysInMonth(y, m);
}

/** True for a real date written exactly as `YYYY-MM-DD` (2026-02-29 is false, 2024-02-29 true). */
export function isIsoDate(s: unknown): s is string {
  if (typeof s !== 'string') return false;
  const m = ISO_DATE.exec(s);
  return m !== null && isCalendarDay(Number(m[1]), Number(m[2]), Number(m[3]));
}

function pad(n: number, width: number): string {
  return String(n).padStart(width, '0');
}

export function formatIsoDate(y: number, m: number, d: number): string {
  return `${pad(y, 4)}-${pad(m, 2)}-${pad(d, 2)}`;
}

/**
 * Adds whole calendar months. When the target month is shorter, the result is its last day
 * (2026-01-31 + 1 month = 2026-02-28; 2024-01-31 + 1 = 2024-02-29; 2024-02-29 + 12 = 2025-02-28),
 * which is how a period "counted in months" ends under PRC civil law (民法典 art. 202).
 */
export function addMonths(date: string, months: number): string {
  if (!isIsoDate(date)) throw new RangeError(`not a YYYY-MM-DD date: ${date}`);
  if (!Number.isInteger(months)) throw new RangeError(`months must be a whole number: ${months}`);
  const [y, m, d] = date.split('-').map(Number) as [number, number, number];
  const index = y * 12 + (m - 1) + months;
  const ny = Math.floor(index / 12);
  const nm = (index % 12) + 1;
  return formatIsoDate(ny, nm, Math.min(d, daysInMonth(ny, nm)));
}

/** Today's date in China Standard Time (UTC+8), as `YYYY-MM-DD`. */
export function todayInChina(now: Date = new Date()): string {
  return new Date(now.getTime() + 8 * 3600_000).toISOString().slice(0, 10);
}
