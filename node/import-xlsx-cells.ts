/**
 * The cells of an XLSX workbook: its shared strings (xl/sharedStrings.xml) and a worksheet's rows,
 * read from SAX events (saxes, exceljs's own XML parser) by element position, as ECMA-376 Part 1
 * places them (§18.4 shared strings, §18.3.1 sheetData). This replaces exceljs 4.4's worksheet and
 * shared-strings readers, which took text from anywhere inside a cell:
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
 * (ERR_IMPORT_FORMAT, `details.reason`). What a row may cost is bounded before this (rowBounded in
 * import-xlsx-reader.ts) and again here (MAX_ROW_CHARS of cell text).
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

/** Deepest element nesting read (Excel's worksheets and shared strings nest ≤ 5 deep before the rows end). */
export const MAX_DEPTH = 64;
/** Rows a group holds (the import reads a group at a time). */
const GROUP = 256;
/** Excel's last row and column (XFD). */
const MAX_ROW = 1_048_576;
const MAX_COLUMN = 16_384;

type Reason = 'xml' | 'truncated' | 'nested' | 'depth' | 'row' | 'cell' | 'sharedString';

function formatError(reason: Reason, what: string, details: Record<string, unknown> = {}): Error {
  return nodeError('ERR_IMPORT_FORMAT', `${what}，不是 Excel 写出的工作簿；请用 Excel 或 WPS 打开后另存为 .xlsx 再导入 [ERR_IMPORT_FORMAT]`, { reason, ...details });
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
    if (stop()) continue;
    sax.write(chunk);
    if (failure) throw failure;
    yield;
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
  let into = 0; // the depth of the <t> being read (0: none)
  let runDepth = 0;
  for await (const _ of parsed(input, '共享字符串', (sax) => {
    sax.on('opentag', (tag) => {
      if (into) throw formatError('nested', '共享字符串的 <t> 中有元素');
      const at = d.open();
      const name = local(tag, at);
      if (at === 2 && name === 'si') text = [];
      else if (text && name === 'r' && at === 3) runDepth = at;
      else if (text && name === 't' && (at === 3 || (at === 4 && runDepth === 3))) into = at;
    });
    sax.on('text', (s) => {
      if (into) text!.push(s);
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

interface Cell {
  column: number;
  type: string;
  value?: string[]; // <v>
  inline?: string[]; // <is>: its <t> elements' text
}

/** What a clerk sees in the cell: numbers as written (dates as Excel's serial day numbers), booleans TRUE/FALSE, formulas by their cached result. */
function cellText(c: Cell, shared: readonly string[] | undefined, ref: () => string): string {
  const v = c.value?.join('');
  switch (c.type) {
    case 's': {
      if (v === undefined) return '';
      const i = Number(v.trim());
      if (!Number.isInteger(i) || !shared || i < 0 || i >= shared.length) throw formatError('sharedString', `单元格 ${ref()} 引用了不存在的共享字符串「${v.slice(0, 20)}」`, { cell: ref() });
      return shared[i]!;
    }
    case 'inlineStr':
      return unescapeXstring(c.inline ? c.inline.join('') : (v ?? ''));
    case 'str':
    case 'e':
    case 'd':
      return unescapeXstring(v ?? '');
    case 'b':
      return v === undefined ? '' : Number(v) !== 0 ? 'TRUE' : 'FALSE';
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
 * A worksheet's rows in groups, each row its cells' text by column (a missing cell is ''); every
 * `<row>` is a row, empty ones too. A row's text may not pass MAX_ROW_BYTES characters, its shared
 * strings counted as long as they are (ERR_IMPORT_LINE_MALFORMED). The shared strings must be complete when the first cell needing
 * one is read. Whatever follows `</sheetData>` is read through, not parsed.
 */
export async function* sheetRows(input: AsyncIterable<string>, shared: () => readonly string[] | undefined): AsyncGenerator<TableRow[]> {
  const d = depthGuard('工作表');
  const local = localNames();
  let out: TableRow[] = [];
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
      } else if (at === dataDepth + 2 && name === 'c' && fields) {
        const r = tag.attributes.r;
        const column = r === undefined ? fields.length + 1 : columnOf(r);
        if (!(column > fields.length && column <= MAX_COLUMN)) throw formatError('cell', `工作表第 ${line} 行的单元格「${String(r).slice(0, 20)}」引用无效或不递增`, { cell: String(r).slice(0, 20), row: line });
        cell = { column, type: tag.attributes.t ?? 'n' };
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
      if (!into) return;
      count(s.length);
      into.push(s);
    });
    sax.on('closetag', (tag) => {
      const at = d.close();
      const name = local(tag, 0);
      if (!dataDepth) return;
      if (at === intoDepth) (into = undefined), (intoDepth = 0);
      else if (at === inPhonetic) inPhonetic = 0;
      else if (at === runDepth) runDepth = 0;
      else if (at === inlineDepth) inlineDepth = 0;
      else if (at === dataDepth + 2 && cell && fields) {
        const text = cellText(cell, cell.type === 's' ? shared() : undefined, ref);
        if (cell.type === 's') count(text.length);
        while (fields.length < cell.column - 1) fields.push('');
        fields.push(text);
        cell = undefined;
      } else if (at === dataDepth + 1 && fields && name === 'row') {
        out.push({ line, fields });
        fields = undefined;
      } else if (at === dataDepth) done = true;
    });
  };
  const cutOff = () => {
    throw formatError('truncated', dataDepth ? '工作表在 </sheetData> 之前就结束了，文件不完整' : '工作表中没有 <sheetData>');
  };
  for await (const _ of parsed(input, '工作表', events, () => done, cutOff)) {
    while (out.length >= GROUP) {
      yield out.slice(0, GROUP);
      out = out.slice(GROUP);
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
