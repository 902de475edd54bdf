import t from 'tap';
import Fastify from 'fastify';
import {
  assertRecord, CATALOG_VERSION, exampleRecord, fieldByNameOrLabel, getRecordType, listRecordTypes, naturalKey,
  RECORD_INPUT_SCHEMA, subjectOf, validateRecord, type CreditRecordInput, type FieldError,
} from '../../protocol/catalog.js';
import { addMonths, isIsoDate } from '../../protocol/catalog-calendar.js';
import { disclosureWindow, isDisclosed, isRepairable } from '../../protocol/disclosure.js';
import { maskRecord, redactFor } from '../../protocol/mask.js';

const TODAY = '2026-05-01';
const PERSON_ID = '11010519491231002X'; // GB 11643 example

function code(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    return (e as { code?: string }).code;
  }
  return undefined;
}

/** The example of `type` with some fields replaced (undefined deletes). */
function variant(type: string, fields: Record<string, unknown>, extra: Record<string, unknown> = {}): Record<string, unknown> {
  const e = exampleRecord(type);
  const merged: Record<string, unknown> = { ...e.fields, ...fields };
  for (const [k, v] of Object.entries(fields)) if (v === undefined) delete merged[k];
  return { type, fields: merged, ...extra };
}

function errorsOf(input: unknown): FieldError[] {
  const r = validateRecord(input, { today: TODAY });
  return r.ok ? [] : r.errors;
}

const person = { subjectCategory: '自然人', subjectName: '张三丰', uscc: undefined, legalRep: undefined, idType: '身份证', idNumber: PERSON_ID };

t.test('the catalog lists six versioned types with their default classes', async (t) => {
  t.match(CATALOG_VERSION, /^\d{4}\.\d+$/);
  const summary = listRecordTypes().map((x) => [x.code, x.classification, x.negative]);
  t.same(summary, [
    ['XK', 'public', false], ['CF', 'public', true], ['YZSX', 'public', true],
    ['SXBZX', 'shared', true], ['SXJL', 'public', false], ['NSXY_A', 'public', false],
  ]);
  t.equal(getRecordType('CF').fields.find((f) => f.name === 'idNumber')?.pii, true, 'ID numbers are pii');
  t.equal(code(() => getRecordType('ZZ')), 'ERR_UNKNOWN_RECORD_TYPE');
  t.throws(() => ((getRecordType('CF').fields as unknown[]).length = 0), TypeError, 'catalog data is frozen');
});

t.test('every example is valid, and its schema accepts it at a Fastify route', async (t) => {
  const app = Fastify();
  for (const type of listRecordTypes()) app.post(`/${type.code}`, { schema: { body: type.schema } }, async () => ({ ok: true }));
  app.post('/any', { schema: { body: RECORD_INPUT_SCHEMA } }, async () => ({ ok: true }));
  await app.ready();
  for (const type of listRecordTypes()) {
    const e = exampleRecord(type.code);
    const r = validateRecord(e, { today: TODAY });
    t.ok(r.ok, `${type.code} example valid`);
    if (r.ok) t.equal(r.record.classification, type.classification, `${type.code} gets its default class`);
    t.equal((await app.inject({ method: 'POST', url: `/${type.code}`, payload: e })).statusCode, 200, `${type.code} schema accepts the example`);
    t.equal((await app.inject({ method: 'POST', url: '/any', payload: e })).statusCode, 200, `${type.code} passes the loose input schema`);
    const missing = variant(type.code, { sourceUscc: undefined });
    t.equal((await app.inject({ method: 'POST', url: `/${type.code}`, payload: missing })).statusCode, 400, `${type.code} schema refuses a missing field`);
  }
  const lower = variant('CF', { uscc: String(exampleRecord('CF').fields.uscc).toLowerCase() });
  t.equal((await app.inject({ method: 'POST', url: '/CF', payload: lower })).statusCode, 400, 'schema refuses a lower-case USCC');
  t.equal((await app.inject({ method: 'POST', url: '/CF', payload: variant('CF', person) })).statusCode, 200, 'schema: natural person with ID');
  t.equal((await app.inject({ method: 'POST', url: '/CF', payload: variant('CF', { ...person, idNumber: undefined }) })).statusCode, 400, 'schema: natural person needs idNumber');
  t.equal((await app.inject({ method: 'POST', url: '/SXBZX', payload: { ...variant('SXBZX', {}), classification: 'public' } })).statusCode, 400, 'schema refuses a lowered class');
  await app.close();
  const copy = exampleRecord('CF');
  copy.fields.decisionNo = 'changed';
  t.not(exampleRecord('CF').fields.decisionNo, 'changed', 'examples are fresh copies');
});

