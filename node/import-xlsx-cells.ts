/**
 * The cells of an XLSX workbook: its tabs and date system (xl/workbook.xml), its shared strings
 * (xl/sharedStrings.xml) and a worksheet's rows, read from SAX events (saxes, exceljs's own XML
 * parser) by element position, as ECMA-376 Part 1 places them (§18.2 workbook, §18.4 shared
 * strings, §18.3.1 sheetData), under any prefix bound to SpreadsheetML's namespace. This replaces
 * exceljs 4.4's readers, which knew no prefixes, read date1904="true" as false, and took text from
 * anywhere inside a cell:
 * - a string of several runs written inline (`<is><r><t>甲</t></r><r><t>乙</t></r></is>`) kept only
 *   its last run, and a phonetic run (`<rPh><t>…</t></rPh>`, Excel's furigana) replaced the text,
 *   inline and shared alike;
 * - the whitespace between the elements of a pretty-printed cell became part of its value, and
 *   inline text was entity-decoded twice (a cell reading `&lt;` came out as `<`);
 * - a formula without a cached value read "[object Object]", a missing row number NaN, and a
 *   worksheet cut off before `</sheetData>` read as if complete.
 * Here the text of a string is the text of its `<t>` elements (those of `<rPh>` left out), with
 * ST_Xstring escapes (`_x000D_`) decoded as Excel writes them; markup where only text may be, rows or
 * cells out of order, a shared-string index that does not exist and a cut-off sheet are refused
 * (ERR_IMPORT_FORMAT, `details.reason`); so is a shared string past MAX_ROW_BYTES characters (no cell
 * could name it: Excel's cells hold at most 32,767). What a row may cost is bounded on its XML (rowBounded, until
 * the parser has read the real `</sheetData>`) and on its text (sheetRows).
 */
import { createRequire } from 'node:module';
import { nodeError } from './errors.js';
import { MAX_ROW_BYTES } from './csv-rows.js';
import type { TableRow } from './import-table.js';

interface Tag {
  name: string;
  attributes: Record<string, string>;
}
interface Sax {
  on(event: 'opentag' | 'closetag', handler: (tag: Tag) => void): void;
  on(event: 'text', handler: (text: string) => void): void;
  on(event: 'error', handler: (e: Error) => void): void;
  write(chunk: string): void;
  close(): void;
}
const fromExceljs = createRequire(createRequire(import.meta.url).resolve('exceljs'));
const { SaxesParser } = fromExceljs('saxes') as { SaxesParser: new () => Sax };

/** Worksheets one workbook may have, as zip entries or as tabs (Excel has no fixed limit; 1,000 tabs is far past any export). */
export const MAX_WORKSHEETS = 1000;

/** A workbook of more than MAX_WORKSHEETS worksheet parts or tabs. */
export function tooManyWorksheets(): Error {
  return nodeError('ERR_IMPORT_FORMAT', `工作簿的工作表超过 ${MAX_WORKSHEETS} 个，不是可导入的文件 [ERR_IMPORT_FORMAT]`, { maxWorksheets: MAX_WORKSHEETS });
}

/** Deepest element nesting read (Excel's worksheets and shared strings nest ≤ 5 deep before the rows end). */
export const MAX_DEPTH = 64;
/** Rows a group holds (the import reads a group at a time). */
const GROUP = 256;
/** Characters parsed at a time (the rows of a slice are held until it is parsed). */
const SLICE = 4 * 1024;
/** What a column filled before a cell with text is charged, as unpacked bytes (its slot in memory). */
const FILLED_COLUMN_COST = 8;
/** Cells (empty ones between others included) past which the rows read are handed on. */
const GROUP_CELLS = 64 * 1024;
/** Excel's last row and column (XFD). */
const MAX_ROW = 1_048_576;
const MAX_COLUMN = 16_384;

type Reason = 'xml' | 'truncated' | 'nested' | 'depth' | 'row' | 'cell' | 'sharedString';

