/**
 * exceljs 4.4's streaming WorkbookReader, patched where it fails an import server
 * (lib/stream/xlsx/workbook-reader.js is the original; the internals used here are checked by
 * test/node/import-xlsx.test.ts against the pinned version).
 *
 * - Whole characters: its SAX feed (lib/utils/parse-sax.js) decodes each zip chunk on its own, so a
 *   Chinese character cut between two chunks came out as U+FFFD (seen in the national-layout test,
 *   row 504). Worksheets and shared strings are fed decoded text here.
 * - Its worksheet and shared-strings readers are replaced by import-xlsx-cells.ts (they took text
 *   from anywhere in a cell); its workbook and relationships parts are still read with its own
 *   parsers, and only for the sheets' names and tab order.
 * - Its `parse` is replaced (parseKeepingTemporaryFiles) for what happened around its temporary
 *   files and its zip stream; each point is a test in test/node/import-xlsx.test.ts.
 */
import { createRequire } from 'node:module';
import { Readable, Transform, pipeline as streamPipeline } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import type ExcelJSModule from 'exceljs';
import { serviceError } from '../protocol/service-errors.js';
import { nodeError } from './errors.js';
import { MAX_ROW_BYTES } from './csv-rows.js';
import { sharedStrings, sheetRows } from './import-xlsx-cells.js';
import { openSpool, type Spool } from './import-spool.js';
import type { TableRow } from './import-table.js';

/** Worksheet entries one workbook may have (Excel has no fixed limit; 1,000 tabs is far past any export). */
export const MAX_WORKSHEETS = 1000;

/**
 * What xl/sharedStrings.xml may cost in memory (they are held while the sheet is read), estimated
 * as its bytes plus SHARED_STRINGS_TAG_COST per element: exceljs makes an object of each `<si>` and
 * each run `<r>`, so a zip of 4-byte `<r/>` runs cost 74 bytes of heap per run (a 206 KB upload
 * ended the node with "heap out of memory" when only bytes were counted).
 */
export const MAX_SHARED_STRINGS_BYTES = 512 * 1024 * 1024;
export const SHARED_STRINGS_TAG_COST = 64;

/** Bytes plus SHARED_STRINGS_TAG_COST for each element start (a '<' not followed by '/'; one at the chunk's end counts). */
function sharedStringsCost(chunk: Buffer): number {
  let starts = 0;
  for (let i = chunk.indexOf(0x3c); i !== -1; i = chunk.indexOf(0x3c, i + 1)) if (chunk[i + 1] !== 0x2f) starts++;
  return chunk.length + starts * SHARED_STRINGS_TAG_COST;
}

/** Characters of worksheet XML one row may take (as a CSV row may take MAX_ROW_BYTES). */
export const MAX_ROW_CHARS = MAX_ROW_BYTES;

export interface XlsxLimits {
  /** Most bytes one import may unpack, every zip entry counted (config importUnpackLimitBytes). */
  unpackLimitBytes: number;
  /** Default MAX_SHARED_STRINGS_BYTES. */
  sharedStringsLimitBytes?: number;
}

type Entry = Readable & { path: string };
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
const unzip = fromExceljs('unzipper') as { Parse(opts: { forceStream: true }): Transform };
const iterateStream = fromExceljs('./lib/utils/iterate-stream') as (s: NodeJS.ReadableStream) => AsyncIterable<Buffer>;

const noop = (): void => {};

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

/**
 * The entry's bytes, counted towards the import's unpacked total (a decompression bomb stops at
 * unpackLimitBytes, 413) and, for the shared strings, their own cap (they are held in memory).
 * A failure here or in the entry fails the whole read (`fail`).
 */
