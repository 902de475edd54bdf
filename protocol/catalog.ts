/**
 * The credit catalog: record types (双公示 行政许可 XK / 行政处罚 CF, 严重失信主体名单 YZSX,
 * 失信被执行人 SXBZX, 守信激励名单 SXJL, 纳税信用A级 NSXY_A), their fields, default classes and
 * validation. Versioned data (catalog-types.ts), not rules scattered through handlers. Pure.
 */
import { NATURAL_PERSON, type CreditRecordInput, type RecordType } from './catalog-fields.js';
import { exampleFor } from './catalog-examples.js';
import { CATALOG_VERSION, getRecordType, RECORD_TYPES } from './catalog-types.js';
import { CLASSIFICATIONS } from './classification.js';
import { protocolError } from './errors.js';

export type { Classification } from './classification.js';
export type { CreditRecordInput, FieldError, FieldSpec, FieldType, RecordType } from './catalog-fields.js';
export { NATURAL_PERSON, SUBJECT_CATEGORIES, ID_TYPES, RESIDENT_ID_DOCUMENTS } from './catalog-fields.js';
export { SEVERITIES, SEVERITY_LABELS, SEVERITY_WINDOWS, type Severity } from './catalog-severity.js';
export { CATALOG_VERSION, getRecordType, fieldByNameOrLabel } from './catalog-types.js';
export { validateRecord, assertRecord, type ValidRecord, type ValidationResult } from './catalog-validate.js';

export function listRecordTypes(): RecordType[] {
  return [...RECORD_TYPES];
}

/**
 * Loose schema of any record input, for an HTTP route body: the shape only. The handler then
 * calls validateRecord(), which knows each type's fields (and reports them all at once).
 */
export const RECORD_INPUT_SCHEMA = Object.freeze({
  $id: 'credit-record-input',
  type: 'object',
  additionalProperties: false,
  required: ['type', 'fields'],
  properties: {
    type: { type: 'string', enum: RECORD_TYPES.map((t) => t.code) },
    classification: { type: 'string', enum: [...CLASSIFICATIONS] },
    fields: { type: 'object' },
  },
});

/**
 * A stable string identifying a record across resubmissions: the type code and the values of its
 * natural-key fields (decision number + source unit's USCC; NSXY_A: year + subject + source), as a
 * JSON array so no separator can collide with a value.
 */
export function naturalKey(record: CreditRecordInput): string {
  const t = getRecordType(record.type);
  return JSON.stringify([t.code, ...t.naturalKey.map((n) => (record.fields[n] === undefined || record.fields[n] === null ? '' : String(record.fields[n])))]);
}

/** The subject's identifier: `idNumber` for natural persons (自然人), otherwise the USCC. */
export function subjectOf(record: CreditRecordInput): string {
  const t = getRecordType(record.type);
  const field = record.fields.subjectCategory === NATURAL_PERSON ? 'idNumber' : t.subjectField;
  const v = record.fields[field];
  if (typeof v !== 'string' || v === '') throw protocolError('ERR_RECORD_INVALID', `record has no subject identifier (${field})`);
  return v;
}

/** One valid example record of `type`, in exactly the shape POST /v1/records takes. */
export function exampleRecord(type: string): CreditRecordInput {
  getRecordType(type);
  return exampleFor(type)!;
}