function formatError(reason: Reason, what: string, details: Record<string, unknown> = {}): Error {
  return nodeError('ERR_IMPORT_FORMAT', `${what}，不是 Excel 写出的工作簿；请用 Excel 或 WPS 打开后另存为 .xlsx 再导入 [ERR_IMPORT_FORMAT]`, { reason, ...details });
}

/** Characters of worksheet XML one row may take (as a CSV row may take MAX_ROW_BYTES). */
export const MAX_ROW_CHARS = MAX_ROW_BYTES;

/**
 * Worksheet XML text, failing when one row takes more than MAX_ROW_CHARS (its cells are held in
 * memory; and as every tag and text node lies between two row boundaries, none is larger, so the
 * XML parser never holds more): characters since the last row boundary, a `<row` start or a
 * `</row>` under any prefix, so that Excel's self-closing rows (`<row r="3" s="215"
 * customFormat="1"/>`, formatted and empty) are rows too. Counted until `rowsDone()` — the parser's
 * word that the real `</sheetData>` was read (a `</sheetData>` in the text proves nothing: one
 * nested deeper switched the bound off). Comments, processing instructions, CDATA and a DOCTYPE after
 * the XML declaration are refused (ERR_IMPORT_FORMAT: Excel, WPS and LibreOffice write none in a
 * worksheet), so every `<` is a tag and the boundaries cannot be faked inside them.
 */
export async function* rowBounded(input: AsyncIterable<string>, rowsDone: () => boolean = () => false): AsyncGenerator<string> {
  let seen = 0; // characters of the worksheet so far
  let boundary = 0; // where the last row boundary ended (a character offset)
  let tail = '';
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
    if (!rowsDone()) {
      const start = seen - scan.length; // the offset of scan[0]
      // a real row tag only: <rowBreaks> or <rowx/> would end no row of the parser's
      for (const m of scan.matchAll(ROW_BOUNDARY)) {
        const at = start + m.index + m[0].length - 1;
        if (at - boundary > MAX_ROW_CHARS) throw tooLong();
        if (at > boundary) boundary = at;
      }
      if (seen - boundary > MAX_ROW_CHARS) throw tooLong();
    }
    tail = scan.slice(-TAIL);
    yield s;
  }
}

/**
 * XML text whose every text node and tag is at most `max` characters (the distance between two `<`):
 * the parser holds one of them whole before it hands it on, so a part with no other bound cannot
 * make it hold more. `tooLong` makes the error.
 */
export async function* tagBounded(input: AsyncIterable<string>, max: number, tooLong: () => Error): AsyncGenerator<string> {
  let since = 0; // characters since the last '<'
  for await (const s of input) {
    let from = 0;
    for (let at = s.indexOf('<'); at !== -1; at = s.indexOf('<', at + 1)) {
      if (since + (at - from) > max) throw tooLong();
      since = 0;
      from = at + 1;
    }
    since += s.length - from;
    if (since > max) throw tooLong();
    yield s;
  }
}

/** `</row>` or `<row` followed by a space, `/` or `>`, each under an optional prefix (`<x:row`). */
const ROW_BOUNDARY = /<\/(?:[A-Za-z_][\w.-]{0,31}:)?row>|<(?:[A-Za-z_][\w.-]{0,31}:)?row[\s/>]/g;
/** Enough of the last chunk to find a boundary or markup cut between chunks (`</` + a 32-character prefix + `:row>`). */
const TAIL = 40;

function notPlainXml(): Error {
  return nodeError('ERR_IMPORT_FORMAT', '工作表中有注释、处理指令或 CDATA，不是 Excel 写出的工作表 [ERR_IMPORT_FORMAT]', { reason: 'markup' });
}

