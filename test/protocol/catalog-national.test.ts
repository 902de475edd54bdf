import t from 'tap';
import Fastify from 'fastify';
import {
  CATALOG_VERSION, exampleRecord, getRecordType, PENALTY_CATEGORIES, recordTypeIn, RECORD_INPUT_SCHEMA, subjectOf,
  SUPPORTED_CATALOG_VERSIONS, validateRecord, WIRE_DEFAULT_CATALOG_VERSION, type FieldError,
} from '../../protocol/catalog.js';

const TODAY = '2026-05-01';
const GB_EXAMPLE_ID = '440524188001010014'; // GB 11643's own example, born 1880

function variant(type: string, fields: Record<string, unknown>, extra: Record<string, unknown> = {}): Record<string, unknown> {
  const merged: Record<string, unknown> = { ...exampleRecord(type).fields, ...fields };
  for (const [k, v] of Object.entries(fields)) if (v === undefined) delete merged[k];
  return { type, fields: merged, ...extra };
}
const errorsOf = (input: unknown): Pick<FieldError, 'field' | 'code'>[] => {
  const r = validateRecord(input, { today: TODAY });
  return r.ok ? [] : r.errors.map(({ field, code }) => ({ field, code }));
};
const labels = (code: string) => getRecordType(code).fields.filter((f) => !f.local).map((f) => f.label);

// The 2021 national layouts, column by column (docs/catalog.md).
const IDENTITY = ['行政相对人名称', '行政相对人类别', '统一社会信用代码', '工商注册号', '组织机构代码', '税务登记号', '事业单位证书号', '社会组织登记证号', '法定代表人', '法定代表人证件类型', '法定代表人证件号码', '证件类型', '证件号码'];
const CF_COLUMNS = [...IDENTITY, '行政处罚决定书文号', '违法行为类型', '违法事实', '处罚依据', '处罚类别', '处罚内容', '罚款金额（万元）', '没收违法所得、没收非法财物的金额（万元）', '暂扣或吊销证照名称及编号', '处罚决定日期', '处罚有效期', '公示截止期', '处罚机关', '处罚机关统一社会信用代码', '数据来源单位', '数据来源单位统一社会信用代码', '备注'];
const XK_COLUMNS = [...IDENTITY, '行政许可决定文书名称', '行政许可决定文书号', '许可类别', '许可证书名称', '许可编号', '许可内容', '许可决定日期', '有效期自', '有效期至', '许可机关', '许可机关统一社会信用代码', '当前状态', '数据来源单位', '数据来源单位统一社会信用代码', '备注'];

t.test('catalog 2027.1: XK and CF carry the national columns in the national order', async (t) => {
  t.equal(CATALOG_VERSION, '2027.1');
  t.same(SUPPORTED_CATALOG_VERSIONS, ['2026.1', '2027.1']);
  t.same(labels('CF'), CF_COLUMNS);
  t.same(labels('XK'), XK_COLUMNS);
  const req = (code: string) => getRecordType(code).fields.filter((f) => f.required).map((f) => f.name);
  t.same(req('CF'), ['subjectName', 'subjectCategory', 'decisionNo', 'violationType', 'violationFacts', 'basis', 'category', 'content', 'decisionDate', 'penaltyValidTo', 'authority', 'authorityUscc', 'sourceName', 'sourceUscc']);
  t.same(req('XK'), ['subjectName', 'subjectCategory', 'documentName', 'decisionNo', 'category', 'content', 'decisionDate', 'validFrom', 'validTo', 'authority', 'authorityUscc', 'status', 'sourceName', 'sourceUscc']);
  t.same(PENALTY_CATEGORIES, ['警告', '通报批评', '罚款', '没收违法所得', '没收非法财物', '暂扣许可证件', '降低资质等级', '吊销许可证件', '限制开展生产经营活动', '责令停产停业', '责令关闭', '限制从业', '行政拘留', '其他']);
  for (const code of ['CF', 'XK']) {
    const r = validateRecord(exampleRecord(code), { today: TODAY });
    t.ok(r.ok, `${code} example valid`);
    if (r.ok) {
      t.equal(r.record.catalogVersion, '2027.1', 'stamped with the version it was checked against');
      t.same(r.warnings, []);
    }
  }
});

