/**
 * Rows of an XLSX workbook, read with exceljs's streaming reader (the zip is read as it arrives;
 * shared strings are cached, worksheet XML is parsed row by row), so a 100,000-row sheet is never
 * held whole. The first worksheet, or the one named (or numbered, from 1) by `sheet`. Row numbers
 * are the sheet's own. Cell values become the text a clerk sees: numbers as written (dates in
 * date columns arrive as Excel serial day numbers: import-values.ts turns them into dates), rich
 * text joined, formulas by their cached result.
 */
import { StringDecoder } from 'node:string_decoder';
import { Readable, Transform } from 'node:stream';
import type ExcelJSModule from 'exceljs';
import { nodeError } from './errors.js';
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

/** Decodes UTF-8 chunk by chunk, keeping a character cut between chunks for the next. */
async function* utf8Text(input: AsyncIterable<Buffer | string>): AsyncGenerator<string> {
  const d = new StringDecoder('utf8');
  for await (const c of input) yield typeof c === 'string' ? c : d.write(c);
  const rest = d.end();
  if (rest) yield rest;
}

function utf8Transform(): Transform {
  const d = new StringDecoder('utf8');
  return new Transform({ readableObjectMode: true, transform: (c: Buffer, _e, cb) => cb(null, d.write(c)), flush: (cb) => cb(null, d.end() || undefined) });
}

type Internals = {
  _parseWorksheet(iterator: AsyncIterable<Buffer | string>, sheetNo: string): Generator<unknown>;
  _parseSharedStrings(entry: NodeJS.ReadableStream): AsyncGenerator<unknown>;
};

/**
 * exceljs 4.4's SAX feed (lib/utils/parse-sax.js) decodes each zip chunk on its own, so a Chinese
 * character cut between two chunks comes out as U+FFFD (seen in the national-layout test, row
 * 504). The reader's worksheet and shared-string parts are fed decoded text instead (strings go
 * through parse-sax unchanged).
 */
function withWholeCharacters(reader: ExcelJSModule.stream.xlsx.WorkbookReader): ExcelJSModule.stream.xlsx.WorkbookReader {
  const r = reader as unknown as Internals;
  const worksheet = r._parseWorksheet.bind(r);
  const sharedStrings = r._parseSharedStrings.bind(r);
  r._parseWorksheet = function* (iterator, sheetNo) {
    yield* worksheet(utf8Text(iterator), sheetNo);
  };
  r._parseSharedStrings = (entry) => sharedStrings(entry.pipe(utf8Transform()));
  return reader;
}

export async function* xlsxRowGroups(input: AsyncIterable<Buffer>, sheet?: string): AsyncGenerator<TableRow[]> {
  // loaded on first use: exceljs adds ≈ 30 MiB to a node's resident memory, and most imports are CSV
  const ExcelJS = (await import('exceljs')).default;
  const reader = withWholeCharacters(new ExcelJS.stream.xlsx.WorkbookReader(Readable.from(input), { sharedStrings: 'cache', hyperlinks: 'ignore', styles: 'ignore', worksheets: 'emit', entries: 'ignore' }));
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
    if ((e as { code?: string }).code?.startsWith('ERR_')) throw e;
    throw nodeError('ERR_IMPORT_FORMAT', `文件以 ZIP 开头，但不是可读取的 Excel 工作簿（.xlsx）：${(e as Error).message} [ERR_IMPORT_FORMAT]`);
  }
  if (!found) throw nodeError('ERR_IMPORT_FORMAT', sheet === undefined ? '工作簿中没有工作表 [ERR_IMPORT_FORMAT]' : `工作簿中没有名为「${sheet}」的工作表 [ERR_IMPORT_FORMAT]`, sheet === undefined ? {} : { sheet });
}
