/**
 * The record types of the credit catalog, as data. Field names are ASCII camelCase; labels are the
 * Chinese 双公示 / public-credit-catalog column names (also accepted as keys for CSV headers).
 * Changing a type here is a catalog change: bump CATALOG_VERSION.
 */
import type { Classification } from './classification.js';
import {
  amountField, authorityFields, dateField, decisionFields, enumField, enumListField, LICENCE_CATEGORIES, LICENCE_STATE_ALIASES, LICENCE_STATES,
  lookupField, nationalSubjectFields, PENALTY_CATEGORIES, PENALTY_CATEGORY_ALIASES, severityFields, sourceFields, subjectFields, textField,
  type FieldSpec, type RecordType,
} from './catalog-fields.js';
import { buildRecordSchema } from './catalog-schema.js';
import { provinceCatalog, provinceRecordType } from './catalog-registry.js';
import { protocolError } from './errors.js';

/**
 * The catalog version this implementation writes. 2027.1: XK and CF carry the national 双公示 field
 * sets (2021 standard). Records of 2026.1 stay valid during the migration, checked against the
 * 2026.1 field sets (catalog-v2026.ts, catalog-versions.ts).
 */
export const CATALOG_VERSION = '2027.1';

interface TypeDef {
  code: string;
  name: string;
  classification: Classification;
  negative: boolean;
  fields: FieldSpec[];
  naturalKey?: string[];
}

const DEFS: TypeDef[] = [
  {
    code: 'XK',
    name: '行政许可',
    classification: 'public',
    negative: false,
    // The national 双公示 行政许可 columns (2021), in the template's order: docs/catalog.md.
    fields: [
      ...nationalSubjectFields(),
      textField('documentName', '行政许可决定文书名称', true, 200),
      textField('decisionNo', '行政许可决定文书号', true, 128),
      enumField('category', '许可类别', true, LICENCE_CATEGORIES),
      textField('certificateName', '许可证书名称', false, 200),
      textField('licenceNo', '许可编号', false, 128),
      textField('content', '许可内容', true, 4000),
      dateField('decisionDate', '许可决定日期', true),
      dateField('validFrom', '有效期自', true),
      dateField('validTo', '有效期至', true),
      ...authorityFields('许可机关'),
      enumField('status', '当前状态', true, LICENCE_STATES, LICENCE_STATE_ALIASES),
      ...sourceFields(),
    ],
  },
  {
    code: 'CF',
    name: '行政处罚',
    classification: 'public',
    negative: true,
    // The national 双公示 行政处罚 columns (2021), in the template's order, plus 失信程度 (local).
    fields: [
      ...nationalSubjectFields(),
      textField('decisionNo', '行政处罚决定书文号', true, 128),
      textField('violationType', '违法行为类型', true, 2000),
      textField('violationFacts', '违法事实', true, 5000),
      textField('basis', '处罚依据', true, 2000),
      enumListField('category', '处罚类别', true, PENALTY_CATEGORIES, PENALTY_CATEGORY_ALIASES),
      textField('content', '处罚内容', true, 4000),
      amountField('fineAmount', '罚款金额（万元）', { field: 'category', anyOf: ['罚款'] }),
      amountField('confiscatedAmount', '没收违法所得、没收非法财物的金额（万元）', { field: 'category', anyOf: ['没收违法所得', '没收非法财物'] }),
      textField('licenceRef', '暂扣或吊销证照名称及编号', false, 500, { requiredIf: { field: 'category', anyOf: ['暂扣许可证件', '吊销许可证件'] } }),
      dateField('decisionDate', '处罚决定日期', true),
      dateField('penaltyValidTo', '处罚有效期', true),
      ...severityFields(),
      ...authorityFields('处罚机关'),
      ...sourceFields(),
    ],
  },
  {
    code: 'YZSX',
    name: '严重失信主体名单',
    classification: 'public',
    negative: true,
    fields: [
      ...subjectFields('主体名称', '主体类别'),
      ...decisionFields('认定决定文书号', '认定日期'),
      textField('reason', '列入事由', true, 2000),
      textField('basis', '列入依据', false, 1000),
      ...severityFields(['serious']),
      ...authorityFields('认定部门'),
      ...sourceFields(),
    ],
  },
  {
    code: 'SXBZX',
    name: '失信被执行人',
    classification: 'shared',
    negative: true,
    fields: [
      ...subjectFields('被执行人名称', '被执行人类别'),
      ...decisionFields('执行案号', '纳入决定日期'),
      textField('basisNo', '执行依据文号', false, 128),
      textField('content', '失信被执行人行为具体情形', true, 2000),
      enumField('performance', '被执行人的履行情况', false, ['全部未履行', '部分履行']),
      ...severityFields(),
      ...authorityFields('执行法院'),
      ...sourceFields(),
    ],
  },
  {
    code: 'SXJL',
    name: '守信激励名单',
    classification: 'public',
    negative: false,
    fields: [
      ...subjectFields('主体名称', '主体类别'),
      ...decisionFields('认定文书号', '认定日期'),
      textField('reason', '列入事由', true, 2000),
      dateField('validTo', '有效期至', false),
      ...authorityFields('认定部门'),
      ...sourceFields(),
    ],
  },
  {
    code: 'NSXY_A',
    name: '纳税信用A级',
    classification: 'public',
    negative: false,
    naturalKey: ['evaluationYear', 'uscc', 'sourceUscc'],
    fields: [
      ...subjectFields('纳税人名称', '纳税人类别', { persons: false }),
      { name: 'evaluationYear', label: '评价年度', type: 'integer', required: true, minimum: 2014, maximum: 2100 },
      dateField('decisionDate', '发布日期', true),
      ...authorityFields('评价机关'),
      ...sourceFields(),
    ],
  },
];

