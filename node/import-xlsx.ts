/**
 * Rows of an XLSX workbook, read with exceljs's streaming reader as patched in import-xlsx-reader.ts
 * (the zip is read as it arrives; shared strings are cached, worksheet XML is parsed row by row), so
 * a 100,000-row sheet is never held whole. The first worksheet, or the one named (or numbered, from
 * 1) by `sheet`. Row numbers are the sheet's own. Cell values become the text a clerk sees: numbers as written (dates in
 * date columns arrive as Excel serial day numbers: import-values.ts turns them into dates), rich
 * text joined, formulas by their cached result.
 */
import type ExcelJSModule from 'exceljs';
import { workbookReader, type XlsxLimits } from './import-xlsx-reader.js';
import { nodeError } from './errors.js';
import { CreditError } from '../protocol/errors.js';
import type { TableRow } from './import-table.js';

const GROUP = 256;

function cellText(v: unknown): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'string') return v;
  if (typeof v === 'number') return String(v);
  if (typeof v === 'boolean') return v ? 'TRUE' : 'FALSE';
  if (v instanceof Date) return v.toISOString().slice(0, 10);
  if (typeof v === 'object') {
    const o = v as { richText?: { text: string }[]; result?: unknown; text?: unknown; error?: unknown };
    if (Array.isArray(o.richText)) return o.richText.map((r) => r.text).join('');
    if ('result' in o) return cellText(o.result);
    if ('text' in o) return cellText(o.text);
    if ('error' in o) return String(o.error);
  }
  return String(v);
}

export { MAX_WORKSHEETS, type XlsxLimits } from './import-xlsx-reader.js';

/** The default of config importUnpackLimitBytes. */
export const DEFAULT_UNPACK_LIMIT_BYTES = 2 * 1024 ** 3;

export async function* xlsxRowGroups(input: AsyncIterable<Buffer>, sheet?: string, limits: XlsxLimits = { unpackLimitBytes: DEFAULT_UNPACK_LIMIT_BYTES }): AsyncGenerator<TableRow[]> {
  // loaded on first use: exceljs adds ≈ 30 MiB to a node's resident memory, and most imports are CSV
  const ExcelJS: typeof ExcelJSModule = (await import('exceljs')).default;
  const reader = workbookReader(ExcelJS, input, limits);
  let index = 0;
  let found = false;
  try {
    for await (const ws of reader) {
      index++;
      const name = (ws as unknown as { name?: string }).name;
      if (sheet !== undefined && sheet !== name && sheet !== String(index)) continue;
      found = true;
      let group: TableRow[] = [];
      for await (const row of ws) {
        const values = row.values as unknown[];
        const cells: string[] = [];
        for (let i = 1; i < values.length; i++) cells.push(cellText(values[i]));
        group.push({ line: row.number, fields: cells });
        if (group.length >= GROUP) {
          yield group;
          group = [];
        }
      }
      if (group.length) yield group;
      break;
    }
  } catch (e) {
    if (e instanceof CreditError) throw e; // ours (ERR_BODY_TOO_LARGE, ERR_IMPORT_…); Node's own ERR_… codes (thrown in unzipper) are the file's fault
    // the node's own file system failing (temporary directory missing, full, read-only): not the
    // file's fault, so an internal error (500, logged), not ERR_IMPORT_FORMAT
    if (typeof (e as { syscall?: unknown }).syscall === 'string') throw e;
    throw nodeError('ERR_IMPORT_FORMAT', `文件以 ZIP 开头，但不是可读取的 Excel 工作簿（.xlsx）：${(e as Error).message} [ERR_IMPORT_FORMAT]`);
  }
  if (!found) throw nodeError('ERR_IMPORT_FORMAT', sheet === undefined ? '工作簿中没有工作表 [ERR_IMPORT_FORMAT]' : `工作簿中没有名为「${sheet}」的工作表 [ERR_IMPORT_FORMAT]`, sheet === undefined ? {} : { sheet });
}
