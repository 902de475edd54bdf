import t from 'tap';
import ExcelJS from 'exceljs';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { main } from '../../scripts/cli.js';
import { exampleRecord, getRecordType, validateRecord } from '../../protocol/catalog.js';
import { templateColumns } from '../../protocol/catalog-template.js';
import { csvSource } from '../../node/import-sources.js';

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  return { io: { stdout: (s: string) => void out.push(s), stderr: (s: string) => void err.push(s) }, out, err };
}
const dir = mkdtempSync(join(tmpdir(), 'credit-template-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

const CF_NATIONAL = [
  '行政相对人名称', '行政相对人类别', '统一社会信用代码', '工商注册号', '组织机构代码', '税务登记号', '事业单位证书号', '社会组织登记证号', '法定代表人',
  '法定代表人证件类型', '法定代表人证件号码', '证件类型', '证件号码', '行政处罚决定书文号', '违法行为类型', '违法事实', '处罚依据', '处罚类别', '处罚内容',
  '罚款金额（万元）', '没收违法所得、没收非法财物的金额（万元）', '暂扣或吊销证照名称及编号', '处罚决定日期', '处罚有效期', '公示截止期', '处罚机关',
  '处罚机关统一社会信用代码', '数据来源单位', '数据来源单位统一社会信用代码', '备注',
];

t.test('credit catalog template CF: CSV, UTF-8 with a BOM, the national headers in order', async (t) => {
  const c = capture();
  t.equal(await main(['catalog', 'template', 'CF'], c.io), 0);
  const text = c.out.join('');
  t.ok(text.startsWith('\uFEFF'), 'BOM');
  t.ok(text.endsWith('\r\n') && text.split('\r\n').length === 2, 'one header row, CRLF');
  t.same(text.slice(1, -2).split(','), CF_NATIONAL, 'national columns, 失信程度 (local) left out');

  const local = capture();
  t.equal(await main(['catalog', 'template', 'CF', '--with-local'], local.io), 0);
  t.ok(local.out.join('').includes(',失信程度,公示截止期,'), '--with-local adds 失信程度 where the catalog has it');

  const file = join(dir, 'cf.csv');
  const w = capture();
  t.equal(await main(['catalog', 'template', 'CF', '--out', file], w.io), 0);
  t.equal(readFileSync(file, 'utf8'), text, '--out writes the same bytes');
  t.match(w.err.join(''), /30 columns \(\d+ 必填\), catalog 2027\.1/);
});

t.test('a filled template loads: headers map to fields, 处罚类别 as one cell separated by ；', async (t) => {
  const e = exampleRecord('CF');
  const cols = templateColumns(getRecordType('CF'), { withLocal: true });
  const cell = (v: unknown) => (v === undefined ? '' : Array.isArray(v) ? v.join('；') : `"${String(v)}"`);
  const csv = '\uFEFF' + cols.map((c) => c.label).join(',') + '\r\n' + cols.map((c) => cell(e.fields[c.name])).join(',') + '\r\n';
  const items = [];
  for await (const batch of csvSource(Readable.from([Buffer.from(csv)]), Infinity, 'CF')) items.push(...batch);
  t.equal(items.length, 1);
  const item = items[0]!;
  t.ok('input' in item);
  if ('input' in item) {
    const r = validateRecord(item.input, { today: '2026-05-01' });
    t.ok(r.ok, 'the filled row is a valid CF record');
    if (r.ok) t.same(r.record.fields, e.fields, 'same record as the example');
  }
});

t.test('credit catalog template CF --xlsx: bold header, 必填 marked, legend sheet', async (t) => {
  const file = join(dir, 'cf.xlsx');
  t.equal(await main(['catalog', 'template', 'CF', '--xlsx', '--out', file], capture().io), 0);
  const wb = new ExcelJS.Workbook();
  await wb.xlsx.readFile(file);
  const [sheet, legend] = wb.worksheets;
  t.equal(sheet!.name, 'CF 行政处罚');
  const header = sheet!.getRow(1);
  t.same((header.values as unknown[]).slice(1), CF_NATIONAL, 'the national headers in order');
  t.equal(sheet!.rowCount, 1, 'empty: only the header row');
  const byLabel = (label: string) => header.getCell(CF_NATIONAL.indexOf(label) + 1);
  t.equal(byLabel('违法行为类型').font?.bold, true);
  t.equal(byLabel('违法行为类型').font?.color?.argb, 'FFC00000', '必填 columns in red');
  t.match(String(byLabel('违法行为类型').note), /^必填/);
  t.match(String(byLabel('罚款金额（万元）').note), /^条件必填：.*「处罚类别」含罚款时必填/);
  t.match(String(byLabel('备注').note), /^选填/);
  t.equal(legend!.name, '填写说明');
  t.same((legend!.getRow(1).values as unknown[]).slice(1), ['序号', '列名', '是否必填', '填写要求']);
  t.same((legend!.getRow(19).values as unknown[]).slice(1, 4), [18, '处罚类别', '必填']);
  t.match(String(legend!.getRow(19).getCell(4).value), /可多选，用“；”分隔/);
});

t.test('template errors and help', async (t) => {
  const noOut = capture();
  t.not(await main(['catalog', 'template', 'CF', '--xlsx'], noOut.io), 0);
  t.match(noOut.err.join(''), /ERR_USAGE.*--out/);
  const unknown = capture();
  t.not(await main(['catalog', 'template', 'ZZ'], unknown.io), 0);
  t.match(unknown.err.join(''), /ERR_UNKNOWN_RECORD_TYPE/);
  const help = capture();
  t.equal(await main(['catalog', 'template', '--help'], help.io), 0);
  t.match(help.out.join(''), /填写说明/);
  const xk = capture();
  t.equal(await main(['catalog', 'template', 'XK'], xk.io), 0);
  t.match(xk.out.join(''), /行政许可决定文书名称,行政许可决定文书号,许可类别,许可证书名称,许可编号,许可内容,许可决定日期,有效期自,有效期至,许可机关,许可机关统一社会信用代码,当前状态,数据来源单位,数据来源单位统一社会信用代码,备注\r\n$/);
});

t.test('docs/catalog.md lists the CF and XK columns exactly as the catalog has them', async (t) => {
  const doc = readFileSync(new URL('../../docs/catalog.md', import.meta.url), 'utf8');
  for (const code of ['CF', 'XK']) {
    const section = doc.slice(doc.indexOf(`### ${code} `), doc.indexOf('\n\n', doc.indexOf('| # |', doc.indexOf(`### ${code} `))));
    const rows = section.split('\n').filter((l) => /^\| (\d+|—) \|/.test(l)).map((l) => l.split(' | '));
    const cols = templateColumns(getRecordType(code), { withLocal: true });
    t.same(rows.map((r) => [r[1], r[2]!.replaceAll('`', ''), r[4]!.replace(' (local)', '')]), cols.map((c) => [c.label, c.name, c.rule]), `${code}: label, field, 必填 mark`);
  }
});
