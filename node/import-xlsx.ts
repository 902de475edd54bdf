/**
 * Rows of an XLSX workbook, read as they arrive (import-xlsx-reader.ts reads the zip, with exceljs's
 * reader patched; import-xlsx-cells.ts reads the cells: shared strings are held, worksheet XML is
 * parsed row by row), so a 100,000-row sheet is never held whole. The sheet read is the one named, or
 * numbered from 1 in the workbook's tab order, by `sheet`; by default the first tab that is a
 * worksheet and not hidden (what Excel shows first; the zip's order when xl/workbook.xml lists none).
 * Row numbers are the sheet's own. Cell values become the text a clerk sees: numbers as written
 * (dates in date columns arrive as Excel serial day numbers: import-values.ts turns them into
 * dates), rich text joined, formulas by their cached result.
 */
import type ExcelJSModule from 'exceljs';
import { workbookSheets, type XlsxLimits, type XlsxSheet } from './import-xlsx-reader.js';
import { nodeError } from './errors.js';
import { CreditError } from '../protocol/errors.js';
import type { TableRow } from './import-table.js';

export { MAX_WORKSHEETS, type XlsxLimits } from './import-xlsx-reader.js';

/**
 * XLSX workbooks one node reads at once: each may hold its shared strings, up to an estimated
 * MAX_SHARED_STRINGS_BYTES (512 MiB), in memory, so more at once could exhaust the heap. The next
 * is refused (503 ERR_IMPORT_BUSY) rather than queued: a waiting upload would hold its connection.
 * CSV imports hold one row at a time and are not counted.
 */
export const MAX_CONCURRENT_XLSX = 2;
let reading = 0;

/** How long an XLSX upload may send nothing while it holds one of those places (ERR_IMPORT_STALLED). */
export const XLSX_IDLE_MS = 60_000;

/** `input`, failing when its next chunk takes longer than `ms` to come (a client that stops sending would hold its place for ever). */
async function* idleBounded(input: AsyncIterable<Buffer>, ms: number): AsyncGenerator<Buffer> {
  const it = input[Symbol.asyncIterator]();
  let stalled = false;
  try {
    for (;;) {
      let timer: NodeJS.Timeout | undefined;
      const idle = new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          stalled = true;
          reject(nodeError('ERR_IMPORT_STALLED', `上传的 Excel 工作簿已有 ${Math.round(ms / 1000)} 秒没有数据到达，导入已停止；请重新上传 [ERR_IMPORT_STALLED]`, { idleMs: ms }));
        }, ms);
      });
      let r: IteratorResult<Buffer>;
      try {
        r = await Promise.race([it.next(), idle]);
      } finally {
        clearTimeout(timer);
      }
      if (r.done) return;
      yield r.value;
    }
  } finally {
    // a stalled source is still waiting for its next chunk: its return() would wait with it
    if (stalled) void Promise.resolve(it.return?.()).catch(() => {});
    else await it.return?.();
  }
}

/** The default of config importUnpackLimitBytes. */
export const DEFAULT_UNPACK_LIMIT_BYTES = 2 * 1024 ** 3;

export async function* xlsxRowGroups(input: AsyncIterable<Buffer>, sheet?: string, limits: XlsxLimits = { unpackLimitBytes: DEFAULT_UNPACK_LIMIT_BYTES }, info: { date1904?: boolean } = {}): AsyncGenerator<TableRow[]> {
  // loaded on first use: exceljs adds ≈ 30 MiB to a node's resident memory, and most imports are CSV
  if (reading >= MAX_CONCURRENT_XLSX) throw nodeError('ERR_IMPORT_BUSY', `本节点正在读取 ${MAX_CONCURRENT_XLSX} 个 Excel 工作簿，请一分钟后重试，或把工作表另存为 CSV 再导入 [ERR_IMPORT_BUSY]`, { maxConcurrent: MAX_CONCURRENT_XLSX });
  reading++;
  try {
    yield* rowGroups(idleBounded(input, limits.idleMs ?? XLSX_IDLE_MS), sheet, limits, info);
  } finally {
    reading--;
  }
}

async function* rowGroups(input: AsyncIterable<Buffer>, sheet: string | undefined, limits: XlsxLimits, info: { date1904?: boolean }): AsyncGenerator<TableRow[]> {
  const ExcelJS: typeof ExcelJSModule = (await import('exceljs')).default;
  let index = 0;
  let found = false;
  // the default: the first tab that is not hidden, in the workbook's tab order (a sheet's place in
  // the zip is not its tab's; a workbook that does not list its sheets is read in zip order)
  const wanted = (ws: XlsxSheet, at: number): boolean =>
    ws.listed && ws.position === undefined // a worksheet part no tab shows
      ? false
      : sheet === undefined
        ? (ws.position ?? at) === (ws.firstShown ?? 1)
        : sheet === ws.name || sheet === String(ws.position ?? at);
  try {
    for await (const ws of workbookSheets(ExcelJS, input, limits)) {
      if (!wanted(ws, ++index)) continue;
      found = true;
      info.date1904 = ws.date1904; // told before the first row: the dates' day numbers depend on it
      yield* ws.rows;
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