/** ST_Xstring (ECMA-376 Part 1 §22.4.2.4): `_xHHHH_` is the UTF-16 code unit HHHH (Excel writes a CR as `_x000D_`, a literal `_x` as `_x005F_x`). Surrogates stay as written. */
export function unescapeXstring(s: string): string {
  if (!s.includes('_x')) return s;
  return s.replace(/_x([0-9A-Fa-f]{4})_/g, (m, hex: string) => {
    const unit = parseInt(hex, 16);
    return unit >= 0xd800 && unit <= 0xdfff ? m : String.fromCharCode(unit);
  });
}

/** Feeds `input` to a fresh parser that `handlers` listen to; once `stop()` is true the rest is read through, not parsed; else `atEnd` runs before the parser closes. */
async function* parsed(input: AsyncIterable<string>, part: string, handlers: (sax: Sax) => void, stop: () => boolean, atEnd: () => void = () => {}): AsyncGenerator<void> {
  const sax = new SaxesParser();
  let failure: Error | undefined;
  sax.on('error', (e) => {
    failure ??= formatError('xml', `${part}不是格式正确的 XML（${e.message}）`);
  });
  handlers(sax);
  for await (const chunk of input) {
    // in slices, so that the rows one slice makes are handed on before the next is parsed
    for (let i = 0; i < chunk.length && !stop(); ) {
      let end = Math.min(i + SLICE, chunk.length);
      if (end < chunk.length && (chunk.charCodeAt(end - 1) & 0xfc00) === 0xd800) end--; // a surrogate pair stays whole
      sax.write(i === 0 && end === chunk.length ? chunk : chunk.slice(i, end));
      i = end;
      if (failure) throw failure;
      yield;
    }
  }
  if (!stop()) {
    atEnd();
    sax.close();
    if (failure) throw failure;
  }
}

const MAIN_NAMESPACES = new Set(['http://schemas.openxmlformats.org/spreadsheetml/2006/main', 'http://purl.oclc.org/ooxml/spreadsheetml/main']);

/**
 * Element names without the prefix the root element binds to SpreadsheetML's namespace (some
 * writers use `<x:worksheet xmlns:x="…/main">`; Excel uses the default namespace). Names with
 * another prefix are kept as they are, so they match nothing read here.
 */
function localNames(): (tag: Tag, depth: number) => string {
  let prefix = '';
  return (tag, depth) => {
    if (depth === 1) {
      const colon = tag.name.indexOf(':');
      if (colon > 0 && MAIN_NAMESPACES.has(tag.attributes[`xmlns:${tag.name.slice(0, colon)}`] ?? '')) prefix = tag.name.slice(0, colon + 1);
    }
    return prefix && tag.name.startsWith(prefix) ? tag.name.slice(prefix.length) : tag.name;
  };
}

/** The depth of the element being read; refuses nesting past MAX_DEPTH. */
function depthGuard(part: string): { open(): number; close(): number; readonly depth: number } {
  let depth = 0;
  return {
    open() {
      if (++depth > MAX_DEPTH) throw formatError('depth', `${part}的元素嵌套超过 ${MAX_DEPTH} 层`, { maxDepth: MAX_DEPTH });
      return depth;
    },
    close: () => depth--,
    get depth() {
      return depth;
    },
  };
}

