/**
 * The record types of the credit catalog, as data. Field names are ASCII camelCase; labels are the
 * Chinese 双公示 / public-credit-catalog column names (also accepted as keys for CSV headers).
 * Changing a type here is a catalog change: bump CATALOG_VERSION.
 */
import type { Classification } from './classification.js';
import {
  authorityFields, dateField, decisionFields, enumField, lookupField, severityFields, sourceFields, subjectFields, textField,
  type FieldSpec, type RecordType,
} from './catalog-fields.js';
import { buildRecordSchema } from './catalog-schema.js';
import { protocolError } from './errors.js';

export const CATALOG_VERSION = '2026.1';

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
    fields: [
      ...subjectFields('行政相对人名称', '行政相对人类别'),
      ...decisionFields('行政许可决定文书号', '许可决定日期'),
      enumField('category', '许可类别', true, ['普通', '特许', '认可', '核准', '登记', '其他']),
      textField('content', '许可内容', true, 4000),
      dateField('validFrom', '有效期自', true),
      dateField('validTo', '有效期至', true),
      ...authorityFields('许可机关'),
      ...sourceFields(),
    ],
  },
  {
    code: 'CF',
    name: '行政处罚',
    classification: 'public',
    negative: true,
    fields: [
      ...subjectFields('行政相对人名称', '行政相对人类别'),
      ...decisionFields('行政处罚决定书文号', '处罚决定日期'),
      textField('category', '处罚类别', true, 64),
      textField('content', '处罚内容', true, 4000),
      { name: 'fineAmount', label: '罚款金额（万元）', type: 'number', required: false, minimum: 0 },
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

/** The record type with this code; throws ERR_UNKNOWN_RECORD_TYPE. */
export function getRecordType(code: string): RecordType {
  const t = RECORD_TYPES_BY_CODE.get(code);
  if (!t) throw protocolError('ERR_UNKNOWN_RECORD_TYPE', `no record type ${JSON.stringify(code)} in catalog ${CATALOG_VERSION} (known: ${[...RECORD_TYPES_BY_CODE.keys()].join(', ')})`);
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
