/**
 * The record types whose field sets changed in catalog 2027.1, as they were in catalog 2026.1
 * (XK 行政许可 and CF 行政处罚 before the national 双公示 field sets). Frozen history: records stamped
 * 2026.1 are validated against these during the migration (catalog-versions.ts). Never edit them;
 * every other type is unchanged since 2026.1 and is looked up in the current catalog.
 */
import { authorityFields, dateField, decisionFields, enumField, severityFields, sourceFields, subjectFields, textField, type RecordType } from './catalog-fields.js';
import { buildRecordSchema } from './catalog-schema.js';

export const CATALOG_VERSION_2026 = '2026.1';

const DEFS_2026: Omit<RecordType, 'schema' | 'naturalKey' | 'subjectField'>[] = [
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
];

function deepFreeze<T>(o: T): T {
  if (o && typeof o === 'object' && !Object.isFrozen(o)) {
    Object.freeze(o);
    for (const v of Object.values(o)) deepFreeze(v);
  }
  return o;
}

/** The 2026.1 shapes of the types that changed in 2027.1, by code. */
export const RECORD_TYPES_2026_CHANGED: ReadonlyMap<string, RecordType> = new Map(
  DEFS_2026.map((d) => {
    const base = { ...d, naturalKey: ['decisionNo', 'sourceUscc'], subjectField: 'uscc' };
    return [d.code, deepFreeze({ ...base, schema: buildRecordSchema(base) })];
  }),
);