/** The shared strings, each the text of its `<t>` elements (a plain `<si><t>` or the runs' `<r><t>`), phonetic runs left out. */
export async function sharedStrings(input: AsyncIterable<string>): Promise<string[]> {
  const strings: string[] = [];
  const d = depthGuard('共享字符串');
  const local = localNames();
  let text: string[] | undefined; // the <si> being read
  let chars = 0; // its characters so far
  let into = 0; // the depth of the <t> being read (0: none)
  let runDepth = 0;
  const tooLong = () => formatError('sharedString', `共享字符串中有一项超过 ${MAX_ROW_BYTES} 个字符（Excel 的单元格最多 32767 个字符）`, { maxChars: MAX_ROW_BYTES });
  for await (const _ of parsed(tagBounded(input, MAX_ROW_BYTES, tooLong), '共享字符串', (sax) => {
    sax.on('opentag', (tag) => {
      if (into) throw formatError('nested', '共享字符串的 <t> 中有元素');
      const at = d.open();
      const name = local(tag, at);
      if (at === 2 && name === 'si') (text = []), (chars = 0);
      else if (text && name === 'r' && at === 3) runDepth = at;
      else if (text && name === 't' && (at === 3 || (at === 4 && runDepth === 3))) into = at;
    });
    sax.on('text', (s) => {
      if (!into) return;
      chars += s.length;
      if (chars > MAX_ROW_BYTES) throw tooLong(); // no cell could name it: its row would be too long
      text!.push(s);
    });
    sax.on('closetag', (tag) => {
      const at = d.close();
      const name = local(tag, 0);
      if (at === into) into = 0;
      else if (at === runDepth && name === 'r') runDepth = 0;
      else if (at === 2 && text) {
        strings.push(unescapeXstring(text.join('')));
        text = undefined;
      }
    });
  }, () => false)) void _;
  return strings;
}

const REL_NAMESPACES = new Set(['http://schemas.openxmlformats.org/officeDocument/2006/relationships', 'http://purl.oclc.org/ooxml/officeDocument/relationships']);

/** What xl/workbook.xml says that the import needs: its tabs in order and its date system. */
export interface WorkbookPart {
  sheets: { name?: string; rId?: string; state?: string }[];
  /** Dates count days from 1904-01-01 (`<workbookPr date1904="1"/>`, old Mac Excel), not from 1900. */
  date1904: boolean;
}

/** Reads xl/workbook.xml (`<sheets><sheet name state r:id>`, `<workbookPr date1904>`), under any prefix. */
export async function workbookPart(input: AsyncIterable<string>): Promise<WorkbookPart> {
  const part: WorkbookPart = { sheets: [], date1904: false };
  const d = depthGuard('工作簿');
  const local = localNames();
  let relId = 'r:id';
  let inSheets = false;
  for await (const _ of parsed(input, '工作簿', (sax) => {
    sax.on('opentag', (tag) => {
      const at = d.open();
      const name = local(tag, at);
      if (at === 1) {
        for (const [k, v] of Object.entries(tag.attributes)) if (k.startsWith('xmlns:') && REL_NAMESPACES.has(v)) relId = `${k.slice(6)}:id`;
      } else if (at === 2 && name === 'sheets') inSheets = true;
      else if (at === 3 && inSheets && name === 'sheet') {
        if (part.sheets.length >= MAX_WORKSHEETS) throw tooManyWorksheets();
        part.sheets.push({ name: tag.attributes.name, rId: tag.attributes[relId], state: tag.attributes.state });
      }
      else if (at === 2 && name === 'workbookPr') part.date1904 = ['1', 'true'].includes((tag.attributes.date1904 ?? '').trim());
    });
    sax.on('closetag', (tag) => {
      const at = d.close();
      if (at === 2 && local(tag, 0) === 'sheets') inSheets = false;
    });
  }, () => false)) void _;
  return part;
}

interface Cell {
  column: number;
  type: string;
  value?: string[]; // <v>
  inline?: string[]; // <is>: its <t> elements' text
}

/**
 * What a clerk sees in the cell: numbers as JavaScript prints the stored double (`1.50` is `1.5`;
 * dates are Excel's serial day numbers; an 18-digit ID stored as a number lost its last digits in
 * the spreadsheet already), booleans TRUE/FALSE, formulas by their cached result.
 */
