import t from 'tap';
import { nodeFields } from '../helpers/at-rest.js';
import { Readable } from 'node:stream';
import { randomBytes } from 'node:crypto';
import { metricValue, nodeFixture, record } from './app-fixture.js';
import { writeCfCsv } from '../../scripts/bench/cf-data.js';
import ExcelJS from 'exceljs';
import iconv from 'iconv-lite';
import { XLSX_MEDIA_TYPE } from '../../node/import-report-file.js';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const CF = record('CF').fields as Record<string, string | number>;
const LABELS = ['行政相对人名称', '行政相对人类别', '统一社会信用代码', '行政处罚决定书文号', '违法行为类型', '违法事实', '处罚依据', '处罚决定日期', '处罚有效期', '处罚类别', '处罚内容', '罚款金额（万元）', '失信程度', '处罚机关', '处罚机关统一社会信用代码', '数据来源单位', '数据来源单位统一社会信用代码'];
const chunksOf = (buf: Buffer, size: number): Buffer[] => Array.from({ length: Math.ceil(buf.length / size) }, (_, i) => buf.subarray(i * size, (i + 1) * size));
const row = (no: string, over: Record<string, string> = {}) => {
  const v: Record<string, string | number> = { ...CF, decisionNo: no, ...over };
  return [
    v.subjectName, v.subjectCategory, v.uscc, v.decisionNo, v.violationType, v.violationFacts, v.basis, v.decisionDate, v.penaltyValidTo, v.category, `"${v.content}"`, v.fineAmount,
    over.severity ?? '一般', v.authority, v.authorityUscc, v.sourceName, v.sourceUscc,
  ].join(',');
};

