/**
 * Import parsers: turn an upload stream (a table — CSV or XLSX — or NDJSON) into record
 * inputs, with backpressure (nothing is read ahead of what the consumer has taken), and a byte
 * limit. Items come in groups, one array per chunk of input (one async step per chunk, not per
 * line). A line that cannot be parsed is yielded as an error item, not thrown.
 */
import { isUtf8 } from 'node:buffer';
import { Transform, type Readable } from 'node:stream';
import { getRecordType } from '../protocol/catalog.js';
import { csvRowGroups, MAX_ROW_BYTES } from './csv-rows.js';
import { gb18030ToUtf8, sniffUpload, type TextEncoding } from './import-decode.js';
import { tableSource, type TableInfo, type TableItem } from './import-table.js';
import { DEFAULT_UNPACK_LIMIT_BYTES, xlsxRowGroups } from './import-xlsx.js';
import { nodeError } from './errors.js';
import { serviceError } from '../protocol/service-errors.js';

export type SourceItem = { line: number; input: unknown } | { line: number; error: { field: string; code: string; message: string } } | TableItem;

/** Passes bytes through, failing with ERR_BODY_TOO_LARGE past `limit`. */
function byteLimit(limit: number): Transform {
  let bytes = 0;
  return new Transform({
    transform(chunk: Buffer, _enc, cb) {
      bytes += chunk.length;
      if (bytes > limit) cb(serviceError('ERR_BODY_TOO_LARGE', `import is larger than ${limit} bytes`, { limit }));
      else cb(null, chunk);
    },
  });
}

/**
 * The body through a byte limit. Plain pipe, not pipeline: on an error the request is left
 * unread (Node discards the rest after the response) rather than destroyed, so the client still
 * gets the JSON error.
 */
function limited(body: Readable, limit: number): Transform {
  const out = byteLimit(limit);
  body.on('error', (e) => out.destroy(e));
  out.on('error', () => body.unpipe(out));
  body.pipe(out);
  return out;
}

/**
 * NDJSON: one JSON record `{ type?, classification?, fields }` per line; `type` defaults to
 * `defaultType`. Lines are cut on the bytes, so a line that is not valid UTF-8 is rejected as such
 * (never decoded to U+FFFD), and a line longer than MAX_ROW_BYTES stops the import.
 */
export async function* ndjsonSource(body: Readable, limit: number, defaultType?: string): AsyncGenerator<SourceItem[]> {
  const input = limited(body, limit);
  let rest: Buffer = Buffer.alloc(0);
  let line = 0;
  const parseLine = (bytes: Buffer): SourceItem | undefined => {
    line++;
    if (!isUtf8(bytes)) return { line, error: { field: '', code: 'ERR_IMPORT_LINE_MALFORMED', message: 'the line is not valid UTF-8 (save the file as UTF-8)' } };
    let text = bytes.toString('utf8');
    if (line === 1 && text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    if (text.endsWith('\r')) text = text.slice(0, -1);
    if (text.trim() === '') return undefined;
    let v: unknown;
    try {
      v = JSON.parse(text);
    } catch (e) {
      return { line, error: { field: '', code: 'ERR_IMPORT_LINE_MALFORMED', message: `not JSON: ${(e as Error).message}` } };
    }
    if (typeof v !== 'object' || v === null || Array.isArray(v)) return { line, error: { field: '', code: 'ERR_IMPORT_LINE_MALFORMED', message: 'a line must be one JSON object { type, classification?, fields }' } };
    const rec = v as Record<string, unknown>;
    return { line, input: defaultType && rec.type === undefined ? { ...rec, type: defaultType } : rec };
  };
  for await (const chunk of input) {
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : (chunk as Buffer);
    const buf = rest.length === 0 ? bytes : Buffer.concat([rest, bytes]);
    const items: SourceItem[] = [];
    let start = 0;
    for (let nl = buf.indexOf(10); nl !== -1; nl = buf.indexOf(10, start)) {
      const item = parseLine(buf.subarray(start, nl));
      if (item) items.push(item);
      start = nl + 1;
    }
    rest = Buffer.from(buf.subarray(start));
    if (rest.length > MAX_ROW_BYTES) {
      throw nodeError('ERR_IMPORT_LINE_MALFORMED', `line ${line + 1} is longer than ${MAX_ROW_BYTES} bytes (no newline?); nothing after it was read`, { line: line + 1 });
    }
    if (items.length) yield items;
  }
  if (rest.length > 0) {
    const item = parseLine(rest);
    if (item) yield [item];
  }
}

/**
 * A table upload — CSV (UTF-8 with or without BOM, or GB18030/GBK) or an XLSX workbook, told by
 * its bytes (import-decode.ts) — of records of `type`: header mapping, cell normalisation and
 * spreadsheet row numbers as import-table.ts describes. `info` receives the header's columns and
 * warnings. A header lacking a required column fails the whole import up front
 * (ERR_IMPORT_HEADER_INVALID).
 */
export async function* csvSource(body: Readable, limit: number, type: string, opts: { encoding?: TextEncoding; sheet?: string; info?: TableInfo; unpackLimitBytes?: number } = {}): AsyncGenerator<SourceItem[]> {
  const t = getRecordType(type);
  const { detected, chunks } = await sniffUpload(limited(body, limit), opts.encoding);
  const info = opts.info ?? { warnings: [] };
  const rows = detected.format === 'xlsx' ? xlsxRowGroups(chunks, opts.sheet, { unpackLimitBytes: opts.unpackLimitBytes ?? DEFAULT_UNPACK_LIMIT_BYTES }, info) : csvRowGroups(detected.encoding === 'gb18030' ? gb18030ToUtf8(chunks) : chunks);
  yield* tableSource(rows, t, info, detected.format === 'xlsx');
}
