/**
 * The province's working-day calendar as data: per year, the days off that fall on a weekday
 * (放假) and the weekend days that are working days (调休上班), from the State Council's yearly
 * notice on public holidays. Hunan follows the national arrangement. Every other Monday–Friday is a
 * working day, every other Saturday and Sunday is not.
 *
 * To extend: add the year's entry from the notice (the State Council publishes it around November
 * of the year before) and, when an entry was provisional, set `provisional: false` and `source`.
 * A year that is not here makes working-day arithmetic throw (working-days.ts), never guess.
 */

export interface WorkingDayYear {
  /** Where the dates come from. */
  source: string;
  /** True while the notice for the year has not been published: the dates below are an estimate. */
  provisional: boolean;
  /** Days off (holidays and the days moved to make bridges), YYYY-MM-DD. Weekend days may be listed. */
  off: readonly string[];
  /** Saturdays and Sundays that are working days (调休上班), YYYY-MM-DD. */
  work: readonly string[];
}

const range = (from: string, to: string): string[] => {
  const out: string[] = [];
  for (let t = Date.parse(`${from}T00:00:00Z`); t <= Date.parse(`${to}T00:00:00Z`); t += 86_400_000) out.push(new Date(t).toISOString().slice(0, 10));
  return out;
};

export const WORKING_DAY_CALENDAR: Readonly<Record<number, WorkingDayYear>> = Object.freeze({
  2025: {
    source: '国务院办公厅关于2025年部分节假日安排的通知（国办发明电〔2024〕12号，2024-11-12）',
    provisional: false,
    off: [
      '2025-01-01', // 元旦
      ...range('2025-01-28', '2025-02-04'), // 春节
      ...range('2025-04-04', '2025-04-06'), // 清明节
      ...range('2025-05-01', '2025-05-05'), // 劳动节
      ...range('2025-05-31', '2025-06-02'), // 端午节
      ...range('2025-10-01', '2025-10-08'), // 国庆节、中秋节
    ],
    work: ['2025-01-26', '2025-02-08', '2025-04-27', '2025-09-28', '2025-10-11'],
  },
  2026: {
    source: '国务院办公厅关于2026年部分节假日安排的通知（2025-11-04）',
    provisional: false,
    off: [
      ...range('2026-01-01', '2026-01-03'), // 元旦
      ...range('2026-02-15', '2026-02-23'), // 春节
      ...range('2026-04-04', '2026-04-06'), // 清明节
      ...range('2026-05-01', '2026-05-05'), // 劳动节
      ...range('2026-06-19', '2026-06-21'), // 端午节
      ...range('2026-09-25', '2026-09-27'), // 中秋节
      ...range('2026-10-01', '2026-10-07'), // 国庆节
    ],
    work: ['2026-01-04', '2026-02-14', '2026-02-28', '2026-05-09', '2026-09-20', '2026-10-10'],
  },
  2027: {
    // PROVISIONAL: the State Council has not published the 2027 notice. Only the statutory days of
    // 《全国年节及纪念日放假办法》 (2024 revision) on the 2027 lunar dates are listed; bridges and
    // 调休上班 days are unknown. Replace this entry with the notice when it is published.
    source: 'PROVISIONAL — statutory holidays only (全国年节及纪念日放假办法, 2024); no 调休 until the 2027 notice is published',
    provisional: true,
    off: [
      '2027-01-01', // 元旦
      ...range('2027-02-05', '2027-02-08'), // 春节: 除夕 (Feb 5) to 正月初三
      '2027-04-05', // 清明节
      '2027-05-01', '2027-05-02', // 劳动节
      '2027-06-09', // 端午节
      '2027-09-15', // 中秋节
      ...range('2027-10-01', '2027-10-03'), // 国庆节
    ],
    work: [],
  },
});