function counted(entry: Entry, limits: XlsxLimits, total: { bytes: number }, fail: (e: Error) => void): Transform {
  const partLimit = entry.path === 'xl/sharedStrings.xml' ? (limits.sharedStringsLimitBytes ?? MAX_SHARED_STRINGS_BYTES) : Infinity;
  let own = 0;
  const t = new Transform({
    transform(chunk: Buffer, _e, cb) {
      if (partLimit !== Infinity) own += sharedStringsCost(chunk);
      total.bytes += chunk.length;
      if (total.bytes > limits.unpackLimitBytes) {
        cb(serviceError('ERR_BODY_TOO_LARGE', `工作簿解压后超过 ${limits.unpackLimitBytes} 字节（配置项 importUnpackLimitBytes）；请把数据分成几个文件导入 [ERR_BODY_TOO_LARGE]`, { unpackLimitBytes: limits.unpackLimitBytes }));
      } else if (own > partLimit) {
        cb(nodeError('ERR_IMPORT_FORMAT', `工作簿的共享字符串过多（估计占用内存超过 ${partLimit} 字节）；请另存为 CSV 再导入 [ERR_IMPORT_FORMAT]`, { sharedStringsLimitBytes: partLimit }));
      } else cb(null, chunk);
    },
  });
  streamPipeline(entry, t, (err) => {
    if (err) fail(err);
  });
  return t;
}

/**
 * Worksheet XML text, failing when one row takes more than MAX_ROW_CHARS (its cells are held in
 * memory): characters since the last row boundary, a `<row` start or a `</row>`, so that Excel's
 * self-closing rows (`<row r="3" s="215" customFormat="1"/>`, formatted and empty) are rows too.
 * Counted until `</sheetData>`. Comments, processing instructions, CDATA and a DOCTYPE after the XML
 * declaration are refused (ERR_IMPORT_FORMAT: Excel, WPS and LibreOffice write none in a
 * worksheet), so every `<` is a tag and the boundaries cannot be faked inside them.
 */
