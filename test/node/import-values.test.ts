/** Values as clerks write them (issue 14 item 5), headers of older templates (item 3), the clerk's messages (item 6). */
import t from 'tap';
import { Readable } from 'node:stream';
import { getRecordType } from '../../protocol/catalog.js';
import { makeUscc } from '../../protocol/identifiers.js';
import { foldHeader, fieldForHeader, mapHeader } from '../../node/import-header.js';
import { clerkMessage } from '../../node/import-messages.js';
import { excelSerialToIso, normaliseCell } from '../../node/import-values.js';
import { rejectedRowsCsv } from '../../node/import-report-file.js';

const CF = getRecordType('CF');
const field = (name: string) => CF.fields.find((f) => f.name === name)!;
const norm = (name: string, raw: string) => normaliseCell(field(name), raw).value;

t.test('dates as clerks write them', async (t) => {
  for (const raw of ['2026-03-01', '2026/03/01', '2026-3-1', '2026/3/1', '2026.3.1', '2026年3月1日', '2026 年 3 月 1 日', '20260301', '２０２６－０３－０１', '2026-03-01 00:00:00', ' 2026-03-01 ', '46082', '2026-03-01T00:00:00Z', '2026-03-01T08:00:00+08:00', '2026-03-01T00:00:00.000-0500']) {
    t.equal(norm('decisionDate', raw), '2026-03-01', raw);
  }
  t.equal(norm('decisionDate', '2026-2-30'), '2026-02-30', 'an impossible date keeps its shape for the validator to name');
  t.equal(norm('decisionDate', '三月一日'), '三月一日', 'what does not fit passes as written');
  t.equal(excelSerialToIso(61), '1900-03-01', 'serials count from 1899-12-30: right from 1900-03-01 on (Excel counts a 1900-02-29)');
  t.equal(normaliseCell(field('decisionDate'), '44620', true).value, '2026-03-01', 'a workbook of the 1904 date system: its day numbers count from 1904-01-01');
  t.equal(normaliseCell(field('decisionDate'), '2026/3/1', true).value, '2026-03-01', 'written dates are not shifted');
  t.equal(normaliseCell(field('decisionDate'), '44620').value, '2022-02-28', 'the same number in the 1900 system');
  t.equal(normaliseCell(field('decisionDate'), '2026-03-01').changed, false);
  t.equal(normaliseCell(field('decisionDate'), '2026/3/1').changed, true);
});

t.test('amounts: thousands separators, 万元/元 by the column\'s unit, full-width digits', async (t) => {
  t.equal(norm('fineAmount', '1,000.50'), '1000.50');
  t.equal(norm('fineAmount', '5000元'), '0.5', '元 in a 万元 column');
  t.equal(norm('fineAmount', '0.5万元'), '0.5');
  t.equal(norm('fineAmount', '１２３４．５'), '1234.5');
  t.equal(norm('fineAmount', '伍仟元'), '伍仟元', 'not a number: left for the validator');
});

t.test('identifiers: trimmed, full-width folded, upper-cased', async (t) => {
  const uscc = makeUscc('9143010200000A1B');
  t.equal(norm('uscc', ` ${uscc.toLowerCase()}\u3000`), uscc);
  t.equal(norm('uscc', uscc.replace(/[0-9A-Z]/g, (c) => String.fromCharCode(c.charCodeAt(0) + 0xfee0))), uscc, 'full-width');
  t.equal(norm('subjectName', '  长沙示例  '), '长沙示例', 'text is only trimmed');
});

t.test('headers: width, case and space do not matter; older template labels are aliases', async (t) => {
  t.equal(foldHeader(' 罚款金额（万元） '), foldHeader('罚款金额(万元)'));
  t.equal(fieldForHeader(CF, '行政相对人代码_1(统一社会信用代码)')?.name, 'uscc');
  t.equal(fieldForHeader(CF, '行政相对人代码_1（统一社会信用代码）')?.name, 'uscc');
  t.equal(fieldForHeader(CF, 'SUBJECTNAME')?.name, 'subjectName');
  t.equal(fieldForHeader(CF, '处罚决定书文号')?.name, 'decisionNo');
  t.equal(fieldForHeader(CF, '颜色'), undefined);
  const required = CF.fields.filter((f) => f.required).map((f) => f.label);
  const h = mapHeader(CF, [...required, '经办人', '经办人', '错误说明'], 1);
  t.same(h.extra.slice(required.length), ['经办人', '经办人#' + String(required.length + 2), undefined], 'unknown columns kept by their header; 错误说明 dropped');
  t.equal(h.warnings.length, 2, 'each unknown column named once');
  t.match(h.warnings[0]!.message, /「经办人」不是 CF（行政处罚）目录的字段.*\[ERR_FIELD_UNKNOWN\]/);
});

