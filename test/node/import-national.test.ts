/**
 * Issue 14 "done when": a generated export in the national 双公示 layout (every CF column, no
 * 失信程度, BOM + CRLF, quoted commas, multi-line cells, 1% bad rows of each kind) imported as CSV
 * UTF-8, CSV GBK and XLSX gives the same accepted and rejected rows, numbered as the spreadsheet
 * numbers them, in all three.
 */
import t from 'tap';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BAD_CODES, BAD_KINDS, nationalCfRows, writeNationalCsv, writeNationalXlsx } from '../../scripts/bench/national-data.js';
import { XLSX_MEDIA_TYPE } from '../../node/import-report-file.js';
import { nodeFixture } from './app-fixture.js';

const LINES = 1000;
const dir = mkdtempSync(join(tmpdir(), 'import-national-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

const expected = [...nationalCfRows(LINES)];
const bad = expected.filter((r) => r.bad);

interface Report {
  lines: number; accepted: number; duplicates: number; rejected: number; severityDerived: number; normalised: number;
  warnings: { column: string }[]; columns: string[];
  rejectedLines: { line: number; errors: { code: string; message: string }[]; cells: string[]; decisionNo?: string }[];
}

async function importFile(t: Parameters<typeof nodeFixture>[0] & { equal(a: unknown, b: unknown, m: string): unknown }, body: Buffer, contentType: string): Promise<{ report: Report; fixture: Awaited<ReturnType<typeof nodeFixture>> }> {
  const f = await nodeFixture(t, { config: { severityDefaults: { CF: 'ordinary' } } });
  const res = await f.app.inject({ method: 'POST', url: '/v1/records/import?type=CF', headers: { ...(await f.auth('submitter', 'public')), 'content-type': contentType }, payload: body });
  t.equal(res.statusCode, 200, res.statusCode === 200 ? 'imported' : res.body.slice(0, 400));
  return { report: res.json() as Report, fixture: f };
}

t.test('the national layout as CSV UTF-8, CSV GBK and XLSX: same rows accepted and rejected, spreadsheet row numbers', async (t) => {
  t.equal(bad.length, BAD_KINDS.length * (LINES / 100), '1% of the rows bad in each kind');
  t.ok(expected.some((r) => r.cells.some((c) => c.includes('\n'))), 'multi-line cells');
  t.ok(expected.some((r) => r.cells.some((c) => c.includes(','))), 'quoted commas');
  await writeNationalCsv(join(dir, 'utf8.csv'), LINES, 'utf8');
  await writeNationalCsv(join(dir, 'gbk.csv'), LINES, 'gbk');
  await writeNationalXlsx(join(dir, 'cf.xlsx'), LINES);
  await writeNationalXlsx(join(dir, 'shared.xlsx'), LINES, 1, true);
  const utf8 = readFileSync(join(dir, 'utf8.csv'));
  t.ok(utf8.subarray(0, 3).equals(Buffer.from([0xef, 0xbb, 0xbf])) && utf8.includes('\r\n'), 'BOM + CRLF');
  const runs: [string, Buffer, string][] = [
    ['CSV UTF-8', utf8, 'text/csv'],
    ['CSV GBK (sniffed)', readFileSync(join(dir, 'gbk.csv')), 'text/csv'],
    ['XLSX sent as text/csv (a workbook renamed .csv)', readFileSync(join(dir, 'cf.xlsx')), 'text/csv'],
    ['XLSX', readFileSync(join(dir, 'cf.xlsx')), XLSX_MEDIA_TYPE],
    ['XLSX with shared strings', readFileSync(join(dir, 'shared.xlsx')), XLSX_MEDIA_TYPE],
  ];
  const summaries: unknown[] = [];
  for (const [name, body, type] of runs) {
    await t.test(name, async (t) => {
      const { report, fixture } = await importFile(t, body, type);
      t.equal(report.lines, LINES);
      t.equal(report.accepted, LINES - bad.length);
      t.equal(report.rejected, bad.length);
      t.same(report.rejectedLines.map((l) => l.line), bad.map((r) => r.row), 'rejected rows by their spreadsheet numbers');
      t.same(report.rejectedLines.map((l) => l.errors.map((e) => e.code)), bad.map((r) => [BAD_CODES[r.bad!]]), 'one problem each, the expected code');
      t.equal(report.severityDerived, LINES - bad.length, 'every severity derived (no 失信程度 column)');
      t.ok(report.normalised > 0, 'clerk-written values normalised');
      const date = report.rejectedLines.find((l) => l.errors[0]!.code === 'ERR_INVALID_DATE')!;
      t.match(date.errors[0]!.message, /^第 \d+ 行（示例商贸\d+有限公司，长市监罚〔2026〕\d+号）「处罚决定日期」2026-02-30 不是有效日期（2月没有30日） \[ERR_INVALID_DATE\]$/);
      t.match(report.rejectedLines.find((l) => l.errors[0]!.code === 'ERR_INVALID_USCC')!.errors[0]!.message, /校验位应为 [0-9A-Z]/);
      t.same(date.cells, expected.find((r) => r.row === date.line)!.cells, 'the row as written, in the source columns');
      const stored = await fixture.db('node_records').orderBy('decision_date').first();
      t.ok(['disclosureEnd', 'default'].includes(stored.severity_derived), 'the stored record is marked derived');
      t.ok(JSON.parse(stored.extra ?? '{}'), 'columns outside the catalog are kept in extra');
      const audit = fixture.events.filter((e) => e.action === 'record.import').map((e) => e.reason ?? '');
      t.ok(audit.some((r) => /normalised=.*decisionDate:\d+/.test(r) && /severityDerived=\d+/.test(r)), 'the audit entry keeps the fact that values were normalised');
      summaries.push({ accepted: report.accepted, rejected: report.rejectedLines.map((l) => [l.line, l.errors[0]!.code]), columns: report.columns, warnings: report.warnings.map((w) => w.column) });
    });
  }
  t.equal(new Set(summaries.map((s) => JSON.stringify(s))).size, 1, 'identical outcome in every format');
});