export async function* rowBounded(input: AsyncIterable<string>): AsyncGenerator<string> {
  let seen = 0; // characters of the worksheet so far
  let boundary = 0; // where the last row boundary ended (a character offset)
  let tail = '';
  let rowsDone = false;
  let declDone = false; // the XML declaration is a processing instruction, and allowed
  const tooLong = () => nodeError('ERR_IMPORT_LINE_MALFORMED', `工作表中有一行超过 ${MAX_ROW_CHARS} 个字符，不是可导入的文件；此行及以后的内容未读取 [ERR_IMPORT_LINE_MALFORMED]`, { maxRowChars: MAX_ROW_CHARS });
  for await (const s of input) {
    seen += s.length;
    let scan = tail + s;
    if (!declDone) {
      const lead = /^\uFEFF?\s*/.exec(scan)![0].length;
      if (scan.startsWith('<?xml', lead) || '<?xml'.startsWith(scan.slice(lead))) {
        const end = scan.indexOf('?>', lead);
        if (end >= 0) {
          scan = scan.slice(end + 2);
          declDone = true;
        } else if (scan.length > 4096) throw notPlainXml();
        else {
          tail = scan; // the declaration is still arriving
          yield s;
          continue;
        }
      } else declDone = true;
    }
    if (/<!--|<\?|<!\[CDATA\[|<!DOCTYPE/i.test(scan)) throw notPlainXml();
    if (!rowsDone) {
      const start = seen - scan.length; // the offset of scan[0]
      const done = scan.indexOf('</sheetData>');
      const rows = done >= 0 ? scan.slice(0, done) : scan;
      // a real row tag only: <rowBreaks> or <rowx/> would end no row of exceljs's
      for (const m of rows.matchAll(ROW_BOUNDARY)) {
        const at = start + m.index + (m[0][1] === '/' ? 6 : 1);
        if (at - boundary > MAX_ROW_CHARS) throw tooLong();
        if (at > boundary) boundary = at;
      }
      if (start + rows.length - boundary > MAX_ROW_CHARS) throw tooLong();
      if (done >= 0) rowsDone = true;
    }
    tail = scan.slice(-11);
    yield s;
  }
}

const ROW_BOUNDARY = /<\/row>|<row[\s/>]/g;

function notPlainXml(): Error {
  return nodeError('ERR_IMPORT_FORMAT', '工作表中有注释、处理指令或 CDATA，不是 Excel 写出的工作表 [ERR_IMPORT_FORMAT]', { reason: 'markup' });
}

/**
 * exceljs 4.4's WorkbookReader.parse with its temporary files and its zip stream kept in hand.
 * A worksheet stored before the shared strings (Excel's and exceljs's own order) is copied to a
 * temporary file and parsed once the zip is through. What the original did, and what is done here:
 * - it removed such a file, and closed the descriptor it kept open on it, only when the caller read
 *   every sheet to the end (exceljs issue #2147): a read that stopped at the sheet it wanted left a
 *   worksheet of personal data in the temporary directory and a descriptor open until the process
 *   ended. Here the files live in one private directory (mode 0700, files 0600; import-spool.ts:
 *   encrypted under a key held in memory) that a `finally` removes however the read ends;
 * - a sheet skipped unread was unlinked while its read stream was still opening: an uncaught ENOENT
 *   that ended the process (seen on Node 24). Each read stream is destroyed here, and its errors
 *   are heard (whoever iterates it still sees them);
 * - the upload was joined with `pipe`, so an upload that failed (too large, cut off) emitted an
 *   'error' nobody heard, which ended the process; and unzipper, failing (damaged data, a cut-off
 *   zip), errs on the zip stream but never ends the entry being read, so a copy or a shared-strings
 *   read waited on it for ever (exceljs issue #1753 is the write side of this). Here the upload is
 *   joined with `pipeline`, and any failure destroys the current entry with its error;
 * - it iterated the zip with lib/utils/iterate-stream.js, which stops at unzipper's hand-emitted
 *   'end' while entries still wait in the stream's buffer: the last entries were sometimes lost —
 *   with exceljs's write order that is xl/workbook.xml, and the read then failed with "reading
 *   'sheets'" (about 1 read in 250 of a three-sheet workbook). Node's own iterator reads the buffer
 *   out, and destroys the zip (and so the upload) when the read stops early;
 * - it read a worksheet in place once the shared strings and relationships were read, and threw
 *   ("reading 'sheets'") when xl/workbook.xml was still to come (exceljs issue #3064; the zip format
 *   allows any order). Here the workbook part must be read too;
 * - nothing bounded what a zip unpacks: a small zip of highly compressible worksheets (a
 *   decompression bomb) filled the disk, one of shared strings or of one huge row filled the memory
 *   (a fatal "invalid size" or out-of-memory abort), and the rest of xl/workbook.xml after its root
 *   element piled up in a listener exceljs left behind. Here every entry's bytes count towards
 *   `unpackLimitBytes` (413 ERR_BODY_TOO_LARGE), the shared strings stop at
 *   MAX_SHARED_STRINGS_BYTES and a worksheet at MAX_WORKSHEETS entries (ERR_IMPORT_FORMAT), a row at
 *   MAX_ROW_CHARS (ERR_IMPORT_LINE_MALFORMED), and unread bytes are dropped as they flow.
 */
async function* parseKeepingTemporaryFiles(this: Internals, limits: XlsxLimits): AsyncGenerator<unknown> {
  const stream = (this.stream = this._getStream(this.input));
  const zip = unzip.Parse({ forceStream: true });
  let current: Entry | undefined;
  streamPipeline(stream, zip, (err) => {
    if (err) current?.destroy(err);
  });
  let spool: Spool | undefined;
  const waiting: { sheetNo: string; name: string }[] = [];
  const unpacked = { bytes: 0 };
  let worksheets = 0;
  try {
    for await (const raw of zip as AsyncIterable<Entry>) {
      current = raw;
      raw.on('error', noop); // destroyed with the zip's error: whoever reads it sees that error
      const entry = Object.assign(counted(raw, limits, unpacked, (e) => zip.destroy(e)), { path: raw.path });
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
            if (++worksheets > MAX_WORKSHEETS) throw nodeError('ERR_IMPORT_FORMAT', `工作簿的工作表超过 ${MAX_WORKSHEETS} 个，不是可导入的文件 [ERR_IMPORT_FORMAT]`, { maxWorksheets: MAX_WORKSHEETS });
            if (this.sharedStrings && this.workbookRels && this.model) {
              yield* this._parseWorksheet(iterateStream(entry), match[1]!);
            } else {
              spool ??= await openSpool();
              const name = `${waiting.length}.xml`;
              waiting.push({ sheetNo: match[1]!, name });
              await spool.put(name, entry);
            }
          } else if ((match = entry.path.match(/xl\/worksheets\/_rels\/sheet(\d+)[.]xml.rels/))) {
            yield* this._parseHyperlinks(iterateStream(entry), match[1]!);
          }
          break;
      }
      // what nobody read, or read only to its root's end (exceljs's parsers stop there and leave
      // their 'data' listener collecting the rest): dropped as it flows, and counted
      entry.removeAllListeners('data');
      entry.resume();
    }
    current = undefined;
    for (const { sheetNo, name } of waiting) {
      const file = spool!.get(name);
      file.on('error', noop); // an iterator over it still sees the error; a skipped sheet's stream cannot end the process
      try {
        yield* this._parseWorksheet(file, sheetNo);
      } finally {
        file.destroy();
      }
      await spool!.drop(name);
    }
  } finally {
    await spool?.remove();
  }
}