function deepFreeze<T>(o: T): T {
  if (o && typeof o === 'object' && !Object.isFrozen(o)) {
    Object.freeze(o);
    for (const v of Object.values(o)) deepFreeze(v);
  }
  return o;
}

export const RECORD_TYPES: readonly RecordType[] = deepFreeze(
  DEFS.map((d) => {
    const base = { code: d.code, name: d.name, classification: d.classification, negative: d.negative, fields: d.fields, naturalKey: d.naturalKey ?? ['decisionNo', 'sourceUscc'], subjectField: 'uscc' };
    return { ...base, schema: buildRecordSchema(base) };
  }),
);

export const RECORD_TYPES_BY_CODE: ReadonlyMap<string, RecordType> = new Map(RECORD_TYPES.map((t) => [t.code, t]));

/** The record type with this code, national or from the province catalog held (catalog-registry.ts). */
export function findRecordType(code: string): RecordType | undefined {
  return RECORD_TYPES_BY_CODE.get(code) ?? provinceRecordType(code);
}

/** Every type code known here: national first, then the province catalog's. */
export function knownTypeCodes(): string[] {
  return [...RECORD_TYPES_BY_CODE.keys(), ...(provinceCatalog()?.types.keys() ?? [])];
}

/** The record type with this code; throws ERR_UNKNOWN_RECORD_TYPE. */
export function getRecordType(code: string): RecordType {
  const t = findRecordType(code);
  if (!t) throw protocolError('ERR_UNKNOWN_RECORD_TYPE', `no record type ${JSON.stringify(code)} in catalog ${CATALOG_VERSION}${provinceCatalog() ? ` + province catalog serial ${provinceCatalog()!.serial}` : ''} (known: ${knownTypeCodes().join(', ')})`);
  return t;
}

/**
 * The field a key names, by ASCII name or by Chinese label (CSV headers); undefined when the type
 * has no such field. Throws ERR_UNKNOWN_RECORD_TYPE for an unknown type code.
 */
export function fieldByNameOrLabel(type: string | RecordType, key: string): FieldSpec | undefined {
  const t = typeof type === 'string' ? getRecordType(type) : type;
  return lookupField(t.fields, key);
}
