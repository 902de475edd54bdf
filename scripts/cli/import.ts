/**
 * `credit import`: streams a table (CSV in UTF-8 or GBK, or XLSX) or NDJSON file to a city node's
 * POST /v1/records/import, with a progress bar on stderr (a periodic line when stderr is not a
 * terminal), prints the summary, and writes the rejected rows: for a table, in the file's own
 * columns plus 错误说明 (F.rejected.csv, or .xlsx for a workbook; --report chooses), to fix and
 * import again; for NDJSON, one JSON line each (F.rejected.ndjson). Exit 0 when the node processed the file (even
 * with rejected lines: they are in the report), 1 on transport, auth or HTTP errors.
 */
import { closeSync, createReadStream, openSync, readFileSync, readSync, statSync, writeFileSync } from 'node:fs';
import { Transform } from 'node:stream';
import { Agent, request } from 'undici';
import { CreditError } from '../../protocol/errors.js';
import { nodeError } from '../../node/errors.js';
import { declaredEncoding } from '../../node/import-decode.js';
import { rejectedRowsCsv, rejectedRowsXlsx, XLSX_MEDIA_TYPE } from '../../node/import-report-file.js';
import type { ImportReport } from '../../node/import-service.js';
import { cliError } from '../errors.js';
import { command, optionalString, processIo, requireString, type Io } from './framework.js';

interface Report {
  importId: string;
  lines: number;
  accepted: number;
  duplicates: number;
  /** New versions of stored records (corrections); absent from nodes before issue 15. */
  versions?: number;
  rejected: number;
  truncated: boolean;
  rejectedLines: unknown[];
  /** Absent from a node that predates the bounded report. */
  rejectedLinesOmitted?: number;
  problemsTruncated?: number;
  /** Absent from a node that predates issue 14. */
  columns?: string[];
  warnings?: { message: string }[];
  duplicateLines?: number[];
  severityDerived?: number;
}

const mb = (n: number) => (n / 1048576).toFixed(1);

/**
 * Counts bytes and newlines as the file streams past, and reports progress. A workbook's bytes
 * are compressed: its rate is in MB/s, not lines.
 */