t.test('clerk messages say the value and the fix', async (t) => {
  const uscc = makeUscc('9143010200000A1B');
  const wrong = uscc.slice(0, 17) + (uscc[17] === '0' ? '1' : '0');
  t.equal(clerkMessage(CF, { field: 'uscc', code: 'ERR_INVALID_USCC', message: '' }, wrong, {}), `「统一社会信用代码」${wrong} 不是有效的统一社会信用代码（校验位应为 ${uscc[17]}（请核对前 17 位是否抄错）） [ERR_INVALID_USCC]`);
  t.match(clerkMessage(CF, { field: 'decisionDate', code: 'ERR_INVALID_DATE', message: '' }, '2026-02-30', {}), /（2月没有30日）/);
  t.match(clerkMessage(CF, { field: 'decisionDate', code: 'ERR_INVALID_DATE', message: '' }, '2025-02-29', {}), /2025年2月没有29日/);
  t.match(clerkMessage(CF, { field: 'decisionDate', code: 'ERR_INVALID_DATE', message: '' }, '2026-13-01', {}), /没有13月/);
  t.match(clerkMessage(CF, { field: 'subjectCategory', code: 'ERR_FIELD_ENUM', message: '' }, '公司', {}), /「行政相对人类别」公司 不是可选值，应为：法人及非法人组织、自然人、个体工商户/);
  t.match(clerkMessage(CF, { field: 'severity', code: 'ERR_FIELD_ENUM', message: '' }, '很严重', {}), /应为：轻微、一般、严重/, 'enum values shown as the clerk writes them');
  t.match(clerkMessage(CF, { field: 'disclosureEnd', code: 'ERR_DISCLOSURE_PERIOD', message: '' }, '2027-06-01', { severity: 'minor', decisionDate: '2026-05-01' }), /超出轻微失信的公示期：处罚决定日期 2026-05-01 起应在 2026-05-01 至 2026-08-01 之间/);
  t.match(clerkMessage(CF, { field: 'decisionNo', code: 'ERR_FIELD_REQUIRED', message: '' }, undefined, {}), /「行政处罚决定书文号」不能为空/);
});

t.test('the rejected-rows file: source columns plus 错误说明, CSV quoting, BOM, CRLF', async (t) => {
  const buf = rejectedRowsCsv({ columns: ['名称', '内容'], rejectedLines: [{ line: 3, errors: [{ field: 'a', code: 'ERR_X', message: '第 3 行 错 [ERR_X]' }], cells: ['甲', '含,逗号\n换行'] }] });
  t.equal(buf.toString('utf8'), '\uFEFF名称,内容,错误说明\r\n甲,"含,逗号\n换行",第 3 行 错 [ERR_X]\r\n');
  const nd = rejectedRowsCsv({ rejectedLines: [{ line: 7, errors: [{ field: '', code: 'ERR_Y', message: 'm' }], problemsTruncated: 2 }] });
  t.equal(nd.toString('utf8'), '\uFEFF行号,错误说明\r\n7,m；另有 2 个问题未列出\r\n');
});

t.test('the encoding sniff: a short GBK file is GB18030; UTF-8 with a damaged line stays UTF-8; a ZIP is a workbook', async (t) => {
  const { sniffUpload } = await import('../../node/import-decode.js');
  const iconv = (await import('iconv-lite')).default;
  const text = '行政相对人名称,处罚内容\r\n长沙示例餐饮有限公司,罚款人民币伍仟元\r\n';
  const kind = async (b: Buffer) => (await sniffUpload(Readable.from([b]))).detected;
  t.same(await kind(iconv.encode(text, 'gbk')), { format: 'text', encoding: 'gb18030' });
  t.same(await kind(Buffer.from(text)), { format: 'text', encoding: 'utf8' });
  t.same(await kind(Buffer.concat([Buffer.from(text), Buffer.from([0xff]), Buffer.from(text)])), { format: 'text', encoding: 'utf8' }, 'one bad byte among Chinese UTF-8');
  t.same(await kind(Buffer.from('PK\x03\x04rest')), { format: 'xlsx' });
  const { chunks } = await sniffUpload(Readable.from([Buffer.from('a'), Buffer.from('b')]));
  const back: Buffer[] = [];
  for await (const c of chunks) back.push(c);
  t.equal(Buffer.concat(back).toString(), 'ab', 'every byte given back');
});