t.test('POST /v1/records/import', async (t) => {
  const f = await nodeFixture(t);
  const submitter = await f.auth('submitter', 'shared');
  const csv = (body: string | Readable, type = 'CF') => f.app.inject({ method: 'POST', url: `/v1/records/import${type ? `?type=${type}` : ''}`, headers: { ...submitter, 'content-type': 'text/csv' }, payload: body });

  await t.test('CSV with a BOM and Chinese headers, bad lines reported by line and field', async (t) => {
    const text = '\uFEFF' + [LABELS.join(','), row('I-1'), row('I-2', { uscc: '91430102MA4L0000X0' }), row('I-3'), row('I-4', { decisionDate: '2026-13-01' }), row('I-1'), 'only,two'].join('\r\n') + '\r\n';
    const res = await csv(text);
    t.equal(res.statusCode, 200);
    const r = res.json();
    t.match(r, { lines: 6, accepted: 2, duplicates: 1, rejected: 3, truncated: false });
    t.match(r.rejectedLines, [
      { line: 3, errors: [{ field: 'uscc', code: 'ERR_INVALID_USCC' }] },
      { line: 5, errors: [{ field: 'decisionDate', code: 'ERR_INVALID_DATE' }] },
      { line: 7, errors: [{ code: 'ERR_IMPORT_LINE_MALFORMED' }] },
    ]);
    t.ok(f.events.some((e) => e.action === 'record.import' && e.reason === 'accepted=2 duplicates=1 versions=0'), 'one audit event per batch, with counts');
    const stored = await f.db('node_records').where('natural_key', 'like', '%I-1%').first();
    t.equal(nodeFields(f.db, stored).severity, 'ordinary', 'Chinese enum values normalised');
  });

  await t.test('NDJSON lines, with and without a type', async (t) => {
    const lines = [JSON.stringify(record('CF', { decisionNo: 'N-1' })), JSON.stringify({ fields: record('CF', { decisionNo: 'N-2' }).fields }), '{oops', JSON.stringify(record('XK', { decisionNo: 'N-3' }))];
    const res = await f.app.inject({ method: 'POST', url: '/v1/records/import?type=CF', headers: { ...submitter, 'content-type': 'application/x-ndjson' }, payload: lines.join('\n') });
    t.equal(res.statusCode, 200);
    t.match(res.json(), { lines: 4, accepted: 3, rejected: 1, rejectedLines: [{ line: 3, errors: [{ code: 'ERR_IMPORT_LINE_MALFORMED' }] }] });
  });

  await t.test('records above the clearance are rejected per line, and the denial is audited', async (t) => {
    const res = await f.app.inject({ method: 'POST', url: '/v1/records/import', headers: { ...submitter, 'content-type': 'application/x-ndjson' }, payload: JSON.stringify(record('CF', { decisionNo: 'N-4' }, 'internal')) + '\n' });
    t.match(res.json(), { accepted: 0, rejected: 1, rejectedLines: [{ line: 1, errors: [{ code: 'ERR_CLASSIFICATION_DENIED' }] }] });
    t.ok(f.events.some((e) => e.action === 'access.denied' && e.reason?.startsWith('ERR_CLASSIFICATION_DENIED')));
  });

  await t.test('the rejected list is capped, every rejection counted', async (t) => {
    const g = await nodeFixture(t, { config: { rejectedLinesCap: 5, importBatchSize: 7 } });
    const dir = mkdtempSync(join(tmpdir(), 'import-cap-'));
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    const file = join(dir, 'cf.csv');
    const { bad } = await writeCfCsv(file, 300, 10);
    const res = await g.app.inject({ method: 'POST', url: '/v1/records/import?type=CF', headers: { ...(await g.auth('submitter', 'public')), 'content-type': 'text/csv' }, payload: readFileSync(file) });
    t.equal(bad, 30);
    t.match(res.json(), { lines: 300, accepted: 270, rejected: 30, truncated: true });
    t.equal(res.json().rejectedLines.length, 5);
    t.equal((await g.db('node_records')).length, 270);
    const metrics = (await g.app.inject({ url: '/metrics' })).body;
    t.equal(metricValue(metrics, 'credit_node_import_lines_total', { outcome: 'accepted' }), 270);
    t.equal(metricValue(metrics, 'credit_node_import_lines_total', { outcome: 'rejected' }), 30);
    t.equal(metricValue(metrics, 'credit_node_records', { status: 'active' }), 270);
  });

  await t.test('a streamed body is imported without buffering it first', async (t) => {
    async function* gen() {
      yield LABELS.join(',') + '\n';
      for (let i = 0; i < 2500; i++) yield row(`ST-${i}`) + '\n';
    }
    const res = await csv(Readable.from(gen()));
    t.match(res.json(), { lines: 2500, accepted: 2500, rejected: 0 });
  });

  await t.test('Accept text/csv or XLSX: the rejected rows as a file; a GBK body declared by charset; bad workbooks refused', async (t) => {
    const text = [LABELS.join(','), row('A-1'), row('A-2', { decisionDate: '2026-02-30' })].join('\r\n') + '\r\n';
    const asCsv = await f.app.inject({ method: 'POST', url: '/v1/records/import?type=CF', headers: { ...submitter, 'content-type': 'text/csv', accept: 'text/csv' }, payload: text });
    t.equal(asCsv.statusCode, 200);
    t.match(asCsv.headers['content-type'], /^text\/csv/);
    const lines = asCsv.body.replace(/^\uFEFF/, '').trim().split('\r\n');
    t.equal(lines[0], `${LABELS.join(',')},错误说明`);
    t.equal(lines.length, 2);
    t.match(lines[1], /^长沙示例餐饮有限公司,.*,2026-02-30,.*第 3 行.*2月没有30日/);
    const asXlsx = await f.app.inject({ method: 'POST', url: '/v1/records/import?type=CF', headers: { ...submitter, 'content-type': 'text/csv', accept: XLSX_MEDIA_TYPE }, payload: text.replaceAll('A-', 'B-') });
    t.equal(asXlsx.headers['content-type'], XLSX_MEDIA_TYPE);
    t.equal(asXlsx.rawPayload.subarray(0, 2).toString(), 'PK');
    const gbk = await f.app.inject({ method: 'POST', url: '/v1/records/import?type=CF', headers: { ...submitter, 'content-type': 'text/csv; charset=GBK' }, payload: iconv.encode(text.replaceAll('A-', 'G-'), 'gbk') });
    t.match(gbk.json(), { accepted: 1, rejected: 1 });
    const latin = await f.app.inject({ method: 'POST', url: '/v1/records/import?type=CF', headers: { ...submitter, 'content-type': 'text/csv; charset=latin1' }, payload: 'x' });
    t.equal(latin.json().code, 'ERR_UNSUPPORTED_MEDIA_TYPE');
    const zip = await f.app.inject({ method: 'POST', url: '/v1/records/import?type=CF', headers: { ...submitter, 'content-type': XLSX_MEDIA_TYPE }, payload: Buffer.concat([Buffer.from('PK\x03\x04'), Buffer.alloc(200, 7)]) });
    t.equal(zip.statusCode, 422);
    t.equal(zip.json().code, 'ERR_IMPORT_FORMAT');
    const wb = new ExcelJS.Workbook();
    wb.addWorksheet('第一页').addRow(LABELS);
    const noSheet = await f.app.inject({ method: 'POST', url: `/v1/records/import?type=CF&sheet=${encodeURIComponent('第二页')}`, headers: { ...submitter, 'content-type': XLSX_MEDIA_TYPE }, payload: Buffer.from(await wb.xlsx.writeBuffer()) });
    t.equal(noSheet.json().code, 'ERR_IMPORT_FORMAT');
    t.match(noSheet.json().message, /没有名为「第二页」的工作表/);
  });

  await t.test('refusals: no type for CSV, unknown type, missing required columns, wrong media type, too large', async (t) => {
    const noType = await csv('a\n', '');
    t.equal(noType.statusCode, 400);
    t.equal(noType.json().code, 'ERR_IMPORT_TYPE_REQUIRED');
    const unknownType = await csv('a\n', 'ZZ');
    t.equal(unknownType.statusCode, 422);
    t.equal(unknownType.json().code, 'ERR_UNKNOWN_RECORD_TYPE');
    const header = await csv('行政相对人名称,颜色\nx,y\n');
    t.equal(header.statusCode, 422);
    t.equal(header.json().code, 'ERR_IMPORT_HEADER_INVALID');
    t.same(header.json().details.missing, ['行政相对人类别', '行政处罚决定书文号', '违法行为类型', '违法事实', '处罚依据', '处罚类别', '处罚内容', '处罚决定日期', '处罚有效期', '处罚机关', '处罚机关统一社会信用代码', '数据来源单位', '数据来源单位统一社会信用代码'], 'every missing required column is named; 颜色 is no reason to refuse');
    const plain = await f.app.inject({ method: 'POST', url: '/v1/records/import?type=CF', headers: { ...submitter, 'content-type': 'text/plain' }, payload: 'x' });
    t.equal(plain.statusCode, 415);
    t.equal(plain.json().code, 'ERR_UNSUPPORTED_MEDIA_TYPE');
    const json = await f.app.inject({ method: 'POST', url: '/v1/records/import?type=CF', headers: submitter, payload: { a: 1 } });
    t.equal(json.statusCode, 415);
    const g = await nodeFixture(t, { config: { importLimitBytes: 2048 } });
    const big = await g.app.inject({ method: 'POST', url: '/v1/records/import?type=CF', headers: { ...(await g.auth('submitter', 'public')), 'content-type': 'text/csv' }, payload: LABELS.join(',') + '\n' + (row('B') + '\n').repeat(20) });
    t.equal(big.statusCode, 413);
    t.equal(big.json().code, 'ERR_BODY_TOO_LARGE');
    // a workbook past the limit, sent in chunks without a Content-Length: the limit is met while
    // the zip is being read (after the 64 KiB the format is told by)
    const h = await nodeFixture(t, { config: { importLimitBytes: 96 * 1024 } });
    const wb = new ExcelJS.Workbook();
    const ws = wb.addWorksheet('第一页');
    ws.addRow(LABELS);
    for (let i = 0; i < 3000; i++) ws.addRow(row(`X-${i}-${randomBytes(12).toString('hex')}`).split(','));
    const xlsx = Buffer.from(await wb.xlsx.writeBuffer());
    t.ok(xlsx.length > 128 * 1024, `${xlsx.length} bytes`);
    const bigXlsx = await h.app.inject({ method: 'POST', url: '/v1/records/import?type=CF', headers: { ...(await h.auth('submitter', 'public')), 'content-type': XLSX_MEDIA_TYPE }, payload: Readable.from(chunksOf(xlsx, 4096)) });
    t.equal(bigXlsx.statusCode, 413, 'a workbook over the limit is refused (it once ended the process: an unheard stream error)');
    // a small workbook that unpacks to more than importUnpackLimitBytes (a decompression bomb)
    const k = await nodeFixture(t, { config: { importUnpackLimitBytes: 1024 * 1024 } });
    const bomb = new ExcelJS.Workbook();
    const sheet = bomb.addWorksheet('第一页');
    sheet.addRow(LABELS);
    const zeros = new Array<number>(200).fill(0);
    for (let i = 0; i < 500; i++) sheet.addRow(zeros);
    const unpacked = await k.app.inject({ method: 'POST', url: '/v1/records/import?type=CF', headers: { ...(await k.auth('submitter', 'public')), 'content-type': XLSX_MEDIA_TYPE }, payload: Buffer.from(await bomb.xlsx.writeBuffer()) });
    t.equal(unpacked.statusCode, 413);
    t.equal(unpacked.json().code, 'ERR_BODY_TOO_LARGE');
    t.match(unpacked.json().message, /解压后超过 1048576 字节（配置项 importUnpackLimitBytes）/);
    t.equal(bigXlsx.json().code, 'ERR_BODY_TOO_LARGE');
  });
});
