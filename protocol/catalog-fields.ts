/**
 * The shapes of the credit catalog (record types, field specs, record input, field errors) and
 * the field groups the record types share (the 双公示 subject block, the deciding authority, the
 * data source, the severity block of negative information).
 */
import type { Classification } from './classification.js';
import { SEVERITIES, SEVERITY_LABELS } from './catalog-severity.js';

/** `enum-list`: a set of `enum` values, canonically a JSON array in `enum` order (处罚类别). */
export type FieldType = 'string' | 'date' | 'uscc' | 'resident-id' | 'subject-id' | 'enum' | 'enum-list' | 'integer' | 'number';

export interface FieldSpec {
  /** ASCII camelCase key used in `fields`. */
  name: string;
  /** Chinese 双公示 label; also accepted as a key (CSV headers). */
  label: string;
  type: FieldType;
  required: boolean;
  enum?: string[];
  /** Other spellings accepted for an enum value and normalised to it (轻微 → minor). */
  aliases?: Record<string, string>;
  /** Maximum length in characters (code points). */
  maxLength?: number;
  /** Inclusive bounds for integer / number fields. */
  minimum?: number;
  maximum?: number;
  /** Personal data: masked for callers below the record's class (see protocol/mask.ts). */
  pii?: boolean;
  /**
   * Required when another field holds one of these values (for an `enum-list`, when its set
   * contains one): 罚款金额 when 处罚类别 contains 罚款. ERR_FIELD_REQUIRED otherwise.
   */
  requiredIf?: { field: string; anyOf: string[] };
  /** Not a column of the national 双公示 standard (a province addition such as 失信程度): left out of `credit catalog template`. */
  local?: boolean;
}

export interface RecordType {
  code: string;
  name: string;
  /** Default class; an owner may raise it, never lower it. */
  classification: Classification;
  /** Negative (失信) information: carries a severity and a disclosure window. */
  negative: boolean;
  fields: FieldSpec[];
  /** Field names that, with the type code, identify a record across resubmissions. */
  naturalKey: string[];
  /**
   * The field holding an organisation subject's identifier (`uscc`). Records about natural
   * persons (subjectCategory 自然人) are identified by `idNumber` instead: use `subjectOf()`.
   */
  subjectField: string;
  /** JSON Schema (draft 2020-12 subset Ajv accepts) of the whole record input. */
  schema: object;
}

export interface CreditRecordInput {
  type: string;
  classification?: Classification;
  /** Catalog version the record is written against (absent: see protocol/catalog-versions.ts). */
  catalogVersion?: string;
  fields: Record<string, unknown>;
}

export interface FieldError {
  /** Position of the record in a batch or CSV file (set by callers that validate many). */
  index?: number;
  field: string;
  code: string;
  message: string;
}

export const NATURAL_PERSON = '自然人';
export const SUBJECT_CATEGORIES = ['法人及非法人组织', NATURAL_PERSON, '个体工商户'];
/** Document types whose numbers follow GB 11643 and are checked as resident IDs. */
export const RESIDENT_ID_DOCUMENTS = ['身份证', '港澳台居民居住证'];
export const ID_TYPES = [...RESIDENT_ID_DOCUMENTS, '护照', '港澳居民来往内地通行证', '台湾居民来往大陆通行证', '外国人永久居留身份证', '其他'];
/** Spellings of document types seen in department exports, normalised to ID_TYPES. */
export const ID_TYPE_ALIASES: Record<string, string> = { 居民身份证: '身份证', 护照号: '护照' };

/**
 * 处罚类别: the kinds of administrative penalty of 行政处罚法 (2021) art. 9, in the article's order;
 * 其他 stands for item (六), other penalties laid down by laws and administrative regulations.
 */
