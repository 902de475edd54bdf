/**
 * Import uploads that are not clean UTF-8 (POST /v1/records/import): BOMs (UTF-8 once, twice,
 * mid-file; UTF-16 LE/BE), invalid bytes inside a field, a multi-byte character cut in half,
 * overlong encodings, a GBK/Latin-1 file, a declared non-UTF-8 charset, NUL bytes, and NDJSON lines
 * with the same faults, 100k-deep nesting or no newline for megabytes. Each bad line is rejected by
 * line with ERR_IMPORT_LINE_MALFORMED and the good ones stored; a file that cannot be read at all
 * is refused with a clear code. Never a 500, and no U+FFFD stored in place of the sender's bytes.
 */
import t from 'tap';
import { nodeFields } from '../helpers/at-rest.js';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { nested } from './hostile-support.js';
import { nodeFixture, record } from '../node/app-fixture.js';

const CF = record('CF').fields as Record<string, string | number>;
const KEYS = Object.keys(CF);
const HEAD = Buffer.from(KEYS.join(',') + '\n');
let n = 0;
/** One CSV row of the CF example, fields replaced by `over` (raw bytes allowed). */
function row(over: Record<string, string | Buffer> = {}): Buffer {
  const cells = KEYS.map((k) => {
    const v = over[k] ?? (k === 'decisionNo' ? `U-${n++}` : String(CF[k]));
    return typeof v === 'string' ? Buffer.from(/[,"\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v) : v;
  });
  const parts: Buffer[] = [];
  cells.forEach((c, i) => parts.push(...(i ? [Buffer.from(','), c] : [c])));
  return Buffer.concat([...parts, Buffer.from('\n')]);
}
const name = (bytes: number[]) => Buffer.concat([Buffer.from('测试'), Buffer.from(bytes), Buffer.from('公司')]);

t.test('CSV: encodings and byte faults', async (t) => {
  const f = await nodeFixture(t);
  const h = { ...(await f.auth('submitter', 'public')), 'content-type': 'text/csv' };
  const post = (body: Buffer, headers: Record<string, string> = h) => f.app.inject({ method: 'POST', url: '/v1/records/import?type=CF', headers, payload: body });
  const bom = Buffer.from([0xef, 0xbb, 0xbf]);

  const ok = await post(Buffer.concat([bom, HEAD, row()]));
  t.match(ok.json(), { lines: 1, accepted: 1, rejected: 0 }, 'a UTF-8 BOM is skipped');

  const cases: [string, Buffer, number][] = [
    ['invalid byte 0xFF in a name', row({ subjectName: name([0xff]) }), 2],
    ['a lone continuation byte', row({ content: name([0x80]) }), 2],
    ['a 3-byte character cut after 2 bytes', row({ subjectName: name([0xe6, 0xb5]) }), 2],
    ['an overlong "/" (C0 AF)', row({ content: name([0xc0, 0xaf]) }), 2],
    ['a UTF-16 surrogate encoded in UTF-8 (ED A0 80)', row({ content: name([0xed, 0xa0, 0x80]) }), 2],
    ['a Latin-1 / GBK name', row({ subjectName: Buffer.from([0xb2, 0xe2, 0xca, 0xd4]) }), 2],
  ];
  for (const [what, bad, line] of cases) {
    const before = (await f.db('node_records')).length;
    const res = await post(Buffer.concat([HEAD, bad, row()]));
    t.equal(res.statusCode, 200, what);
    t.match(res.json(), { lines: 2, accepted: 1, rejected: 1 }, `${what}: that line rejected, the next stored`);
    t.match(res.json().rejectedLines, [{ line, errors: [{ code: 'ERR_IMPORT_LINE_MALFORMED', message: /UTF-8/ }] }], `${what}: by line, saying why`);
    t.equal((await f.db('node_records')).length, before + 1);
  }
  const stored = await f.db('node_records').select('id', 'fields');
  t.notOk(stored.some((r: { id: string; fields: string }) => JSON.stringify(nodeFields(f.db, r)).includes('\ufffd')), 'no replacement character was stored for the sender\'s bytes');

  // A second BOM is U+FEFF, which the validator trims like any white space: the data is intact.
  const twice = await post(Buffer.concat([bom, bom, HEAD, row()]));
  t.match(twice.json(), { lines: 1, accepted: 1 }, 'two BOMs: the second is trimmed from the first header cell');
  const mid = await post(Buffer.concat([HEAD, bom, row({ subjectName: 'BOM测试公司' }), row()]));
  t.match(mid.json(), { lines: 2, accepted: 2 }, 'a BOM at the start of a later line (files concatenated)');
  const names = (await f.db('node_records').select('id', 'fields')).map((r: { id: string; fields: string }) => nodeFields(f.db, r).subjectName as string);
  t.ok(names.includes('BOM测试公司') && !names.some((x) => x.includes('\ufeff')), 'stored without the BOM');

  for (const [what, bytes] of [['UTF-16 LE', Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(HEAD.toString() + row().toString(), 'utf16le')])], ['UTF-16 BE', Buffer.concat([Buffer.from([0xfe, 0xff]), Buffer.from(HEAD.toString() + row().toString(), 'utf16le').swap16()])]] as const) {
    const res = await post(bytes);
    t.equal(res.statusCode, 422, `${what} file`);
    t.equal(res.json().code, 'ERR_IMPORT_HEADER_INVALID');
    t.match(res.json().message, /UTF-16.*UTF-8/, `${what}: the message says what to do`);
  }
  const badHead = await post(Buffer.concat([Buffer.from([0xb2, 0xe2]), HEAD, row()]));
  t.equal(badHead.statusCode, 422, 'a header row that is not UTF-8');
  t.equal(badHead.json().code, 'ERR_IMPORT_HEADER_INVALID');
  t.match(badHead.json().message, /UTF-8/);
  t.notOk(JSON.stringify(badHead.json()).includes(String(CF.uscc)), 'the first data row is not taken for the header (no data in the error)');

  const latin = await post(Buffer.concat([HEAD, row()]), { ...h, 'content-type': 'text/csv; charset=latin1' });
  t.equal(latin.statusCode, 415, 'a declared charset other than UTF-8 or GB18030/GBK (issue 14 takes GBK)');
  t.equal(latin.json().code, 'ERR_UNSUPPORTED_MEDIA_TYPE');
  t.equal((await post(Buffer.concat([HEAD, row()]), { ...h, 'content-type': 'text/csv; charset="UTF-8"' })).statusCode, 200, 'charset=UTF-8 is fine');

  const nul = await post(Buffer.concat([HEAD, row({ content: Buffer.from('a\u0000b') })]));
  t.match(nul.json(), { accepted: 1 }, 'a NUL byte is valid UTF-8 text: stored as sent');
  t.equal((await f.app.inject({ url: '/healthz' })).statusCode, 200);
});

