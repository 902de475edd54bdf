/**
 * JSON Schemas generated from the catalog's field specs, for HTTP routes and API docs. A schema
 * describes the canonical JSON form of a record; `validateRecord()` is the authority and also
 * checks what JSON Schema cannot (check characters, real dates, disclosure windows) and accepts the
 * CSV spellings listed in its comment.
 */
import { CLASSIFICATIONS, classRank } from './classification.js';
import { LEGACY_SUBJECT_CODES, NATURAL_PERSON, type FieldSpec, type RecordType } from './catalog-fields.js';

const USCC_CHAR = '[0-9A-HJ-NP-RTUW-Y]';
export const USCC_PATTERN = `^[1-9ANY][1-9][0-9]{6}${USCC_CHAR}{8}[0-9X]${USCC_CHAR}$`;
export const RESIDENT_ID_PATTERN = '^[0-9]{17}[0-9X]$';
export const DATE_PATTERN = '^[0-9]{4}-[0-9]{2}-[0-9]{2}$';
/** A catalog version: YEAR.RELEASE (2027.1). */
export const CATALOG_VERSION_PATTERN = '^[0-9]{4}\\.[0-9]{1,3}$';

function fieldSchema(f: FieldSpec): Record<string, unknown> {
  const s: Record<string, unknown> = { title: f.label };
  switch (f.type) {
    case 'uscc':
      return { ...s, type: 'string', pattern: USCC_PATTERN };
    case 'resident-id':
      return { ...s, type: 'string', pattern: RESIDENT_ID_PATTERN };
    case 'subject-id':
      return { ...s, type: 'string', anyOf: [{ pattern: USCC_PATTERN }, { pattern: RESIDENT_ID_PATTERN }] };
    case 'date':
      return { ...s, type: 'string', pattern: DATE_PATTERN };
    case 'enum':
      return { ...s, type: 'string', enum: [...(f.enum ?? []), ...Object.keys(f.aliases ?? {})] };
    case 'enum-list':
      // Canonical form; validateRecord also takes one string separated by ；.
      return { ...s, type: 'array', minItems: 1, uniqueItems: true, items: { type: 'string', enum: [...(f.enum ?? []), ...Object.keys(f.aliases ?? {})] } };
    case 'integer':
    case 'number':
      return { ...s, type: f.type, ...(f.minimum !== undefined ? { minimum: f.minimum } : {}), ...(f.maximum !== undefined ? { maximum: f.maximum } : {}) };
    default:
      return { ...s, type: 'string', minLength: 1, ...(f.maxLength !== undefined ? { maxLength: f.maxLength } : {}) };
  }
}

/** The JSON Schema of one record type's `CreditRecordInput`. */
export function buildRecordSchema(t: Omit<RecordType, 'schema'>): object {
  const names = t.fields.map((f) => f.name);
  const persons = names.includes('idNumber');
  // National layout: an organisation without a USCC gives one of the older registration numbers.
  const legacy = LEGACY_SUBJECT_CODES.map(([n]) => n).filter((n) => names.includes(n));
  const organisation = legacy.length > 0 ? { anyOf: ['uscc', ...legacy].map((n) => ({ required: [n] })) } : { required: ['uscc'] };
  return {
    $id: `credit-record-${t.code}`,
    title: `${t.code} ${t.name}`,
    type: 'object',
    additionalProperties: false,
    required: ['type', 'fields'],
    properties: {
      type: { const: t.code },
      classification: { type: 'string', enum: CLASSIFICATIONS.filter((c) => classRank(c) >= classRank(t.classification)) },
      catalogVersion: { type: 'string', pattern: CATALOG_VERSION_PATTERN },
      fields: {
        type: 'object',
        additionalProperties: false,
        required: t.fields.filter((f) => f.required).map((f) => f.name),
        properties: Object.fromEntries(t.fields.map((f) => [f.name, fieldSchema(f)])),
        ...(persons
          ? {
              if: { properties: { subjectCategory: { const: NATURAL_PERSON } }, required: ['subjectCategory'] },
              then: { required: ['idType', 'idNumber'] },
              else: organisation,
            }
          : {}),
      },
    },
  };
}