t.test('处罚类别 is a set of 行政处罚法 art. 9 kinds; 罚款/没收/暂扣·吊销 make their columns required', async (t) => {
  const r = validateRecord(variant('CF', { category: '没收违法所得；罚款、 警告', confiscatedAmount: '1.2' }), { today: TODAY });
  t.ok(r.ok);
  if (r.ok) {
    t.same(r.record.fields.category, ['警告', '罚款', '没收违法所得'], 'a cell split on ；、 and put in article order');
    t.equal(r.record.fields.confiscatedAmount, 1.2);
  }
  const alias = validateRecord(variant('CF', { category: ['吊销执照'], fineAmount: undefined, licenceRef: '食品经营许可证 JY24301020000001' }), { today: TODAY });
  t.ok(alias.ok && (alias.record.fields.category as string[])[0] === '吊销许可证件', 'older spelling 吊销执照 → 吊销许可证件');
  t.same(errorsOf(variant('CF', { category: '罚款；拘役' })), [{ field: 'category', code: 'ERR_FIELD_ENUM' }], '拘役 is a criminal penalty, not an administrative one');
  t.same(errorsOf(variant('CF', { category: ' ；' })), [{ field: 'category', code: 'ERR_FIELD_TYPE' }]);
  t.same(errorsOf(variant('CF', { category: [1] })), [{ field: 'category', code: 'ERR_FIELD_TYPE' }]);
  t.same(errorsOf(variant('CF', { fineAmount: undefined })), [{ field: 'fineAmount', code: 'ERR_FIELD_REQUIRED' }], '罚款 ⇒ 罚款金额');
  t.same(errorsOf(variant('CF', { category: '罚款；没收非法财物' })), [{ field: 'confiscatedAmount', code: 'ERR_FIELD_REQUIRED' }], '没收 ⇒ 没收金额');
  t.same(errorsOf(variant('CF', { category: '暂扣许可证件', fineAmount: undefined })), [{ field: 'licenceRef', code: 'ERR_FIELD_REQUIRED' }], '暂扣 ⇒ 证照名称及编号');
  t.same(errorsOf(variant('CF', { confiscatedAmount: -1 })), [{ field: 'confiscatedAmount', code: 'ERR_FIELD_RANGE' }], 'amounts are ≥ 0');
  const warned = validateRecord(variant('CF', { category: '警告' }), { today: TODAY });
  t.ok(warned.ok, 'a fine amount without 罚款 is accepted …');
  if (warned.ok) t.match(warned.warnings, [{ field: 'fineAmount', code: 'WARN_FIELD_UNEXPECTED' }], '… with a warning');
});

t.test('national required columns, date order, and the identity block', async (t) => {
  t.same(errorsOf(variant('CF', { violationType: undefined, violationFacts: '', basis: undefined, penaltyValidTo: undefined })).map((e) => e.field).sort(), ['basis', 'penaltyValidTo', 'violationFacts', 'violationType']);
  t.same(errorsOf(variant('CF', { penaltyValidTo: '2026-04-14' })), [{ field: 'penaltyValidTo', code: 'ERR_DATE_RANGE' }]);
  t.same(errorsOf(variant('XK', { documentName: undefined, status: undefined })).map((e) => e.field).sort(), ['documentName', 'status']);
  const coded = validateRecord(variant('XK', { status: '2' }), { today: TODAY });
  t.ok(coded.ok && coded.record.fields.status === '无效', '当前状态 code 2 → 无效');

  const older = variant('CF', { uscc: undefined, regNo: '430100000012345' });
  const r = validateRecord(older, { today: TODAY });
  t.ok(r.ok, 'an organisation registered before the USCC gives its 工商注册号 instead');
  if (r.ok) t.equal(subjectOf(r.record), '430100000012345', 'and is the subject identifier');
  t.same(errorsOf(variant('CF', { uscc: undefined })), [{ field: 'uscc', code: 'ERR_FIELD_REQUIRED' }], 'neither USCC nor an older number');

  t.same(errorsOf(variant('CF', { legalRepIdNumber: '11010519491231002X' })), [{ field: 'legalRepIdType', code: 'ERR_FIELD_REQUIRED' }]);
  t.same(errorsOf(variant('CF', { legalRepIdType: '居民身份证', legalRepIdNumber: '11010519491231002Y' })), [{ field: 'legalRepIdNumber', code: 'ERR_INVALID_RESIDENT_ID' }], '居民身份证 is read as 身份证 and checked');
  const person = validateRecord(variant('CF', { subjectCategory: '自然人', subjectName: '张示例', uscc: undefined, legalRep: undefined, idType: '身份证', idNumber: GB_EXAMPLE_ID }), { today: TODAY });
  t.ok(person.ok, 'the GB 11643 example (born 1880) is a valid ID (issue 14 item 8)');
  if (person.ok) t.match(person.warnings, [{ field: 'idNumber', code: 'WARN_IMPLAUSIBLE_AGE' }], 'an implausible age is a warning on the result');
});