t.test('every error code is reported with its field', async (t) => {
  const cases: [string, unknown, string, string][] = [
    ['not an object', 'CF', '', 'ERR_RECORD_INVALID'],
    ['unknown record type', { type: 'ZZ', fields: {} }, 'type', 'ERR_UNKNOWN_RECORD_TYPE'],
    ['type missing', { fields: {} }, 'type', 'ERR_FIELD_REQUIRED'],
    ['type not a string', { type: 7, fields: {} }, 'type', 'ERR_FIELD_TYPE'],
    ['fields missing', { type: 'CF' }, 'fields', 'ERR_FIELD_REQUIRED'],
    ['fields an array', { type: 'CF', fields: [] }, 'fields', 'ERR_FIELD_TYPE'],
    ['unknown top-level property', variant('CF', {}, { id: 1 }), 'id', 'ERR_FIELD_UNKNOWN'],
    ['unknown field', variant('CF', { colour: 'red' }), 'colour', 'ERR_FIELD_UNKNOWN'],
    ['required field missing', variant('CF', { decisionNo: undefined }), 'decisionNo', 'ERR_FIELD_REQUIRED'],
    ['required field blank', variant('CF', { decisionNo: '   ' }), 'decisionNo', 'ERR_FIELD_REQUIRED'],
    ['organisation without USCC', variant('CF', { uscc: undefined }), 'uscc', 'ERR_FIELD_REQUIRED'],
    ['natural person without ID number', variant('CF', { ...person, idNumber: undefined }), 'idNumber', 'ERR_FIELD_REQUIRED'],
    ['ID number without type', variant('XK', { idNumber: PERSON_ID }), 'idType', 'ERR_FIELD_REQUIRED'],
    ['number where text belongs', variant('CF', { decisionNo: 12 }), 'decisionNo', 'ERR_FIELD_TYPE'],
    ['fine not a number', variant('CF', { fineAmount: 'five' }), 'fineAmount', 'ERR_FIELD_TYPE'],
    ['year not whole', variant('NSXY_A', { evaluationYear: 2025.5 }), 'evaluationYear', 'ERR_FIELD_TYPE'],
    ['negative fine', variant('CF', { fineAmount: -1 }), 'fineAmount', 'ERR_FIELD_RANGE'],
    ['year before the A-level scheme', variant('NSXY_A', { evaluationYear: 2013 }), 'evaluationYear', 'ERR_FIELD_RANGE'],
    ['bad enum', variant('CF', { subjectCategory: '公司' }), 'subjectCategory', 'ERR_FIELD_ENUM'],
    ['YZSX is always serious', variant('YZSX', { severity: 'minor' }), 'severity', 'ERR_FIELD_ENUM'],
    ['no natural persons in NSXY_A', variant('NSXY_A', { subjectCategory: '自然人' }), 'subjectCategory', 'ERR_FIELD_ENUM'],
    ['bad class', variant('CF', {}, { classification: 'secret' }), 'classification', 'ERR_FIELD_ENUM'],
    ['too long (characters, not bytes)', variant('CF', { content: '罚'.repeat(4001) }), 'content', 'ERR_FIELD_TOO_LONG'],
    ['29 February of a common year', variant('CF', { decisionDate: '2026-02-29' }), 'decisionDate', 'ERR_INVALID_DATE'],
    ['slashes', variant('CF', { decisionDate: '2026/04/15' }), 'decisionDate', 'ERR_INVALID_DATE'],
    ['compact date', variant('XK', { validFrom: '20260410' }), 'validFrom', 'ERR_INVALID_DATE'],
    ['valid to before valid from', variant('XK', { validTo: '2026-04-09' }), 'validTo', 'ERR_DATE_RANGE'],
    ['class lowered', variant('SXBZX', {}, { classification: 'public' }), 'classification', 'ERR_CLASSIFICATION_LOWERED'],
    ['ordinary disclosed for 2 months', variant('CF', { disclosureEnd: '2026-06-15' }), 'disclosureEnd', 'ERR_DISCLOSURE_PERIOD'],
    ['ordinary disclosed past 1 year', variant('CF', { disclosureEnd: '2027-04-16' }), 'disclosureEnd', 'ERR_DISCLOSURE_PERIOD'],
    ['bad authority USCC', variant('CF', { authorityUscc: '11430100000000M01X' }), 'authorityUscc', 'ERR_INVALID_USCC'],
    ['bad resident ID', variant('CF', { ...person, idNumber: '110105194912310021' }), 'idNumber', 'ERR_INVALID_RESIDENT_ID'],
    ['duplicate name and label', variant('CF', { 备注: 'a', remarks: 'b' }), 'remarks', 'ERR_RECORD_INVALID'],
  ];
  for (const [name, input, field, expected] of cases) {
    const errors = errorsOf(input);
    t.ok(errors.some((e) => e.field === field && e.code === expected), `${name}: ${field} ${expected}`);
  }
  const many = errorsOf(variant('CF', { uscc: 'x', decisionDate: '2026-13-01', content: undefined, bogus: 1 }));
  t.same(many.map((e) => `${e.field} ${e.code}`).sort(), ['bogus ERR_FIELD_UNKNOWN', 'content ERR_FIELD_REQUIRED', 'decisionDate ERR_INVALID_DATE', 'uscc ERR_INVALID_USCC'], 'all bad fields at once');
  const leaked = errorsOf(variant('CF', { ...person, idNumber: '110105194912310021' }));
  t.notOk(leaked.some((e) => e.message.includes('110105194912310021')), 'messages do not echo personal identifiers');
  const thrown = (() => { try { assertRecord(variant('CF', { fineAmount: -1 })); } catch (e) { return e as { code: string; details: FieldError[] }; } return undefined; })();
  t.equal(thrown?.code, 'ERR_RECORD_INVALID', 'assertRecord throws ERR_RECORD_INVALID');
  t.equal(thrown?.details[0]?.code, 'ERR_FIELD_RANGE', 'with the field errors as details');
});