export const PENALTY_CATEGORIES = [
  '警告', '通报批评', '罚款', '没收违法所得', '没收非法财物', '暂扣许可证件', '降低资质等级', '吊销许可证件',
  '限制开展生产经营活动', '责令停产停业', '责令关闭', '限制从业', '行政拘留', '其他',
];
/** Older spellings of penalty kinds (pre-2021 templates) that name exactly one kind. */
export const PENALTY_CATEGORY_ALIASES: Record<string, string> = {
  暂扣许可证: '暂扣许可证件', 暂扣执照: '暂扣许可证件', 吊销许可证: '吊销许可证件', 吊销执照: '吊销许可证件',
  没收违法所得和非法财物: '没收违法所得', 其他行政处罚: '其他',
};
/** 许可类别 (行政许可法 art. 12). */
export const LICENCE_CATEGORIES = ['普通', '特许', '认可', '核准', '登记', '其他'];
/** 当前状态 of a licence; the 2021 template codes them 1 and 2. */
export const LICENCE_STATES = ['有效', '无效'];
export const LICENCE_STATE_ALIASES: Record<string, string> = { '1': '有效', '2': '无效', 正常: '有效' };

const text = (name: string, label: string, required: boolean, maxLength: number, extra: Partial<FieldSpec> = {}): FieldSpec => ({ name, label, type: 'string', required, maxLength, ...extra });
const date = (name: string, label: string, required: boolean): FieldSpec => ({ name, label, type: 'date', required });
const uscc = (name: string, label: string, required: boolean): FieldSpec => ({ name, label, type: 'uscc', required });
const choice = (name: string, label: string, required: boolean, values: string[], aliases?: Record<string, string>): FieldSpec => ({ name, label, type: 'enum', required, enum: values, ...(aliases ? { aliases } : {}) });

/**
 * Who the record is about. `uscc` is required for organisations and 个体工商户; `idType` and
 * `idNumber` for natural persons (checked as a resident ID when idType is 身份证 or 港澳台居民居住证).
 */
export function subjectFields(nameLabel: string, categoryLabel: string, opts: { persons: boolean } = { persons: true }): FieldSpec[] {
  const categories = opts.persons ? SUBJECT_CATEGORIES : SUBJECT_CATEGORIES.filter((c) => c !== NATURAL_PERSON);
  return [
    text('subjectName', nameLabel, true, 200),
    choice('subjectCategory', categoryLabel, true, categories),
    uscc('uscc', '统一社会信用代码', !opts.persons),
    text('legalRep', '法定代表人', false, 50),
    ...(opts.persons ? [choice('idType', '证件类型', false, ID_TYPES, ID_TYPE_ALIASES), text('idNumber', '证件号码', false, 32, { pii: true })] : []),
  ];
}

/**
 * The identity block of the national 双公示 standard (2021), in its column order: name, category,
 * the USCC and — for subjects registered before the USCC, when it is absent — the older
 * registration numbers; the legal representative with his document; a natural person's
 * document. Rules between them (validateRecord): an organisation or 个体工商户 gives the USCC or
 * at least one older number; a natural person gives idType + idNumber; a document number needs
 * its type; numbers of 身份证 / 港澳台居民居住证 are checked as resident IDs (GB 11643).
 */
export function nationalSubjectFields(): FieldSpec[] {
  return [
    text('subjectName', '行政相对人名称', true, 200),
    choice('subjectCategory', '行政相对人类别', true, [...SUBJECT_CATEGORIES]),
    uscc('uscc', '统一社会信用代码', false),
    ...LEGACY_SUBJECT_CODES.map(([name, label, max]) => text(name, label, false, max)),
    text('legalRep', '法定代表人', false, 50),
    choice('legalRepIdType', '法定代表人证件类型', false, ID_TYPES, ID_TYPE_ALIASES),
    text('legalRepIdNumber', '法定代表人证件号码', false, 32, { pii: true }),
    choice('idType', '证件类型', false, ID_TYPES, ID_TYPE_ALIASES),
    text('idNumber', '证件号码', false, 32, { pii: true }),
  ];
}

