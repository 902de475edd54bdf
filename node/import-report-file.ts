/**
 * The rejected rows of an import as a file a clerk fixes and uploads again: the source's own
 * columns (the header as written) with the rows as written, plus a last column 错误说明 holding
 * every problem of the row in Chinese with its code. CSV is UTF-8 with a BOM and CRLF (Excel opens
 * it as Chinese text); XLSX is one sheet 被拒绝的行. When the upload was NDJSON (no columns), the
 * file has the columns 行号 and 错误说明. Re-importing the fixed file needs no editing of the
 * header: the node ignores a column named 错误说明 (import-header.ts).
 *
 * Only the rows the report lists are in the file (the report is bounded: issue 13 item 8); when
 * `truncated`, the rest must be found by importing again after the fix.
 */
import { ERROR_COLUMN } from './import-header.js';
import type { ImportReport } from './import-service.js';

export const XLSX_MEDIA_TYPE = 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet';

/** The header and rows of the rejected-rows file. */
export function rejectedRowsTable(report: Pick<ImportReport, 'columns' | 'rejectedLines'>): string[][] {
  const columns = report.columns;
  const header = columns ? [...columns, ERROR_COLUMN] : ['行号', ERROR_COLUMN];
  const rows = report.rejectedLines.map((l) => {
    const why = l.errors.map((e) => e.message).join('；') + (l.problemsTruncated ? `；另有 ${l.problemsTruncated} 个问题未列出` : '');
    if (!columns) return [String(l.line), why];
    const cells = l.cells ?? [];
    return [...columns.map((_, i) => cells[i] ?? ''), why];
  });
  return [header, ...rows];
}

function csvCell(s: string): string {
  return /[",\r\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}

export function rejectedRowsCsv(report: Pick<ImportReport, 'columns' | 'rejectedLines'>): Buffer {
  const text = rejectedRowsTable(report).map((r) => r.map(csvCell).join(',')).join('\r\n') + '\r\n';
  return Buffer.from('\uFEFF' + text, 'utf8');
}

export async function rejectedRowsXlsx(report: Pick<ImportReport, 'columns' | 'rejectedLines'>): Promise<Buffer> {
  const ExcelJS = (await import('exceljs')).default; // on first use: it is large (import-xlsx.ts)
  const wb = new ExcelJS.Workbook();
  const ws = wb.addWorksheet('被拒绝的行');
  for (const r of rejectedRowsTable(report)) ws.addRow(r);
  return Buffer.from(await wb.xlsx.writeBuffer());
}
