/**
 * What an upload is, told by its bytes rather than its name or media type: a ZIP (`PK\3\4`) is an
 * XLSX workbook (also when renamed .csv); text is UTF-8 (with or without BOM) when its first 64 KiB
 * are valid UTF-8 or nearly so (mostlyUtf8: a file with a damaged line stays UTF-8, and that line
 * is rejected as not UTF-8), else GB18030 (a superset of GBK and GB2312, what Chinese Excel saves as "CSV").
 * A declared charset (`text/csv; charset=gbk`, `credit import --encoding gbk`) wins over the sniff.
 */
import { isUtf8 } from 'node:buffer';
import iconv from 'iconv-lite';
import { serviceError } from '../protocol/service-errors.js';

export type TextEncoding = 'utf8' | 'gb18030';
export type Detected = { format: 'xlsx' } | { format: 'text'; encoding: TextEncoding };

const SNIFF_BYTES = 64 * 1024;
const CHARSETS: Record<string, TextEncoding> = { 'utf-8': 'utf8', utf8: 'utf8', gbk: 'gb18030', gb2312: 'gb18030', gb18030: 'gb18030', cp936: 'gb18030', 'x-gbk': 'gb18030' };

/** The encoding a charset name declares; throws ERR_UNSUPPORTED_MEDIA_TYPE for any other. */
export function declaredEncoding(charset: string | undefined): TextEncoding | undefined {
  if (charset === undefined) return undefined;
  const e = CHARSETS[charset.toLowerCase()];
  if (!e) throw serviceError('ERR_UNSUPPORTED_MEDIA_TYPE', `imports are read as UTF-8 or GB18030/GBK, not ${charset}: save the file as UTF-8`);
  return e;
}

/**
 * Whether text that is not valid UTF-8 is still UTF-8 with a few bad bytes (a damaged line: the
 * import rejects that line and says so) rather than GB18030: its valid multi-byte UTF-8 sequences
 * outnumber its invalid bytes four to one. GBK Chinese text almost never forms valid UTF-8
 * sequences (a GBK pair's second byte is rarely a continuation byte after a UTF-8 lead byte).
 */
function mostlyUtf8(b: Buffer): boolean {
  let valid = 0;
  let invalid = 0;
  for (let i = 0; i < b.length; ) {
    const c = b[i]!;
    if (c < 0x80) {
      i++;
      continue;
    }
    const n = c >= 0xc2 && c <= 0xdf ? 1 : c >= 0xe0 && c <= 0xef ? 2 : c >= 0xf0 && c <= 0xf4 ? 3 : -1;
    let ok = n > 0;
    for (let k = 1; ok && k <= n; k++) ok = i + k < b.length && (b[i + k]! & 0xc0) === 0x80;
    if (ok) {
      valid++;
      i += n + 1;
    } else {
      invalid++;
      i++;
    }
  }
  return valid > 4 * invalid;
}

/** True when `b` is UTF-8 but for a character cut at its end. */
function utf8Prefix(b: Buffer): boolean {
  for (let cut = 0; cut <= 3 && cut < b.length; cut++) if (isUtf8(b.subarray(0, b.length - cut))) return true;
  return b.length === 0;
}

/** Reads the first bytes, tells the format, and gives back every chunk (the peeked ones first). */
export async function sniffUpload(input: AsyncIterable<Buffer | string>, declared?: TextEncoding): Promise<{ detected: Detected; chunks: AsyncIterable<Buffer> }> {
  const it = input[Symbol.asyncIterator]();
  const head: Buffer[] = [];
  let size = 0;
  let done = false;
  while (size < SNIFF_BYTES) {
    const r = await it.next();
    if (r.done) {
      done = true;
      break;
    }
    const b = typeof r.value === 'string' ? Buffer.from(r.value, 'utf8') : r.value;
    head.push(b);
    size += b.length;
  }
  const first = Buffer.concat(head);
  const zip = first.length >= 4 && first[0] === 0x50 && first[1] === 0x4b && first[2] === 0x03 && first[3] === 0x04;
  const utf16 = first.length >= 2 && ((first[0] === 0xff && first[1] === 0xfe) || (first[0] === 0xfe && first[1] === 0xff));
  const bom = first.length >= 3 && first[0] === 0xef && first[1] === 0xbb && first[2] === 0xbf;
  const utf8 = bom || utf16 || (done ? isUtf8(first) : utf8Prefix(first)) || mostlyUtf8(first);
  const detected: Detected = zip ? { format: 'xlsx' } : { format: 'text', encoding: declared ?? (utf8 ? 'utf8' : 'gb18030') };
  async function* chunks(): AsyncGenerator<Buffer> {
    for (const b of head) yield b;
    if (done) return;
    for (let r = await it.next(); !r.done; r = await it.next()) yield typeof r.value === 'string' ? Buffer.from(r.value, 'utf8') : r.value;
  }
  return { detected, chunks: chunks() };
}

/** GB18030 bytes to UTF-8 bytes, chunk by chunk (a character cut between chunks is kept for the next). */
export async function* gb18030ToUtf8(input: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  const decoder = iconv.getDecoder('gb18030');
  for await (const b of input) {
    const s = decoder.write(b);
    if (s) yield Buffer.from(s, 'utf8');
  }
  const rest = decoder.end();
  if (rest) yield Buffer.from(rest, 'utf8');
}