function cellText(c: Cell, shared: readonly string[] | undefined, ref: () => string): string {
  const v = c.value?.join('');
  switch (c.type) {
    case 's': {
      if (v === undefined) return '';
      const digits = v.trim();
      const i = /^[0-9]{1,10}$/.test(digits) ? Number(digits) : -1;
      if (!shared || i < 0 || i >= shared.length) throw formatError('sharedString', `单元格 ${ref()} 引用了不存在的共享字符串「${v.slice(0, 20)}」`, { cell: ref() });
      return shared[i]!;
    }
    case 'inlineStr':
      return unescapeXstring(c.inline ? c.inline.join('') : (v ?? ''));
    case 'str':
    case 'e':
    case 'd':
      return unescapeXstring(v ?? '');
    case 'b': {
      const b = v?.trim().toLowerCase();
      // xsd:boolean: 1/0 (Excel), true/false (the Open XML SDK writes these)
      return b === '1' || b === 'true' ? 'TRUE' : b === '0' || b === 'false' ? 'FALSE' : (v ?? '');
    }
    default: {
      if (v === undefined) return '';
      const n = parseFloat(v);
      return Number.isFinite(n) ? String(n) : v.trim();
    }
  }
}

/** Column number (1-based) of an A1 reference's letters, or 0 when it is not one. */
function columnOf(ref: string): number {
  const m = /^([A-Z]{1,3})[1-9][0-9]{0,6}$/.exec(ref);
  if (!m) return 0;
  let n = 0;
  for (const ch of m[1]!) n = n * 26 + (ch.charCodeAt(0) - 64);
  return n;
}

/**
 * A worksheet's rows in groups, each row its cells' text by column up to its last cell with text (a
 * missing or empty cell before it is ''); every `<row>` is a row, empty ones too. Its XML is bounded
 * per row by rowBounded, and a row's text may not pass MAX_ROW_BYTES characters, its shared strings
 * counted as long as they are and the empty columns before a cell as one each
 * (ERR_IMPORT_LINE_MALFORMED); the text shared strings expand to, and FILLED_COLUMN_COST for each
 * filled column, is also given to `charge` (the import counts it towards what it may unpack). The shared strings must be complete when the first
 * cell needing one is read. Whatever follows the real `</sheetData>` is read through, not parsed.
 */
