/**
 * `credit import`: streams a CSV or NDJSON file to a city node's POST /v1/records/import, with a
 * progress bar on stderr (a periodic line when stderr is not a terminal), prints the summary and
 * writes the rejected lines to F.rejected.ndjson. Exit 0 when the node processed the file (even
 * with rejected lines: they are in the report), 1 on transport, auth or HTTP errors.
 */
import { createReadStream, readFileSync, statSync, writeFileSync } from 'node:fs';
import { Transform } from 'node:stream';
import { Agent, request } from 'undici';
import { CreditError } from '../../protocol/errors.js';
import { nodeError } from '../../node/errors.js';
import { cliError } from '../errors.js';
import { command, optionalString, processIo, requireString, type Io } from './framework.js';

interface Report {
  importId: string;
  lines: number;
  accepted: number;
  duplicates: number;
  rejected: number;
  truncated: boolean;
  rejectedLines: unknown[];
  /** Absent from a node that predates the bounded report. */
  rejectedLinesOmitted?: number;
  problemsTruncated?: number;
}

const mb = (n: number) => (n / 1048576).toFixed(1);

/** Counts bytes and newlines as the file streams past, and reports progress. */
function progress(total: number, io: Io, tty: boolean) {
  let bytes = 0;
  let lines = 0;
  const t0 = Date.now();
  let last = 0;
  const show = (final: boolean) => {
    const s = Math.max((Date.now() - t0) / 1000, 0.001);
    const pct = total > 0 ? Math.min(100, Math.floor((bytes / total) * 100)) : 100;
    const rate = Math.round(lines / s).toLocaleString('en-US');
    if (tty) {
      const bar = '#'.repeat(Math.floor(pct / 4)).padEnd(25, '.');
      io.stderr(`\r[${bar}] ${String(pct).padStart(3)}% ${mb(bytes)}/${mb(total)} MB ${rate} lines/s\x1b[K${final ? '\n' : ''}`);
    } else {
      io.stderr(`import: sent ${mb(bytes)} of ${mb(total)} MB (${pct}%), ${rate} lines/s\n`);
    }
  };
  const counter = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      bytes += chunk.length;
      for (let i = chunk.indexOf(10); i !== -1; i = chunk.indexOf(10, i + 1)) lines++;
      const now = Date.now();
      if (now - last >= (tty ? 200 : 2000)) {
        last = now;
        show(false);
      }
      cb(null, chunk);
    },
  });
  return { counter, done: () => show(true) };
}

function formatOf(file: string, given: string | undefined): 'csv' | 'ndjson' {
  const f = given ?? (/\.(ndjson|jsonl)$/i.test(file) ? 'ndjson' : 'csv');
  if (f !== 'csv' && f !== 'ndjson') throw cliError('ERR_USAGE', '--format must be csv or ndjson');
  return f;
}

export const importCommand = command({
  name: 'import',
  summary: "upload a CSV or NDJSON file of credit records to a city node's import endpoint",
  usage: '--url URL --token TOKEN --file FILE [--type CF] [--format csv|ndjson] [--report FILE] [--ca FILE]',
  help: [
    '  --url URL        the node, e.g. http://127.0.0.1:8480',
    '  --token TOKEN    a submitter (or admin) token from `credit node token`',
    '  --file FILE      CSV (header row of field names or Chinese labels) or NDJSON, UTF-8, BOM allowed',
    '  --type CODE      record type (required for CSV): XK, CF, YZSX, SXBZX, SXJL, NSXY_A',
    '  --format F       csv or ndjson (default: from the file name, .ndjson/.jsonl → ndjson)',
    '  --report FILE    where to write rejected lines (default FILE.rejected.ndjson)',
    '  --ca FILE        PEM CA certificate for a node serving HTTPS with a private CA',
    'Exit status: 0 when the node processed the file (rejected lines are reported, not fatal);',
    '1 when the upload failed (node unreachable, token refused, HTTP error).',
  ].join('\n'),
  options: { url: { type: 'string' }, token: { type: 'string' }, file: { type: 'string' }, type: { type: 'string' }, format: { type: 'string' }, report: { type: 'string' }, ca: { type: 'string' } },
  run: async ({ values, io }) => {
    const base = requireString(values, 'url').replace(/\/+$/, '');
    const token = requireString(values, 'token');
    const file = requireString(values, 'file');
    const type = optionalString(values, 'type');
    const format = formatOf(file, optionalString(values, 'format'));
    if (format === 'csv' && !type) throw cliError('ERR_USAGE', '--type is required for a CSV file');
    const reportFile = optionalString(values, 'report') ?? `${file}.rejected.ndjson`.replace(/\.(csv|ndjson|jsonl)\.rejected\.ndjson$/i, '.rejected.ndjson');
    let size: number;
    try {
      size = statSync(file).size;
    } catch (e) {
      throw nodeError('ERR_IMPORT_FILE_UNREADABLE', `cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
    const caFile = optionalString(values, 'ca');
    const dispatcher = new Agent({ headersTimeout: 0, bodyTimeout: 0, ...(caFile ? { connect: { ca: readFileSync(caFile) } } : {}) });
    const p = progress(size, io, process.stderr.isTTY === true && io === processIo);
    const body = createReadStream(file).pipe(p.counter);
    const url = `${base}/v1/records/import${type ? `?type=${encodeURIComponent(type)}` : ''}`;
    let res;
    try {
      res = await request(url, {
        method: 'POST',
        body,
        dispatcher,
        headers: { authorization: `Bearer ${token}`, 'content-type': format === 'csv' ? 'text/csv; charset=utf-8' : 'application/x-ndjson' },
      });
    } catch (e) {
      body.destroy();
      await dispatcher.close();
      throw nodeError('ERR_IMPORT_UNREACHABLE', `cannot reach ${base}: ${(e as Error).message}`);
    }
    const text = await res.body.text();
    await dispatcher.close();
    p.done();
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw nodeError('ERR_IMPORT_BAD_RESPONSE', `HTTP ${res.statusCode} with a body that is not JSON`);
    }
    if (res.statusCode !== 200) {
      const e = json as { code?: unknown; message?: unknown; details?: unknown };
      if (typeof e.code === 'string' && typeof e.message === 'string') throw new CreditError(e.code, `${e.message} (HTTP ${res.statusCode})`, e.details);
      throw nodeError('ERR_IMPORT_BAD_RESPONSE', `HTTP ${res.statusCode}`);
    }
    const r = json as Report;
    if (typeof r.accepted !== 'number' || !Array.isArray(r.rejectedLines)) throw nodeError('ERR_IMPORT_BAD_RESPONSE', 'the answer is not an import report');
    io.stdout(`import ${r.importId}: ${r.lines} lines: ${r.accepted} accepted, ${r.duplicates} duplicates, ${r.rejected} rejected\n`);
    if (r.rejected > 0) {
      writeFileSync(reportFile, r.rejectedLines.map((l) => JSON.stringify(l)).join('\n') + '\n');
      io.stdout(`rejected lines written to ${reportFile}${r.truncated ? ` (the first ${r.rejectedLines.length} of ${r.rejected})` : ''}\n`);
      if ((r.problemsTruncated ?? 0) > 0) io.stdout(`${r.problemsTruncated} more problems on those lines were not listed (at most 20 per line): fix the listed ones and import again\n`);
    }
    return 0;
  },
});
