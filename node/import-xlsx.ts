/**
 * Rows of an XLSX workbook, read with exceljs's streaming reader (the zip is read as it arrives;
 * shared strings are cached, worksheet XML is parsed row by row), so a 100,000-row sheet is never
 * held whole. The first worksheet, or the one named (or numbered, from 1) by `sheet`. Row numbers
 * are the sheet's own. Cell values become the text a clerk sees: numbers as written (dates in
 * date columns arrive as Excel serial day numbers: import-values.ts turns them into dates), rich
 * text joined, formulas by their cached result.
 */
import { StringDecoder } from 'node:string_decoder';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable, Transform, pipeline as streamPipeline } from 'node:stream';
import { pipeline } from 'node:stream/promises';
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

type Entry = NodeJS.ReadableStream & { path: string; autodrain(): unknown };
type Events = Generator<unknown> | AsyncGenerator<unknown>;
type Internals = {
  input: unknown;
  stream?: NodeJS.ReadableStream;
  sharedStrings?: unknown;
  workbookRels?: unknown;
  model?: unknown;
  parse(): AsyncGenerator<unknown>;
  _getStream(input: unknown): NodeJS.ReadableStream;
  _parseRels(entry: Entry): Promise<void>;
  _parseWorkbook(entry: Entry): Promise<void>;
  _parseStyles(entry: Entry): Promise<void>;
  _parseSharedStrings(entry: NodeJS.ReadableStream): AsyncGenerator<unknown>;
  _parseWorksheet(iterator: AsyncIterable<Buffer | string>, sheetNo: string): Generator<unknown>;
  _parseHyperlinks(iterator: AsyncIterable<Buffer | string>, sheetNo: string): Events;
};

// exceljs's own copies of the modules its reader uses (not hoisted ones of another version)
const fromExceljs = createRequire(createRequire(import.meta.url).resolve('exceljs'));
const unzip = fromExceljs('unzipper') as { Parse(opts: { forceStream: true }): NodeJS.ReadWriteStream };
const iterateStream = fromExceljs('./lib/utils/iterate-stream') as (s: NodeJS.ReadableStream) => AsyncIterable<Entry>;

const noop = (): void => {};

/**
 * exceljs 4.4's WorkbookReader.parse (lib/stream/xlsx/workbook-reader.js), with its temporary files
 * kept in hand. A worksheet that comes before the shared strings in the zip (Excel's and exceljs's
 * own order) is copied to a temporary file and parsed once the zip is through. exceljs removes such
 * a file, and closes the descriptor it holds open on it, only when the caller reads every sheet to
 * the end (exceljs issue #2147): a read that stops at the sheet it wanted left a worksheet of
 * personal data in the temporary directory and a descriptor open until the process ended; and a
 * sheet skipped unread was unlinked while its read stream was still opening, an uncaught ENOENT
 * that ended the process (seen on Node 24). Here the files live in one private directory (mode
 * 0700, files 0600) removed in a `finally` however the read ends, each read stream is destroyed
 * (its errors surface to whoever iterates it, never as uncaught), and a failed copy rejects instead
 * of hanging (exceljs issue #1753). An upload that fails part-way fails the read with its error. A
 * worksheet is read in place only once the workbook part is read too: exceljs read it in place as
 * soon as the shared strings and relationships were, and failed ("reading 'sheets'") on a workbook
 * that stores xl/workbook.xml after its shared strings and worksheets (exceljs issue #3064; the zip
 * format allows any order, and no producer is bound to Excel's).
 */