/** The registration numbers that preceded the USCC (行政相对人代码_2 … _6): name, label, max length. */
export const LEGACY_SUBJECT_CODES: readonly (readonly [string, string, number])[] = [
  ['regNo', '工商注册号', 50],
  ['orgCode', '组织机构代码', 10],
  ['taxRegNo', '税务登记号', 20],
  ['institutionCertNo', '事业单位证书号', 50],
  ['socialOrgCertNo', '社会组织登记证号', 50],
];

export function decisionFields(noLabel: string, dateLabel: string): FieldSpec[] {
  return [text('decisionNo', noLabel, true, 128), date('decisionDate', dateLabel, true)];
}

export function authorityFields(label: string): FieldSpec[] {
  return [text('authority', label, true, 200), uscc('authorityUscc', `${label}统一社会信用代码`, true)];
}

export function sourceFields(): FieldSpec[] {
  return [text('sourceName', '数据来源单位', true, 200), uscc('sourceUscc', '数据来源单位统一社会信用代码', true), text('remarks', '备注', false, 512)];
}

/**
 * Severity (失信程度) and the stated end of disclosure (公示截止期), both optional: a missing
 * severity is derived from 公示截止期 or the province default (catalog-rules.ts, catalog-validate.ts).
 */
export function severityFields(allowed: readonly string[] = SEVERITIES): FieldSpec[] {
  const aliases = Object.fromEntries(Object.entries(SEVERITY_LABELS).filter(([k]) => allowed.includes(k)).map(([k, v]) => [v, k]));
  return [{ ...choice('severity', '失信程度', false, [...allowed], aliases), local: true }, date('disclosureEnd', '公示截止期', false)];
}

/** A set of values from `values` (canonically a JSON array in `values` order); `aliases` map older spellings. */
export function enumListField(name: string, label: string, required: boolean, values: string[], aliases?: Record<string, string>): FieldSpec {
  return { name, label, type: 'enum-list', required, enum: values, ...(aliases ? { aliases } : {}) };
}

/** An amount in 万元 (ten thousand yuan), ≥ 0, required when `requiredIf` holds. */
export function amountField(name: string, label: string, requiredIf: { field: string; anyOf: string[] }): FieldSpec {
  return { name, label, type: 'number', required: false, minimum: 0, requiredIf };
}

export function textField(name: string, label: string, required: boolean, maxLength: number, extra: Partial<FieldSpec> = {}): FieldSpec {
  return text(name, label, required, maxLength, extra);
}

export function enumField(name: string, label: string, required: boolean, values: string[], aliases?: Record<string, string>): FieldSpec {
  return choice(name, label, required, values, aliases);
}

export function usccField(name: string, label: string, required: boolean): FieldSpec {
  return uscc(name, label, required);
}

export function dateField(name: string, label: string, required: boolean): FieldSpec {
  return date(name, label, required);
}

/** Labels compare without spaces and with full-width parentheses folded: 罚款金额(万元) = 罚款金额（万元）. */
export function foldLabel(s: string): string {
  return s.replace(/\s+/g, '').replaceAll('（', '(').replaceAll('）', ')');
}

interface FieldIndex {
  byName: Map<string, FieldSpec>;
  byLabel: Map<string, FieldSpec>;
}
const fieldIndexes = new WeakMap<readonly FieldSpec[], FieldIndex>();

/**
 * The field a key names in `fields`, by ASCII name or by Chinese label, through maps built once
 * per field list. A key is folded (foldLabel) only when it matches no name or label as written,
 * so the common case — validating rows keyed by name — does no string work.
 */
export function lookupField(fields: readonly FieldSpec[], key: string): FieldSpec | undefined {
  let ix = fieldIndexes.get(fields);
  if (!ix) {
    ix = { byName: new Map(), byLabel: new Map() };
    for (const f of fields) {
      if (!ix.byName.has(f.name)) ix.byName.set(f.name, f);
      const folded = foldLabel(f.label);
      if (!ix.byLabel.has(folded)) ix.byLabel.set(folded, f);
    }
    fieldIndexes.set(fields, ix);
  }
  return ix.byName.get(key) ?? ix.byLabel.get(key) ?? ix.byLabel.get(foldLabel(key));
}
