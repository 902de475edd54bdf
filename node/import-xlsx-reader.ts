/**
 * exceljs 4.4's streaming WorkbookReader, patched where it fails an import server
 * (lib/stream/xlsx/workbook-reader.js is the original; the internals used here are checked by
 * test/node/import-xlsx.test.ts against the pinned version).
 *
 * - Whole characters: its SAX feed (lib/utils/parse-sax.js) decodes each zip chunk on its own, so a
 *   Chinese character cut between two chunks came out as U+FFFD (seen in the national-layout test,
 *   row 504). Worksheets and shared strings are fed decoded text here.
 * - Its workbook, worksheet and shared-strings readers are replaced by import-xlsx-cells.ts (they
 *   took text from anywhere in a cell, and knew no prefixes); the relationships part is still read
 *   with its own parser, for the tabs' worksheet parts.
 * - Its `parse` is replaced (parseKeepingTemporaryFiles) for what happened around its temporary
 *   files and its zip stream; each point is a test in test/node/import-xlsx.test.ts.
 */
import { createRequire } from 'node:module';
import { Readable, Transform, pipeline as streamPipeline } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import type ExcelJSModule from 'exceljs';
import { serviceError } from '../protocol/service-errors.js';
import { nodeError } from './errors.js';
import { MAX_WORKSHEETS, sharedStrings, sheetRows, tooManyWorksheets, workbookPart, type WorkbookPart } from './import-xlsx-cells.js';
import { openSpool, type Spool } from './import-spool.js';
import type { TableRow } from './import-table.js';

export { MAX_WORKSHEETS };

/**
 * What xl/sharedStrings.xml may cost in memory (they are held while the sheet is read), estimated
 * as its bytes plus SHARED_STRINGS_TAG_COST per element: exceljs makes an object of each `<si>` and
 * each run `<r>`, so a zip of 4-byte `<r/>` runs cost 74 bytes of heap per run (a 206 KB upload
 * ended the node with "heap out of memory" when only bytes were counted).
 */
export const MAX_SHARED_STRINGS_BYTES = 512 * 1024 * 1024;
export const SHARED_STRINGS_TAG_COST = 64;

/** What xl/workbook.xml and its relationships may take (parsed whole; Excel's are kilobytes, a thousand tabs ≈ 150 KB). */
export const MAX_WORKBOOK_PART_BYTES = 16 * 1024 * 1024;

/** Bytes plus SHARED_STRINGS_TAG_COST for each element start (a '<' not followed by '/'; one at the chunk's end counts). */
function sharedStringsCost(chunk: Buffer): number {
  let starts = 0;
  for (let i = chunk.indexOf(0x3c); i !== -1; i = chunk.indexOf(0x3c, i + 1)) if (chunk[i + 1] !== 0x2f) starts++;
  return chunk.length + starts * SHARED_STRINGS_TAG_COST;
}



export interface XlsxLimits {
  /** Most bytes one import may unpack, every zip entry counted (config importUnpackLimitBytes). */
  unpackLimitBytes: number;
  /** Default MAX_SHARED_STRINGS_BYTES. */
  sharedStringsLimitBytes?: number;
  /** How long the upload may send nothing (default XLSX_IDLE_MS in import-xlsx.ts). */
  idleMs?: number;
}