/** A worksheet as the reader yields it: its name and tab position (when xl/workbook.xml lists it) and its rows. */
export interface XlsxSheet {
  name?: string;
  /** 1-based, in the workbook's tab order. */
  position?: number;
  /** The position of the first tab that is a worksheet and not hidden (what Excel shows first). */
  firstShown?: number;
  rows: AsyncGenerator<TableRow[]>;
}

type Tab = { name?: string; path?: string; hidden: boolean };

/** The workbook's tabs in order, each with the part it shows (its relationship's target: relative to xl/, or absolute as openpyxl writes it). */
function tabs(r: Internals): Tab[] {
  const rels = (r.workbookRels ?? []) as { Id?: string; Target?: string }[];
  const sheets = ((r.model as { sheets?: ({ name?: string; rId?: string; state?: string } | undefined)[] } | undefined)?.sheets ?? []).filter((x) => x !== undefined);
  return sheets.map((x) => {
    const target = rels.find((rel) => rel.Id === x.rId)?.Target;
    const path = typeof target === 'string' ? (target.startsWith('/') ? target.slice(1) : `xl/${target.replace(/^\.\//, '')}`) : undefined;
    return { name: x.name, path, hidden: x.state === 'hidden' || x.state === 'veryHidden' };
  });
}

/** A streaming reader of `input` (the upload's bytes), patched as the header says: its worksheets, in the zip's order. */
export async function* workbookSheets(ExcelJS: typeof ExcelJSModule, input: AsyncIterable<Buffer>, limits: XlsxLimits): AsyncGenerator<XlsxSheet> {
  const reader = new ExcelJS.stream.xlsx.WorkbookReader(Readable.from(input), { sharedStrings: 'cache', hyperlinks: 'ignore', styles: 'ignore', worksheets: 'emit', entries: 'ignore' });
  const r = reader as unknown as Internals;
  for (const m of ['_getStream', '_parseRels', '_parseWorkbook', '_parseStyles', '_parseSharedStrings', '_parseWorksheet', '_parseHyperlinks'] as const) {
    if (typeof r[m] !== 'function') throw new Error(`exceljs's WorkbookReader has no ${m}: node/import-xlsx-reader.ts was written for exceljs 4.4`);
  }
  r._parseWorksheet = function* (iterator, sheetNo) {
    const all = tabs(r);
    const at = all.findIndex((x) => x.path === `xl/worksheets/sheet${sheetNo}.xml`);
    const shown = all.findIndex((x) => !x.hidden && x.path?.startsWith('xl/worksheets/'));
    const value: XlsxSheet = { name: all[at]?.name, position: at < 0 ? undefined : at + 1, firstShown: shown < 0 ? undefined : shown + 1, rows: sheetRows(rowBounded(utf8Text(iterator)), () => r.sharedStrings as string[] | undefined) };
    yield { eventType: 'worksheet', value };
  };
  // pipeline, not pipe: the entry destroyed with an error ends the shared strings' read with it
  r._parseSharedStrings = async function* (entry) {
    r.sharedStrings = await sharedStrings(streamPipeline(entry as Readable, utf8Transform(), noop));
  };
  for await (const e of parseKeepingTemporaryFiles.call(r, limits) as AsyncGenerator<{ eventType: string; value: XlsxSheet }>) {
    if (e.eventType === 'worksheet') yield e.value;
  }
}