t.test('accepted spellings are normalised; class may be raised', async (t) => {
  const csvLike = {
    type: 'CF',
    fields: {
      ...Object.fromEntries(Object.entries(exampleRecord('CF').fields).map(([k, v]) => [getRecordType('CF').fields.find((f) => f.name === k)!.label, typeof v === 'string' ? ` ${v} ` : String(v)])),
      失信程度: '一般', 备注: '', '罚款金额(万元)': '0.50',
    },
  };
  delete (csvLike.fields as Record<string, unknown>)['罚款金额（万元）'];
  const r = validateRecord(csvLike, { today: TODAY });
  t.ok(r.ok, 'labels, padding, numeric strings, aliases, empty cells');
  if (r.ok) {
    t.same(r.record.fields, { ...exampleRecord('CF').fields, severity: 'ordinary' }, 'normalised to the canonical record');
    t.same(Object.keys(r.record.fields), getRecordType('CF').fields.map((f) => f.name).filter((n) => n in r.record.fields), 'catalog field order');
  }
  const raised = validateRecord(variant('CF', {}, { classification: 'restricted' }));
  t.equal(raised.ok && raised.record.classification, 'restricted', 'class raised');
  t.ok(validateRecord(variant('CF', { ...person, idType: '护照', idNumber: 'E12345678' })).ok, 'passport numbers are not resident IDs');
  t.ok(validateRecord(variant('CF', { disclosureEnd: '2027-04-15' })).ok, 'the maximum itself is allowed');
  t.equal(fieldByNameOrLabel('CF', '处罚机关统一社会信用代码')?.name, 'authorityUscc');
  t.equal(fieldByNameOrLabel('CF', 'authorityUscc')?.label, '处罚机关统一社会信用代码');
  t.equal(fieldByNameOrLabel('CF', '许可类别'), undefined, 'XK label is not a CF field');
  t.equal(code(() => fieldByNameOrLabel('ZZ', 'x')), 'ERR_UNKNOWN_RECORD_TYPE');
});

t.test('natural keys and subjects', async (t) => {
  const cf = exampleRecord('CF');
  t.equal(naturalKey(cf), JSON.stringify(['CF', cf.fields.decisionNo, cf.fields.sourceUscc]));
  t.equal(naturalKey(variant('CF', { content: 'other' }) as unknown as CreditRecordInput), naturalKey(cf), 'content does not change the key');
  t.not(naturalKey(variant('CF', { decisionNo: 'X号' }) as unknown as CreditRecordInput), naturalKey(cf));
  t.not(naturalKey(variant('XK', { decisionNo: cf.fields.decisionNo }) as unknown as CreditRecordInput), naturalKey(cf), 'type is part of the key');
  const a = exampleRecord('NSXY_A');
  t.equal(naturalKey(a), JSON.stringify(['NSXY_A', '2025', a.fields.uscc, a.fields.sourceUscc]));
  t.equal(subjectOf(cf), cf.fields.uscc);
  t.equal(subjectOf(variant('CF', person) as unknown as CreditRecordInput), PERSON_ID);
  t.equal(code(() => subjectOf(variant('CF', { uscc: undefined }) as unknown as CreditRecordInput)), 'ERR_RECORD_INVALID');
});

