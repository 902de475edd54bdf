/**
 * The credit catalog: record types (双公示 行政许可 XK / 行政处罚 CF, 严重失信主体名单 YZSX,
 * 失信被执行人 SXBZX, 守信激励名单 SXJL, 纳税信用A级 NSXY_A), their fields, default classes and
 * validation. Versioned data (catalog-types.ts), not rules scattered through handlers. Pure.
 */
import { LEGACY_SUBJECT_CODES, NATURAL_PERSON, type CreditRecordInput, type RecordType } from './catalog-fields.js';
import { exampleFor } from './catalog-examples.js';
import { CATALOG_VERSION, getRecordType, RECORD_TYPES, RECORD_TYPES_BY_CODE } from './catalog-types.js';
import { CATALOG_VERSION_PATTERN } from './catalog-schema.js';
import { provinceCatalog, type TypeOrigin } from './catalog-registry.js';
import { CLASSIFICATIONS } from './classification.js';
import { protocolError } from './errors.js';

export type { Classification } from './classification.js';
export type { CreditRecordInput, FieldError, FieldSpec, FieldType, RecordType } from './catalog-fields.js';
export { NATURAL_PERSON, SUBJECT_CATEGORIES, ID_TYPES, RESIDENT_ID_DOCUMENTS } from './catalog-fields.js';
export { SEVERITIES, SEVERITY_LABELS, SEVERITY_WINDOWS, type Severity } from './catalog-severity.js';
export { CATALOG_VERSION, getRecordType, findRecordType, fieldByNameOrLabel } from './catalog-types.js';
export type { TypeOrigin } from './catalog-registry.js';
export { validateRecord, validateWireRecord, assertRecord, type ValidRecord, type ValidationResult, type ValidateOptions } from './catalog-validate.js';
export { SUPPORTED_CATALOG_VERSIONS, WIRE_DEFAULT_CATALOG_VERSION, isSupportedCatalogVersion, recordTypeIn } from './catalog-versions.js';
export { PENALTY_CATEGORIES, LICENCE_CATEGORIES, LICENCE_STATES, LEGACY_SUBJECT_CODES } from './catalog-fields.js';
export { ruleSetFor, RULE_SETS, severityFromWindow, defaultSeverity, type RuleSet, type SeverityBand, type SeverityDefaults, type SeverityDerivation } from './catalog-rules.js';

/** The national types, then those of the province catalog held (catalog-registry.ts). */
export function listRecordTypes(): RecordType[] {
  return [...RECORD_TYPES, ...(provinceCatalog()?.types.values() ?? [])];
}

/** Where a type was defined: the built-in national catalog, or the province catalog with its serial and time. */
export function recordTypeOrigin(code: string): TypeOrigin {
  const p = provinceCatalog();
  if (p && !RECORD_TYPES_BY_CODE.has(code) && p.types.has(code)) return { source: 'province', province: p.province, serial: p.serial, publishedAt: p.publishedAt, title: p.title };
  getRecordType(code);
  return { source: 'national', version: CATALOG_VERSION };
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
    catalogVersion: { type: 'string', pattern: CATALOG_VERSION_PATTERN },
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

/**
 * The subject's identifier: `idNumber` for natural persons (自然人), otherwise the USCC — or, for a
 * subject registered before the USCC (national layout), the first older registration number given
 * (工商注册号, 组织机构代码, 税务登记号, 事业单位证书号, 社会组织登记证号, in that order).
 */
export function subjectOf(record: CreditRecordInput): string {
  const t = getRecordType(record.type);
  const candidates = record.fields.subjectCategory === NATURAL_PERSON ? ['idNumber'] : [t.subjectField, ...LEGACY_SUBJECT_CODES.map(([n]) => n)];
  for (const field of candidates) {
    const v = record.fields[field];
    if (typeof v === 'string' && v !== '') return v;
  }
  throw protocolError('ERR_RECORD_INVALID', `record has no subject identifier (${candidates[0]})`);
}

/** One valid example record of `type`, in exactly the shape POST /v1/records takes. */
export function exampleRecord(type: string): CreditRecordInput {
  getRecordType(type);
  return exampleFor(type)!;
}
