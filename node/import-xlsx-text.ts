/**
 * Rewrites of a worksheet's and the shared strings' XML text before exceljs 4.4's streaming reader
 * parses it (import-xlsx-reader.ts), for three places where that reader silently changed a clerk's
 * text:
 * - an inline string of several runs (`<is><r><t>湘</t></r><r><t>〔2026〕1号</t></r></is>`, written
 *   by streaming writers such as POI's SXSSF for rich text) kept only its last run ("〔2026〕1号");
 * - a phonetic run (`<rPh><t>とうきょう</t></rPh>`, Excel's reading aid for East Asian input) took
 *   the place of the text it annotates, in shared strings and in inline strings;
 * - an inline string's text was decoded twice (by the SAX parser, then by utils.xmlDecode), so a
 *   cell holding the characters `&lt;` came out as `<`.
 * Each `<is>` element becomes `<is><t>…</t></is>` holding its runs' text, phonetic runs left out,
 * escaped once more for the second decoding; `<rPh>` elements in shared strings are dropped. Text
 * outside these elements passes through unchanged. Works on a stream of text chunks: an element
 * cut between chunks is held until its end arrives (elements are one cell; one longer than
 * MAX_ELEMENT_CHARS fails the read).
 */
import { nodeError } from './errors.js';

/** Characters one held `<is>` or `<rPh>` element may have (a cell's text is limited to 32,767 by Excel). */
export const MAX_ELEMENT_CHARS = 1 << 20;

const ENTITIES: Record<string, string> = { lt: '<', gt: '>', amp: '&', apos: "'", quot: '"' };

/** XML character data as the SAX parser would give it (the five named entities and character references). */
function xmlText(raw: string): string {
  return raw.replace(/&(#x[0-9a-fA-F]+|#[0-9]+|[a-z]+);/g, (m, e: string) => {
    if (e[0] !== '#') return ENTITIES[e] ?? m;
    const cp = e[1] === 'x' ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10);
    return cp <= 0x10ffff ? String.fromCodePoint(cp) : m;
  });
}

const escapeXml = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

const PHONETIC = /<rPh\b[^>]*?(?:\/>|>[\s\S]*?<\/rPh>)/g;

/** One `<is>…</is>` element as a single run of its text, ready for exceljs's two decodings. */
export function mergedInlineString(element: string): string {
  const body = element.replace(PHONETIC, '');
  let text = '';
  for (const m of body.matchAll(/<t(?:\s[^>]*)?>([\s\S]*?)<\/t>/g)) text += xmlText(m[1]!);
  return `<is><t xml:space="preserve">${escapeXml(escapeXml(text))}</t></is>`;
}

/**
 * `input` with each element `name` (not nested in itself) replaced by `rewrite(element)`. A
 * self-closing element is passed to `rewrite` too.
 */
export async function* rewriteElements(input: AsyncIterable<string>, name: string, rewrite: (element: string) => string): AsyncGenerator<string> {
  const open = new RegExp(`<${name}(?=[\\s/>])`, 'g');
  const close = `</${name}>`;
  let held = '';
  for await (const chunk of input) {
    let text = held + chunk;
    held = '';
    let out = '';
    for (;;) {
      open.lastIndex = 0;
      const start = text.search(open);
      if (start < 0) {
        // keep a tail that could be the start of `<name` cut by the chunk boundary
        const cut = text.lastIndexOf('<');
        if (cut >= 0 && text.length - cut <= name.length + 1) {
          out += text.slice(0, cut);
          held = text.slice(cut);
        } else out += text;
        break;
      }
      out += text.slice(0, start);
      const tagEnd = text.indexOf('>', start);
      if (tagEnd < 0) {
        held = text.slice(start);
        break;
      }
      if (text[tagEnd - 1] === '/') {
        out += rewrite(text.slice(start, tagEnd + 1));
        text = text.slice(tagEnd + 1);
        continue;
      }
      const end = text.indexOf(close, tagEnd);
      if (end < 0) {
        held = text.slice(start);
        break;
      }
      out += rewrite(text.slice(start, end + close.length));
      text = text.slice(end + close.length);
    }
    if (held.length > MAX_ELEMENT_CHARS) throw nodeError('ERR_IMPORT_FORMAT', `工作簿中有一个单元格的文本超过 ${MAX_ELEMENT_CHARS} 个字符，不是可导入的文件 [ERR_IMPORT_FORMAT]`, { maxElementChars: MAX_ELEMENT_CHARS });
    if (out) yield out;
  }
  if (held) yield held;
}

/** A worksheet's XML text with its inline strings made whole (mergedInlineString). */
export function worksheetText(input: AsyncIterable<string>): AsyncGenerator<string> {
  return rewriteElements(input, 'is', mergedInlineString);
}

/** The shared strings' XML text without phonetic runs. */
export function sharedStringsText(input: AsyncIterable<string>): AsyncGenerator<string> {
  return rewriteElements(input, 'rPh', () => '');
}