t.test('NDJSON: encodings, nesting and endless lines', async (t) => {
  const f = await nodeFixture(t);
  const h = { ...(await f.auth('submitter', 'public')), 'content-type': 'application/x-ndjson' };
  const post = (body: Buffer | string) => f.app.inject({ method: 'POST', url: '/v1/records/import?type=CF', headers: h, payload: body });
  const line = (over: Record<string, unknown> = {}) => JSON.stringify(record('CF', { decisionNo: `J-${n++}`, ...over })) + '\n';
  const withBytes = (bytes: number[]) => {
    const text = line({ subjectName: 'MARK' });
    const i = text.indexOf('MARK');
    return Buffer.concat([Buffer.from(text.slice(0, i)), Buffer.from(bytes), Buffer.from(text.slice(i + 4))]);
  };
  const res = await post(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(line()), withBytes([0xff, 0xfe]), withBytes([0xe6, 0xb5]), Buffer.from(line({ subjectName: '\ud800x' })), Buffer.from(nested(100_000, 'object') + '\n'), Buffer.from(line())]));
  t.equal(res.statusCode, 200);
  t.match(res.json(), { lines: 6, accepted: 2, rejected: 4 });
  t.match(res.json().rejectedLines, [
    { line: 2, errors: [{ code: 'ERR_IMPORT_LINE_MALFORMED', message: /UTF-8/ }] },
    { line: 3, errors: [{ code: 'ERR_IMPORT_LINE_MALFORMED', message: /UTF-8/ }] },
    { line: 4, errors: [{ code: 'ERR_FIELD_TYPE' }] },
    { line: 5, errors: [{ code: 'ERR_FIELD_UNKNOWN' }] },
  ], 'invalid bytes and a lone surrogate by line; the deep line is an object without the fields');
  const endless = await post('{"fields":"' + 'x'.repeat(3 * 1024 * 1024));
  t.equal(endless.statusCode, 422, 'a line running past 1 MiB stops the import');
  t.equal(endless.json().code, 'ERR_IMPORT_LINE_MALFORMED');
  t.equal((await f.app.inject({ url: '/healthz' })).statusCode, 200);
});