function progress(total: number, io: Io, tty: boolean, binary = false) {
  let bytes = 0;
  let lines = 0;
  const t0 = Date.now();
  let last = 0;
  const show = (final: boolean) => {
    const s = Math.max((Date.now() - t0) / 1000, 0.001);
    const pct = total > 0 ? Math.min(100, Math.floor((bytes / total) * 100)) : 100;
    const rate = binary ? `${(bytes / 1048576 / s).toFixed(2)} MB/s` : `${Math.round(lines / s).toLocaleString('en-US')} lines/s`;
    if (tty) {
      const bar = '#'.repeat(Math.floor(pct / 4)).padEnd(25, '.');
      io.stderr(`\r[${bar}] ${String(pct).padStart(3)}% ${mb(bytes)}/${mb(total)} MB ${rate}\x1b[K${final ? '\n' : ''}`);
    } else {
      io.stderr(`import: sent ${mb(bytes)} of ${mb(total)} MB (${pct}%), ${rate}\n`);
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

/** True when the file starts like a ZIP (an XLSX workbook, whatever its name). */
function isZip(file: string): boolean {
  const fd = openSync(file, 'r');
  try {
    const b = Buffer.alloc(4);
    return readSync(fd, b, 0, 4, 0) === 4 && b.readUInt32BE(0) === 0x504b0304;
  } finally {
    closeSync(fd);
  }
}

/** Where the rejected rows go by default: beside the file, in its own kind. */
function defaultReport(file: string, format: 'csv' | 'ndjson', xlsx: boolean): string {
  const base = file.replace(/\.(csv|txt|xlsx|ndjson|jsonl)$/i, '');
  return `${base}.rejected.${format === 'ndjson' ? 'ndjson' : xlsx ? 'xlsx' : 'csv'}`;
}

function formatOf(file: string, given: string | undefined): 'csv' | 'ndjson' {
  const f = given ?? (/\.(ndjson|jsonl)$/i.test(file) ? 'ndjson' : 'csv');
  if (f !== 'csv' && f !== 'ndjson') throw cliError('ERR_USAGE', '--format must be csv or ndjson');
  return f;
}

export const importCommand = command({
  name: 'import',
  summary: "upload a CSV or NDJSON file of credit records to a city node's import endpoint",
  usage: '--url URL --token TOKEN --file FILE [--type CF] [--format csv|ndjson] [--encoding gbk|utf-8] [--sheet NAME] [--report FILE] [--ca FILE]',
  help: [
    '  --url URL        the node, e.g. http://127.0.0.1:8480',
    '  --token TOKEN    a submitter (or admin) token from `credit node token`',
    '  --file FILE      a table — CSV (UTF-8 with or without BOM, or GBK) or XLSX, header row of',
    '                   Chinese labels as in `credit catalog template` — or NDJSON',
    '  --type CODE      record type (required for a table): XK, CF, YZSX, SXBZX, SXJL, NSXY_A',
    '  --format F       csv (any table, XLSX included) or ndjson (default: .ndjson/.jsonl → ndjson)',
    '  --encoding E     the CSV\'s encoding, gbk or utf-8 (default: told by the bytes)',
    "  --sheet NAME     XLSX: the worksheet, by name or by its tab's number from 1 (default the first tab Excel shows)",
    '  --report FILE    where to write the rejected rows: .csv or .xlsx (the file\'s columns plus',
    '                   错误说明: fix them and import that file again) or .ndjson',
    '                   (default FILE.rejected.csv, .xlsx for a workbook, .ndjson for NDJSON)',
    '  --ca FILE        PEM CA certificate for a node serving HTTPS with a private CA',
    'Exit status: 0 when the node processed the file (rejected lines are reported, not fatal);',
    '1 when the upload failed (node unreachable, token refused, HTTP error).',
  ].join('\n'),
  options: {
    url: { type: 'string' }, token: { type: 'string' }, file: { type: 'string' }, type: { type: 'string' }, format: { type: 'string' },
    encoding: { type: 'string' }, sheet: { type: 'string' }, report: { type: 'string' }, ca: { type: 'string' },
  },
  run: async ({ values, io }) => {
    const base = requireString(values, 'url').replace(/\/+$/, '');
    const token = requireString(values, 'token');
    const file = requireString(values, 'file');
    const type = optionalString(values, 'type');
    const format = formatOf(file, optionalString(values, 'format'));
    if (format === 'csv' && !type) throw cliError('ERR_USAGE', '--type is required for a CSV file');
    const encoding = optionalString(values, 'encoding');
    let charset = '';
    if (encoding !== undefined) {
      try {
        declaredEncoding(encoding);
      } catch {
        throw cliError('ERR_USAGE', '--encoding must be gbk, gb18030 or utf-8');
      }
      charset = `; charset=${encoding.toLowerCase()}`;
    }
    const sheet = optionalString(values, 'sheet');
    let size: number;
    let xlsx: boolean;
    try {
      size = statSync(file).size;
      xlsx = format === 'csv' && isZip(file);
    } catch (e) {
      throw nodeError('ERR_IMPORT_FILE_UNREADABLE', `cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
    const reportFile = optionalString(values, 'report') ?? defaultReport(file, format, xlsx);
    const caFile = optionalString(values, 'ca');
    const dispatcher = new Agent({ headersTimeout: 0, bodyTimeout: 0, ...(caFile ? { connect: { ca: readFileSync(caFile) } } : {}) });
    const p = progress(size, io, process.stderr.isTTY === true && io === processIo, xlsx);
    const body = createReadStream(file).pipe(p.counter);
    const query = new URLSearchParams({ ...(type ? { type } : {}), ...(sheet ? { sheet } : {}) }).toString();
    const url = `${base}/v1/records/import${query ? `?${query}` : ''}`;
    const contentType = format === 'ndjson' ? 'application/x-ndjson' : xlsx ? XLSX_MEDIA_TYPE : `text/csv${charset}`;
    let res;
    try {
      res = await request(url, {
        method: 'POST',
        body,
        dispatcher,
        headers: { authorization: `Bearer ${token}`, 'content-type': contentType, accept: 'application/json' },
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
    io.stdout(`import ${r.importId}: ${r.lines} lines: ${r.accepted} accepted, ${r.versions ?? 0} corrected (new versions), ${r.duplicates} duplicates, ${r.rejected} rejected\n`);
    for (const w of r.warnings ?? []) io.stdout(`注意：${w.message}\n`);
    if ((r.severityDerived ?? 0) > 0) io.stdout(`${r.severityDerived} records had no 失信程度: derived from 公示截止期 or the province default (marked severityDerived)\n`);
    if ((r.duplicateLines?.length ?? 0) > 0) io.stdout(`duplicates (already held) at rows ${r.duplicateLines!.slice(0, 20).join(', ')}${r.duplicates > 20 ? ` … (${r.duplicates} in all)` : ''}\n`);
    if (r.rejected > 0) {
      const asTable = /\.(csv|xlsx)$/i.test(reportFile);
      const rows = r.rejectedLines as ImportReport['rejectedLines'];
      if (/\.xlsx$/i.test(reportFile)) writeFileSync(reportFile, await rejectedRowsXlsx({ columns: r.columns, rejectedLines: rows }));
      else if (asTable) writeFileSync(reportFile, rejectedRowsCsv({ columns: r.columns, rejectedLines: rows }));
      else writeFileSync(reportFile, r.rejectedLines.map((l) => JSON.stringify(l)).join('\n') + '\n');
      io.stdout(`rejected lines written to ${reportFile}${r.truncated ? ` (the first ${r.rejectedLines.length} of ${r.rejected})` : ''}\n`);
      if (asTable) io.stdout(`fix the rows in ${reportFile} (the 错误说明 column says what is wrong) and import that file again\n`);
      if ((r.problemsTruncated ?? 0) > 0) io.stdout(`${r.problemsTruncated} more problems on those lines were not listed (at most 20 per line): fix the listed ones and import again\n`);
    }
    return 0;
  },
});
