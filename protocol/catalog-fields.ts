/**
 * The shapes of the credit catalog (record types, field specs, record input, field errors) and
 * the field groups the record types share (the 双公示 subject block, the deciding authority, the
 * data source, the severity block of negative information).
 */
import type { Classification } from './classification.js';
import { SEVERITIES, SEVERITY_LABELS } from './catalog-severity.js';

export type FieldType = 'string' | 'date' | 'uscc' | 'resident-id' | 'subject-id' | 'enum' | 'integer' | 'number';

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
    ...(opts.persons ? [choice('idType', '证件类型', false, ID_TYPES), text('idNumber', '证件号码', false, 32, { pii: true })] : []),
  ];
}

export function decisionFields(noLabel: string, dateLabel: string): FieldSpec[] {
  return [text('decisionNo', noLabel, true, 128), date('decisionDate', dateLabel, true)];
}

export function authorityFields(label: string): FieldSpec[] {
  return [text('authority', label, true, 200), uscc('authorityUscc', `${label}统一社会信用代码`, true)];
}

export function sourceFields(): FieldSpec[] {
  return [text('sourceName', '数据来源单位', true, 200), uscc('sourceUscc', '数据来源单位统一社会信用代码', true), text('remarks', '备注', false, 512)];
}

/** Severity (required) and an optional stated end of disclosure (公示截止期). */
export function severityFields(allowed: readonly string[] = SEVERITIES): FieldSpec[] {
  const aliases = Object.fromEntries(Object.entries(SEVERITY_LABELS).filter(([k]) => allowed.includes(k)).map(([k, v]) => [v, k]));
  return [choice('severity', '失信程度', true, [...allowed], aliases), date('disclosureEnd', '公示截止期', false)];
}

export function textField(name: string, label: string, required: boolean, maxLength: number): FieldSpec {
  return text(name, label, required, maxLength);
}

export function enumField(name: string, label: string, required: boolean, values: string[]): FieldSpec {
  return choice(name, label, required, values);
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