t.test('a report that cannot grow without bound: 1,000 lines × 1,000 unknown fields (issue 13 item 8)', async (t) => {
  const f = await nodeFixture(t);
  const h = { ...(await f.auth('submitter', 'public')), 'content-type': 'application/x-ndjson' };
  const base = record('CF').fields;
  const longName = 'k'.repeat(5000);
  const lines: string[] = [];
  for (let i = 0; i < 1000; i++) {
    const fields: Record<string, unknown> = { ...base, decisionNo: `H-${i}` };
    for (let k = 0; k < 1000; k++) fields[`unknown_${k}`] = 'x';
    if (i === 0) fields[longName] = 'y'; // a field name of 5,000 characters is not echoed whole
    lines.push(JSON.stringify({ type: 'CF', fields }));
  }
  lines.push(JSON.stringify(record('CF', { decisionNo: 'H-good' })));
  const res = await f.app.inject({ method: 'POST', url: '/v1/records/import', headers: h, payload: lines.join('\n') + '\n' });
  t.equal(res.statusCode, 200);
  const bytes = Buffer.byteLength(res.body);
  t.ok(bytes <= 1024 * 1024, `the report is at most 1 MiB (${bytes} bytes; it was 91 MB)`);
  const r = res.json();
  t.match(r, { lines: 1001, accepted: 1, rejected: 1000, truncated: true }, 'every line counted, the good one stored');
  t.ok(r.rejectedLines.length > 0 && r.rejectedLines.length < 1000, `some rejected lines listed (${r.rejectedLines.length}), not all`);
  t.equal(r.rejectedLinesOmitted, 1000 - r.rejectedLines.length, 'the lines left out are counted');
  for (const l of r.rejectedLines) {
    t.ok(l.errors.length <= 20, `line ${l.line}: at most 20 problems listed`);
    if (l.errors.length > 20) break;
  }
  t.equal(r.rejectedLines[0].errors.length, 20);
  t.equal(r.rejectedLines[0].problemsTruncated, 1001 - 20, 'line 1: the problems cut are counted');
  t.equal(r.problemsTruncated, r.rejectedLines.reduce((n: number, l: { problemsTruncated?: number }) => n + (l.problemsTruncated ?? 0), 0), 'the report total of cut problems');
  t.ok(JSON.stringify(r).length < 1024 * 1024 && !JSON.stringify(r).includes('k'.repeat(1000)), 'long field names are clipped');
  t.equal((await f.app.inject({ url: '/healthz' })).statusCode, 200);
});

t.test('the hostile import in its own process: peak RSS under 400 MB (it was 1.24 GB)', async (t) => {
  const script = fileURLToPath(new URL('./hostile-import-rss.ts', import.meta.url));
  const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', script], { encoding: 'utf8', maxBuffer: 1 << 20 });
  const r = JSON.parse(stdout.trim().split('\n').at(-1)!) as { status: number; reportBytes: number; rejected: number; peakMb: number };
  t.equal(r.status, 200);
  t.equal(r.rejected, 1000, 'every line rejected and counted');
  t.ok(r.reportBytes <= 1024 * 1024, `report ${r.reportBytes} bytes`);
  // The bound guards against the 1.24 GB of issue 13 item 8, not against creep: the process also holds
  // the test loader's transpiled sources, which grew with this round's modules (311 MB seen once in CI).
  t.ok(r.peakMb < 400, `peak RSS ${r.peakMb} MB (VmHWM of the process, app and test loader included)`);
});