async function* parseKeepingTemporaryFiles(this: Internals): AsyncGenerator<unknown> {
  const stream = (this.stream = this._getStream(this.input));
  const zip = unzip.Parse({ forceStream: true });
  // not stream.pipe(zip): an upload that fails (too large, cut off) must fail the read with its own
  // error, not hang it or emit an unheard 'error' that ends the process
  streamPipeline(stream, zip, noop);
  let dir: string | undefined;
  const waiting: { sheetNo: string; path: string }[] = [];
  try {
    for await (const entry of iterateStream(zip)) {
      let match: RegExpMatchArray | null;
      switch (entry.path) {
        case '_rels/.rels':
          break;
        case 'xl/_rels/workbook.xml.rels':
          await this._parseRels(entry);
          break;
        case 'xl/workbook.xml':
          await this._parseWorkbook(entry);
          break;
        case 'xl/sharedStrings.xml':
          yield* this._parseSharedStrings(entry);
          break;
        case 'xl/styles.xml':
          await this._parseStyles(entry);
          break;
        default:
          if ((match = entry.path.match(/xl\/worksheets\/sheet(\d+)[.]xml/))) {
            // read in place only when the sheet's name can be known (exceljs reads this.model.sheets
            // and throws while xl/workbook.xml is still to come)
            if (this.sharedStrings && this.workbookRels && this.model) {
              yield* this._parseWorksheet(iterateStream(entry) as AsyncIterable<Buffer>, match[1]!);
            } else {
              dir ??= await mkdtemp(join(tmpdir(), 'credit-xlsx-'));
              const path = join(dir, `${waiting.length}.xml`);
              waiting.push({ sheetNo: match[1]!, path });
              await pipeline(entry, createWriteStream(path, { flags: 'wx', mode: 0o600 }));
            }
          } else if ((match = entry.path.match(/xl\/worksheets\/_rels\/sheet(\d+)[.]xml.rels/))) {
            yield* this._parseHyperlinks(iterateStream(entry) as AsyncIterable<Buffer>, match[1]!);
          }
          break;
      }
      entry.autodrain();
    }
    for (const { sheetNo, path } of waiting) {
      const file = createReadStream(path);
      file.on('error', noop); // an iterator over it still sees the error; a skipped sheet's stream cannot crash the process
      try {
        yield* this._parseWorksheet(file, sheetNo);
      } finally {
        file.destroy();
      }
      await rm(path, { force: true });
    }
  } finally {
    if (dir) await rm(dir, { recursive: true, force: true });
  }
}

/**
 * The reader with its worksheets and shared strings fed whole characters: exceljs 4.4's SAX feed
 * (lib/utils/parse-sax.js) decodes each zip chunk on its own, so a Chinese character cut between
 * two chunks comes out as U+FFFD (seen in the national-layout test, row 504); strings go through
 * parse-sax unchanged. And with its temporary files kept in hand (parseKeepingTemporaryFiles).
 */
function patched(reader: ExcelJSModule.stream.xlsx.WorkbookReader): ExcelJSModule.stream.xlsx.WorkbookReader {
  const r = reader as unknown as Internals;
  const worksheet = r._parseWorksheet.bind(r);
  const sharedStrings = r._parseSharedStrings.bind(r);
  r._parseWorksheet = function* (iterator, sheetNo) {
    yield* worksheet(utf8Text(iterator), sheetNo);
  };
  r._parseSharedStrings = (entry) => sharedStrings(entry.pipe(utf8Transform()));
  r.parse = parseKeepingTemporaryFiles;
  return reader;
}

export async function* xlsxRowGroups(input: AsyncIterable<Buffer>, sheet?: string): AsyncGenerator<TableRow[]> {
  // loaded on first use: exceljs adds ≈ 30 MiB to a node's resident memory, and most imports are CSV
  const ExcelJS = (await import('exceljs')).default;
  const reader = patched(new ExcelJS.stream.xlsx.WorkbookReader(Readable.from(input), { sharedStrings: 'cache', hyperlinks: 'ignore', styles: 'ignore', worksheets: 'emit', entries: 'ignore' }));
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
    // the node's own file system failing (temporary directory missing, full, read-only): not the
    // file's fault, so an internal error (500, logged), not ERR_IMPORT_FORMAT
    if (typeof (e as { syscall?: unknown }).syscall === 'string') throw e;
    throw nodeError('ERR_IMPORT_FORMAT', `文件以 ZIP 开头，但不是可读取的 Excel 工作簿（.xlsx）：${(e as Error).message} [ERR_IMPORT_FORMAT]`);
  }
  if (!found) throw nodeError('ERR_IMPORT_FORMAT', sheet === undefined ? '工作簿中没有工作表 [ERR_IMPORT_FORMAT]' : `工作簿中没有名为「${sheet}」的工作表 [ERR_IMPORT_FORMAT]`, sheet === undefined ? {} : { sheet });
}