type Entry = Readable & { path: string };
type Events = Generator<unknown> | AsyncGenerator<unknown>;
type Internals = {
  input: unknown;
  stream?: NodeJS.ReadableStream;
  sharedStrings?: unknown;
  workbookRels?: unknown;
  model?: WorkbookPart;
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

/** An entry's text, decoded whole character by whole character; joined with pipeline, so the entry destroyed with an error ends the read with it. */
function textOf(entry: NodeJS.ReadableStream): Transform {
  const d = new StringDecoder('utf8');
  return streamPipeline(entry as Readable, new Transform({ readableObjectMode: true, transform: (c: Buffer, _e, cb) => cb(null, d.write(c)), flush: (cb) => cb(null, d.end() || undefined) }), noop);
}

function unpackedTooMuch(limits: XlsxLimits): Error {
  return serviceError('ERR_BODY_TOO_LARGE', `工作簿解压后超过 ${limits.unpackLimitBytes} 字节（配置项 importUnpackLimitBytes）；请把数据分成几个文件导入 [ERR_BODY_TOO_LARGE]`, { unpackLimitBytes: limits.unpackLimitBytes });
}

/**
 * The entry's bytes, counted towards the import's unpacked total (a decompression bomb stops at
 * unpackLimitBytes, 413) and, for the shared strings, their own cap (they are held in memory).
 * A failure here or in the entry fails the whole read (`fail`).
 */
function counted(entry: Entry, limits: XlsxLimits, total: { bytes: number }, fail: (e: Error) => void): Transform {
  const shared = entry.path === 'xl/sharedStrings.xml';
  const book = entry.path === 'xl/workbook.xml' || entry.path === 'xl/_rels/workbook.xml.rels';
  const partLimit = shared ? (limits.sharedStringsLimitBytes ?? MAX_SHARED_STRINGS_BYTES) : book ? MAX_WORKBOOK_PART_BYTES : Infinity;
  let own = 0;
  const t = new Transform({
    transform(chunk: Buffer, _e, cb) {
      own += shared ? sharedStringsCost(chunk) : chunk.length;
      total.bytes += chunk.length;
      if (total.bytes > limits.unpackLimitBytes) {
        cb(unpackedTooMuch(limits));
      } else if (own > partLimit) {
        cb(
          shared
            ? nodeError('ERR_IMPORT_FORMAT', `工作簿的共享字符串过多（估计占用内存超过 ${partLimit} 字节）；请另存为 CSV 再导入 [ERR_IMPORT_FORMAT]`, { sharedStringsLimitBytes: partLimit })
            : nodeError('ERR_IMPORT_FORMAT', `工作簿的 ${entry.path} 超过 ${partLimit} 字节，不是 Excel 写出的工作簿 [ERR_IMPORT_FORMAT]`, { part: entry.path, partLimitBytes: partLimit }),
        );
      } else cb(null, chunk);
    },
  });
  streamPipeline(entry, t, (err) => {
    if (err) fail(err);
  });
  return t;
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
async function* parseKeepingTemporaryFiles(this: Internals, limits: XlsxLimits, unpacked: { bytes: number }): AsyncGenerator<unknown> {
  const stream = (this.stream = this._getStream(this.input));
  const zip = unzip.Parse({ forceStream: true });
  let current: Entry | undefined;
  streamPipeline(stream, zip, (err) => {
    if (err) current?.destroy(err);
  });
  let spool: Spool | undefined;
  const waiting: { sheetNo: string; name: string }[] = [];
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
          if ((match = /^xl\/worksheets\/sheet(\d+)\.xml$/.exec(entry.path))) {
            if (++worksheets > MAX_WORKSHEETS) throw tooManyWorksheets();
            if (this.sharedStrings && this.workbookRels && this.model) {
              yield* this._parseWorksheet(iterateStream(entry), match[1]!);
            } else {
              spool ??= await openSpool();
              const name = `${waiting.length}.xml`;
              waiting.push({ sheetNo: match[1]!, name });
              await spool.put(name, entry);
            }
          } else if ((match = /^xl\/worksheets\/_rels\/sheet(\d+)\.xml\.rels$/.exec(entry.path))) {
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
  /** The position of the first tab that is a worksheet and not hidden. */
  firstShown?: number;
  /** Whether xl/workbook.xml lists tabs (then a worksheet part no tab lists is never read). */
  listed: boolean;
  /** The workbook counts dates from 1904 (WorkbookPart.date1904). */
  date1904: boolean;
  rows: AsyncGenerator<TableRow[]>;
}

type Tab = { name?: string; path?: string; hidden: boolean };

/** The workbook's tabs in order, each with the part it shows (its relationship's target: relative to xl/, or absolute as openpyxl writes it). */
function tabs(r: Internals): Tab[] {
  const rels = new Map<string, string>();
  for (const rel of (r.workbookRels ?? []) as { Id?: string; Target?: string }[]) if (typeof rel.Id === 'string' && typeof rel.Target === 'string' && !rels.has(rel.Id)) rels.set(rel.Id, rel.Target);
  return (r.model?.sheets ?? []).map((x) => {
    const target = x.rId === undefined ? undefined : rels.get(x.rId);
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
  // every entry's bytes, and the text shared strings expand to in the cells that name them
  const unpacked = { bytes: 0 };
  const charge = (chars: number) => {
    unpacked.bytes += chars;
    if (unpacked.bytes > limits.unpackLimitBytes) throw unpackedTooMuch(limits);
  };
  let known: Tab[] | undefined; // the workbook part and its relationships are read once, before any sheet is
  r._parseWorksheet = function* (iterator, sheetNo) {
    const all = (known ??= tabs(r));
    const at = all.findIndex((x) => x.path === `xl/worksheets/sheet${sheetNo}.xml`);
    const shown = all.findIndex((x) => !x.hidden && x.path?.startsWith('xl/worksheets/'));
    const value: XlsxSheet = { name: all[at]?.name, position: at < 0 ? undefined : at + 1, firstShown: shown < 0 ? undefined : shown + 1, listed: all.length > 0, date1904: r.model?.date1904 === true, rows: sheetRows(utf8Text(iterator), () => r.sharedStrings as string[] | undefined, charge) };
    yield { eventType: 'worksheet', value };
  };
  // exceljs's parser of xl/workbook.xml knows no prefixes and reads date1904="true" as false
  r._parseWorkbook = async function (entry) {
    r.model = await workbookPart(textOf(entry));
  };
  r._parseSharedStrings = async function* (entry) {
    r.sharedStrings = await sharedStrings(textOf(entry));
  };
  for await (const e of parseKeepingTemporaryFiles.call(r, limits, unpacked) as AsyncGenerator<{ eventType: string; value: XlsxSheet }>) {
    if (e.eventType === 'worksheet') yield e.value;
  }
}