t.test('two catalog versions during the migration', async (t) => {
  const old = { type: 'CF', catalogVersion: '2026.1', fields: { ...exampleRecord('CF').fields, category: '罚款' } as Record<string, unknown> };
  for (const k of ['violationType', 'violationFacts', 'basis', 'penaltyValidTo']) delete old.fields[k];
  const r = validateRecord(old, { today: TODAY });
  t.ok(r.ok, 'a record stamped 2026.1 is checked against the 2026.1 CF fields');
  if (r.ok) {
    t.equal(r.record.catalogVersion, '2026.1', 'and keeps its stamp');
    t.equal(r.record.fields.category, '罚款', '2026.1 处罚类别 is free text');
  }
  t.same(errorsOf({ ...old, catalogVersion: undefined }).map((e) => e.field).sort(), ['basis', 'penaltyValidTo', 'violationFacts', 'violationType'], 'unstamped input is new: 2027.1');
  t.ok(validateRecord({ type: 'CF', fields: old.fields }, { today: TODAY, defaultCatalogVersion: WIRE_DEFAULT_CATALOG_VERSION }).ok, 'an unstamped WireRecord is read as 2026.1');
  t.same(errorsOf({ ...exampleRecord('CF'), catalogVersion: '2026.1' }).map((e) => `${e.field} ${e.code}`).sort(), [
    'basis ERR_FIELD_UNKNOWN', 'category ERR_FIELD_TYPE', 'penaltyValidTo ERR_FIELD_UNKNOWN', 'violationFacts ERR_FIELD_UNKNOWN', 'violationType ERR_FIELD_UNKNOWN',
  ], '2027.1 fields are unknown to 2026.1, where 处罚类别 is one string');
  t.ok(validateRecord({ ...exampleRecord('YZSX'), catalogVersion: '2026.1' }, { today: TODAY }).ok, 'types unchanged since 2026.1 read the same in both');
  t.equal(recordTypeIn('2026.1', 'YZSX'), getRecordType('YZSX'));
  t.equal(recordTypeIn('2099.1', 'CF'), undefined);
  t.same(errorsOf({ ...exampleRecord('CF'), catalogVersion: '2099.1' }), [{ field: 'catalogVersion', code: 'ERR_CATALOG_VERSION' }]);
  t.same(errorsOf({ ...exampleRecord('CF'), catalogVersion: 2027.1 }), [{ field: 'catalogVersion', code: 'ERR_CATALOG_VERSION' }], 'a number is not a version');
});

t.test('JSON Schemas: enum-list as an array, older numbers instead of the USCC, catalogVersion', async (t) => {
  const app = Fastify();
  app.post('/CF', { schema: { body: getRecordType('CF').schema } }, async () => ({ ok: true }));
  app.post('/any', { schema: { body: RECORD_INPUT_SCHEMA } }, async () => ({ ok: true }));
  await app.ready();
  const status = async (url: string, payload: unknown) => (await app.inject({ method: 'POST', url, payload: payload as object })).statusCode;
  t.equal(await status('/CF', { ...exampleRecord('CF'), catalogVersion: '2027.1' }), 200);
  t.equal(await status('/any', { ...exampleRecord('CF'), catalogVersion: '2027.1' }), 200);
  t.equal(await status('/any', { ...exampleRecord('CF'), catalogVersion: 'v2' }), 400);
  t.equal(await status('/CF', variant('CF', { category: ['罚款', '拘役'] })), 400, '处罚类别 items come from the art. 9 set');
  t.equal(await status('/CF', variant('CF', { category: [] })), 400, 'at least one 处罚类别');
  t.equal(await status('/CF', variant('CF', { uscc: undefined, orgCode: 'MA4L00001' })), 200, 'an older number stands in for the USCC');
  t.equal(await status('/CF', variant('CF', { uscc: undefined })), 400);
  await app.close();
});
