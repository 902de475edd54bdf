/**
 * Output of `credit hub quality` and `credit node quality`: JSON (default), CSV (UTF-8 with BOM,
 * Excel opens it) of the 数据来源单位 table or, with --ranking, of the 市州 ranking, or an XLSX
 * workbook with both sheets (--out required).
 */
import { writeFileSync } from 'node:fs';
import { qualityTables, toCsv, type QualityReport } from '../../protocol/quality-report.js';
import { cliError } from '../errors.js';
import { optionalString, type CommandContext } from './framework.js';

export const QUALITY_OUTPUT_OPTIONS = {
  month: { type: 'string' }, json: { type: 'boolean' }, csv: { type: 'boolean' }, xlsx: { type: 'boolean' }, ranking: { type: 'boolean' }, out: { type: 'string' },
} as const;

export const QUALITY_OUTPUT_HELP = [
  '  --month YYYY-MM  one month (China time); default every month summed',
  '  --json           the whole report as JSON (default)',
  '  --csv            the table per 数据来源单位 × type as CSV (UTF-8 with BOM); with --ranking the 市州 ranking',
  '  --xlsx           both tables as an XLSX workbook; needs --out',
  '  --out FILE       write there instead of stdout',
  '  Indicators, formulas and sources: docs/quality.md',
].join('\n');

export function qualityMonth(values: CommandContext['values']): string | undefined {
  const month = optionalString(values, 'month');
  if (month !== undefined && !/^\d{4}-(0[1-9]|1[0-2])$/.test(month)) throw cliError('ERR_USAGE', `--month must be YYYY-MM: ${month}`);
  return month;
}

export async function writeQuality(report: QualityReport, ctx: CommandContext): Promise<void> {
  const { values, io } = ctx;
  const formats = (['json', 'csv', 'xlsx'] as const).filter((f) => values[f] === true);
  if (formats.length > 1) throw cliError('ERR_USAGE', 'choose one of --json, --csv, --xlsx');
  const format = formats[0] ?? 'json';
  const out = optionalString(values, 'out');
  const tables = qualityTables(report);
  if (format === 'xlsx') {
    if (!out) throw cliError('ERR_USAGE', '--xlsx needs --out FILE');
    const { default: ExcelJS } = await import('exceljs');
    const wb = new ExcelJS.Workbook();
    wb.addWorksheet('数据来源单位').addRows(tables.units);
    if (report.ranking) wb.addWorksheet('市州排名').addRows(tables.ranking);
    await wb.xlsx.writeFile(out);
    io.stderr(`wrote ${out}\n`);
    return;
  }
  const text = format === 'csv' ? toCsv(values.ranking === true ? tables.ranking : tables.units) : `${JSON.stringify(report, null, 2)}\n`;
  if (out) {
    writeFileSync(out, text);
    io.stderr(`wrote ${out}\n`);
  } else io.stdout(text);
}