export async function* sheetRows(input: AsyncIterable<string>, shared: () => readonly string[] | undefined, charge: (chars: number) => void = () => {}): AsyncGenerator<TableRow[]> {
  const d = depthGuard('工作表');
  const local = localNames();
  let out: TableRow[] = [];
  let outCells = 0;
  let lastColumn = 0; // of the row being read
  let dataDepth = 0; // the depth of <sheetData> (0: not yet in it)
  let done = false;
  let line = 0; // the row being read (or the last one)
  let fields: string[] | undefined;
  let chars = 0; // cell text of the row so far
  let cell: Cell | undefined;
  let into: string[] | undefined; // the <v> or inline <t> being read
  let intoDepth = 0;
  let runDepth = 0;
  let inPhonetic = 0;
  let inlineDepth = 0;
  const ref = (): string => `${columnName(cell?.column ?? 0)}${line}`;
  const events = (sax: Sax) => {
    sax.on('opentag', (tag) => {
      if (done) return;
      if (into) throw formatError('nested', `单元格 ${ref()} 的值中有元素`, { cell: ref() });
      const at = d.open();
      const name = local(tag, at);
      if (!dataDepth) {
        if (name === 'sheetData' && at === 2) dataDepth = at;
        return;
      }
      if (at === dataDepth + 1 && name === 'row') {
        const r = tag.attributes.r;
        const n = r === undefined ? line + 1 : /^[1-9][0-9]{0,6}$/.test(r) ? Number(r) : NaN;
        if (!(n > line && n <= MAX_ROW)) throw formatError('row', `工作表第 ${line} 行之后的行号「${String(r).slice(0, 20)}」无效或不递增`, { row: String(r).slice(0, 20), after: line });
        line = n;
        fields = [];
        chars = 0;
        lastColumn = 0;
      } else if (at === dataDepth + 2 && name === 'c' && fields) {
        const r = tag.attributes.r;
        const column = r === undefined ? lastColumn + 1 : columnOf(r);
        if (!(column > lastColumn && column <= MAX_COLUMN)) throw formatError('cell', `工作表第 ${line} 行的单元格「${String(r).slice(0, 20)}」引用无效或不递增`, { cell: String(r).slice(0, 20), row: line });
        cell = { column, type: tag.attributes.t ?? 'n' };
        lastColumn = column;
      } else if (cell && at === dataDepth + 3) {
        if (name === 'v') (into = cell.value = []), (intoDepth = at);
        else if (name === 'is') (cell.inline = []), (inlineDepth = at);
      } else if (cell?.inline && inlineDepth) {
        if (name === 'rPh' && at === inlineDepth + 1) inPhonetic = at;
        else if (name === 'r' && at === inlineDepth + 1) runDepth = at;
        else if (name === 't' && !inPhonetic && (at === inlineDepth + 1 || (at === inlineDepth + 2 && runDepth === inlineDepth + 1))) (into = cell.inline), (intoDepth = at);
      }
    });
    // the row's text, as read and as its shared strings expand it: one long shared string named by
    // every cell must not make a row of gigabytes (for the report of rejected rows, or a record)
    const count = (n: number) => {
      chars += n;
      if (chars > MAX_ROW_BYTES) throw nodeError('ERR_IMPORT_LINE_MALFORMED', `工作表第 ${line} 行的单元格内容超过 ${MAX_ROW_BYTES} 个字符，不是可导入的文件；此行及以后的内容未读取 [ERR_IMPORT_LINE_MALFORMED]`, { maxRowChars: MAX_ROW_BYTES });
    };
    sax.on('text', (s) => {
      if (!into || done) return;
      count(s.length);
      into.push(s);
    });
    sax.on('closetag', (tag) => {
      if (done) return;
      const at = d.close();
      const name = local(tag, 0);
      if (!dataDepth) return;
      if (at === intoDepth) (into = undefined), (intoDepth = 0);
      else if (at === inPhonetic) inPhonetic = 0;
      else if (at === runDepth) runDepth = 0;
      else if (at === inlineDepth) inlineDepth = 0;
      else if (at === dataDepth + 2 && cell && fields) {
        const text = cellText(cell, cell.type === 's' ? shared() : undefined, ref);
        if (cell.type === 's') {
          count(text.length);
          charge(text.length); // expanded text counts as unpacked: one long string named by every cell of every row
        }
        if (text !== '') {
          // an empty cell (formatted, or a formula without a value) adds no column; the columns
          // before one with text are filled, and count as text of the row
          const gap = cell.column - 1 - fields.length;
          if (gap > 0) {
            count(gap);
            charge(gap * FILLED_COLUMN_COST); // a value at XFD in every row: 16,383 columns each
          }
          while (fields.length < cell.column - 1) fields.push('');
          fields.push(text);
        }
        cell = undefined;
      } else if (at === dataDepth + 1 && fields && name === 'row') {
        out.push({ line, fields });
        outCells += fields.length + 1;
        fields = undefined;
      } else if (at === dataDepth) done = true;
    });
  };
  const cutOff = () => {
    throw formatError('truncated', dataDepth ? '工作表在 </sheetData> 之前就结束了，文件不完整' : '工作表中没有 <sheetData>');
  };
  for await (const _ of parsed(rowBounded(input, () => done), '工作表', events, () => done, cutOff)) {
    if (out.length >= GROUP || outCells >= GROUP_CELLS) {
      for (let i = 0; i < out.length; i += GROUP) yield out.slice(i, i + GROUP);
      out = [];
      outCells = 0;
    }
  }
  if (out.length) yield out;
}

/** The A1 letters of column n (1-based). */
function columnName(n: number): string {
  let s = '';
  for (; n > 0; n = Math.floor((n - 1) / 26)) s = String.fromCharCode(65 + ((n - 1) % 26)) + s;
  return s;
}
