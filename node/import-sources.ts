/**
 * Import parsers: turn an upload stream (CSV or NDJSON, UTF-8 with or without BOM) into record
 * inputs, with backpressure (nothing is read ahead of what the consumer has taken), and a byte
 * limit. Items come in groups, one array per chunk of input (one async step per chunk, not per
 * line). A line that cannot be parsed is yielded as an error item, not thrown.
 */
import { Transform, type Readable } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import { fieldByNameOrLabel, getRecordType } from '../protocol/catalog.js';
import { csvRowGroups } from './csv-rows.js';
import { nodeError } from './errors.js';
import { serviceError } from '../protocol/service-errors.js';

export type SourceItem = { line: number; input: unknown } | { line: number; error: { field: string; code: string; message: string } };

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

/** NDJSON: one JSON record `{ type?, classification?, fields }` per line; `type` defaults to `defaultType`. */
export async function* ndjsonSource(body: Readable, limit: number, defaultType?: string): AsyncGenerator<SourceItem[]> {
  const input = limited(body, limit);
  const decoder = new StringDecoder('utf8');
  let rest = '';
  let line = 0;
  const parseLine = (text: string): SourceItem | undefined => {
    line++;
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
    const text = rest + decoder.write(chunk as Buffer);
    const parts = text.split('\n');
    rest = parts.pop()!;
    const items: SourceItem[] = [];
    for (const p of parts) {
      const item = parseLine(p);
      if (item) items.push(item);
    }
    if (items.length) yield items;
  }
  const tail = rest + decoder.end();
  if (tail !== '') {
    const item = parseLine(tail);
    if (item) yield [item];
  }
}

/**
 * CSV: a header row of catalog field names or their Chinese labels, then one record per row, all
 * of `type`. An unknown header column fails the whole import up front (ERR_IMPORT_HEADER_INVALID).
 */
export async function* csvSource(body: Readable, limit: number, type: string): AsyncGenerator<SourceItem[]> {
  const t = getRecordType(type);
  let header: string[] | undefined;
  for await (const rows of csvRowGroups(limited(body, limit))) {
    const items: SourceItem[] = [];
    for (const row of rows) {
      if ('error' in row) {
        items.push({ line: row.line, error: { field: '', code: 'ERR_IMPORT_LINE_MALFORMED', message: `not a well-formed CSV row: ${row.error}` } });
        continue;
      }
      const record = row.fields;
      if (!header) {
        const unknown: string[] = [];
        header = record.map((h) => {
          const f = fieldByNameOrLabel(t, h.trim());
          if (!f) unknown.push(h);
          return f?.name ?? h;
        });
        if (unknown.length) throw nodeError('ERR_IMPORT_HEADER_INVALID', `CSV columns ${unknown.map((u) => JSON.stringify(u)).join(', ')} are not fields of ${t.code} (${t.name})`, { columns: unknown, type: t.code });
        continue;
      }
      if (record.length !== header.length) {
        items.push({ line: row.line, error: { field: '', code: 'ERR_IMPORT_LINE_MALFORMED', message: `row has ${record.length} columns, the header has ${header.length}` } });
        continue;
      }
      const fields: Record<string, string> = {};
      for (let i = 0; i < header.length; i++) if (record[i] !== '') fields[header[i]!] = record[i]!;
      items.push({ line: row.line, input: { type: t.code, fields } });
    }
    if (items.length) yield items;
  }
}