t.test('calendar months at month ends', async (t) => {
  t.equal(addMonths('2026-01-31', 1), '2026-02-28');
  t.equal(addMonths('2024-01-31', 1), '2024-02-29');
  t.equal(addMonths('2024-02-29', 12), '2025-02-28');
  t.equal(addMonths('2026-03-31', -1), '2026-02-28');
  t.equal(addMonths('2026-08-31', 3), '2026-11-30');
  t.equal(addMonths('2026-11-15', 3), '2027-02-15');
  t.equal(addMonths('2026-04-15', 0), '2026-04-15');
  t.throws(() => addMonths('2026-02-30', 1), RangeError);
  t.equal(isIsoDate('2000-02-29'), true);
  t.equal(isIsoDate('1900-02-29'), false);
});

t.test('disclosure windows (Order No. 36 of 2025)', async (t) => {
  const cf = (severity: string, decisionDate: string, disclosureEnd?: string) => variant('CF', { severity, decisionDate, disclosureEnd }) as unknown as CreditRecordInput;
  t.same(disclosureWindow(cf('minor', '2026-01-31')), { severity: 'minor', decisionDate: '2026-01-31', repairFrom: '2026-01-31', disclosureEnd: '2026-04-30' });
  t.same(disclosureWindow(cf('ordinary', '2026-11-30')), { severity: 'ordinary', decisionDate: '2026-11-30', repairFrom: '2027-02-28', disclosureEnd: '2027-11-30' });
  t.same(disclosureWindow(cf('ordinary', '2025-11-30')), { severity: 'ordinary', decisionDate: '2025-11-30', repairFrom: '2026-02-28', disclosureEnd: '2026-11-30' }, 'NDRC Order No. 58 of 2023: the same bands');
  t.same(disclosureWindow(cf('serious', '2024-02-29')), { severity: 'serious', decisionDate: '2024-02-29', repairFrom: '2025-02-28', disclosureEnd: '2027-02-28' });
  t.equal(disclosureWindow(cf('ordinary', '2026-04-15', '2026-09-30'))?.disclosureEnd, '2026-09-30', 'a stated shorter period');
  t.equal(code(() => disclosureWindow(cf('ordinary', '2026-04-15', '2026-07-14'))), 'ERR_DISCLOSURE_PERIOD', 'below the minimum');
  t.equal(code(() => disclosureWindow(cf('minor', '2026-04-15', '2026-07-16'))), 'ERR_DISCLOSURE_PERIOD', 'above the maximum');
  t.equal(code(() => disclosureWindow(cf('serious', '2026-04-15', 'soon'))), 'ERR_DISCLOSURE_PERIOD', 'not a date');
  t.equal(code(() => disclosureWindow(variant('CF', { severity: undefined }) as unknown as CreditRecordInput)), 'ERR_RECORD_INVALID');
  t.equal(disclosureWindow(exampleRecord('XK')), null, 'positive types have no window');
  const r = cf('ordinary', '2026-04-15');
  t.equal(isDisclosed(r, '2026-04-14'), false, 'not before the decision');
  t.equal(isDisclosed(r, '2026-04-15'), true, 'from the decision date');
  t.equal(isDisclosed(r, '2027-04-15'), true, 'through the last day');
  t.equal(isDisclosed(r, '2027-04-16'), false, 'not after');
  t.equal(isDisclosed(exampleRecord('SXJL'), '2099-01-01'), true, 'positive records stay disclosed');
  t.equal(code(() => isDisclosed(r, '2027/04/16')), 'ERR_INVALID_DATE');
  t.equal(isRepairable(r, '2026-07-14'), false);
  t.equal(isRepairable(r, '2026-07-15'), true, 'repair from decision + 3 months');
  t.equal(isRepairable(exampleRecord('XK'), '2030-01-01'), false);
});

t.test('personal data is masked below max(class, shared)', async (t) => {
  const r = validateRecord(variant('CF', { ...person, remarks: `身份证${PERSON_ID}` }));
  t.ok(r.ok);
  if (!r.ok) return;
  const masked = maskRecord(r.record);
  t.equal(masked.fields.idNumber, '1101**********002X');
  t.equal(masked.fields.subjectName, '张**');
  t.equal(masked.fields.remarks, '身份证1101**********002X');
  t.equal(masked.fields.authorityUscc, r.record.fields.authorityUscc, 'organisations untouched');
  t.equal(r.record.fields.idNumber, PERSON_ID, 'the original is not changed');
  t.same(redactFor(r.record, 'public'), masked, 'public callers see a public natural-person record masked');
  t.equal(redactFor(r.record, 'shared'), r.record, 'government roles see it in full');
  const org = validateRecord(variant('CF', {}, { classification: 'restricted' }));
  if (org.ok) {
    t.equal(redactFor(org.record, 'shared').fields.subjectName, org.record.fields.subjectName, 'organisation names are never masked');
    t.equal(redactFor(org.record, 'restricted'), org.record);
  }
});
