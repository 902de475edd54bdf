/**
 * The province supplementary catalog (地方补充目录) as data: the body of the signed document the
 * hub publishes (docs/catalog.md, "Province supplementary catalog"), and the checks every reader
 * runs on it before it adds a single type — parse → assert (every problem at once) → build.
 *
 * A body holds record types described with the same FieldSpec data as the national catalog
 * (protocol/catalog-fields.ts). It may add types, never redefine a national one
 * (ERR_CATALOG_TYPE_REDEFINED); anything else it cannot hold — unknown keys or field types, a
 * duplicate type code, field name or label, a natural key naming no field, a negative type
 * without severity, sizes past the limits below — is ERR_CATALOG_INVALID with every problem in
 * `details`. Pure.
 */
import { buildRecordSchema } from './catalog-schema.js';
import { foldLabel, type FieldSpec, type FieldType, type RecordType } from './catalog-fields.js';
import { SEVERITIES } from './catalog-severity.js';
import { CLASSIFICATIONS, isClassification, type Classification } from './classification.js';
import { protocolError } from './errors.js';

export const CATALOG_FORMAT = 'credit-province-catalog/1';

/** Limits a body must keep: a hostile document costs a reader bounded work. */
export const CATALOG_LIMITS = Object.freeze({
  /** The whole signed document, UTF-8 bytes. */
  maxDocumentBytes: 1024 * 1024,
  maxTypes: 64,
  maxFieldsPerType: 80,
  maxEnumValues: 200,
  maxEnumValueChars: 100,
  maxLabelChars: 64,
  maxTextChars: 20_000,
  maxNaturalKey: 5,
  maxTitleChars: 200,
});

/** The field types a province type may use: those validateRecord() knows. */
export const CATALOG_FIELD_TYPES: readonly FieldType[] = ['string', 'date', 'uscc', 'resident-id', 'subject-id', 'enum', 'integer', 'number'];

export interface CatalogTypeDef {
  code: string;
  name: string;
  classification: Classification;
  negative: boolean;
  naturalKey: string[];
  fields: FieldSpec[];
}

/** What the hub operator writes (`credit hub catalog publish --file`). */
export interface CatalogDraft {
  title: string;
  types: CatalogTypeDef[];
}

/** What the hub signs: the draft plus who published it, the serial and the time. */
export interface CatalogBody extends CatalogDraft {
  /** The province's division code: the hub's node id (430000). */
  province: string;
  /** 1, 2, 3 …: only ever increases. */
  serial: number;
  /** UTC ISO time with milliseconds. */
  publishedAt: string;
}

export interface CatalogProblem {
  path: string;
  message: string;
}

const TYPE_CODE = /^[A-Z][A-Z0-9_]{1,15}$/;
const FIELD_NAME = /^[a-z][A-Za-z0-9]{0,39}$/;
const PROVINCE = /^[1-9]\d{5}$/;
const ISO_MS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const TYPE_KEYS = ['code', 'name', 'classification', 'negative', 'naturalKey', 'fields'];
const FIELD_KEYS = ['name', 'label', 'type', 'required', 'enum', 'aliases', 'maxLength', 'minimum', 'maximum', 'pii'];
/** Every record names its subject: the hub and the nodes find subjects through these fields. */
const SUBJECT_BLOCK = ['subjectName', 'subjectCategory', 'uscc'];

/** Every problem found (the first 50 kept), and how many: a checker compares counts to know whether it added one. */
class Problems {
  n = 0;
  readonly list: CatalogProblem[] = [];
  readonly add = (path: string, message: string): void => {
    this.n++;
    if (this.list.length < 50) this.list.push({ path, message });
  };
}

type Bad = Problems['add'];

function isObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

function text(x: unknown, max: number): x is string {
  return typeof x === 'string' && x.trim() !== '' && [...x].length <= max;
}

function unknownKeys(o: Record<string, unknown>, allowed: readonly string[], path: string, bad: Bad): void {
  for (const k of Object.keys(o)) if (!allowed.includes(k)) bad(`${path}.${k}`, 'is not a member this format has');
}

function assertField(f: unknown, path: string, p: Problems): FieldSpec | null {
  const bad = p.add;
  if (!isObject(f)) return bad(path, 'is not an object'), null;
  unknownKeys(f, FIELD_KEYS, path, bad);
  const before = p.n;
  if (typeof f.name !== 'string' || !FIELD_NAME.test(f.name)) bad(`${path}.name`, 'must be ASCII camelCase, 1–40 characters');
  if (!text(f.label, CATALOG_LIMITS.maxLabelChars)) bad(`${path}.label`, `must be a non-empty label of at most ${CATALOG_LIMITS.maxLabelChars} characters`);
  if (typeof f.type !== 'string' || !(CATALOG_FIELD_TYPES as readonly string[]).includes(f.type)) bad(`${path}.type`, `must be one of ${CATALOG_FIELD_TYPES.join(', ')}`);
  if (typeof f.required !== 'boolean') bad(`${path}.required`, 'must be true or false');
  if (f.pii !== undefined && typeof f.pii !== 'boolean') bad(`${path}.pii`, 'must be true or false');
  const numeric = f.type === 'integer' || f.type === 'number';
  for (const k of ['minimum', 'maximum'] as const) {
    if (f[k] === undefined) continue;
    if (!numeric) bad(`${path}.${k}`, 'is only for integer and number fields');
    else if (typeof f[k] !== 'number' || !Number.isFinite(f[k])) bad(`${path}.${k}`, 'must be a finite number');
  }
  if (typeof f.minimum === 'number' && typeof f.maximum === 'number' && f.minimum > f.maximum) bad(`${path}.minimum`, 'is above maximum');
  if (f.maxLength !== undefined) {
    if (f.type !== 'string') bad(`${path}.maxLength`, 'is only for string fields');
    else if (typeof f.maxLength !== 'number' || !Number.isSafeInteger(f.maxLength) || f.maxLength < 1 || f.maxLength > CATALOG_LIMITS.maxTextChars) bad(`${path}.maxLength`, `must be a whole number from 1 to ${CATALOG_LIMITS.maxTextChars}`);
  } else if (f.type === 'string') bad(`${path}.maxLength`, 'is required for string fields (a bound on what a record may carry)');
  if (f.type === 'enum') {
    const values = f.enum;
    if (!Array.isArray(values) || values.length === 0 || values.length > CATALOG_LIMITS.maxEnumValues) bad(`${path}.enum`, `must list 1–${CATALOG_LIMITS.maxEnumValues} values`);
    else if (!values.every((v) => text(v, CATALOG_LIMITS.maxEnumValueChars))) bad(`${path}.enum`, `values must be non-empty strings of at most ${CATALOG_LIMITS.maxEnumValueChars} characters`);
    else if (new Set(values).size !== values.length) bad(`${path}.enum`, 'lists a value twice');
    if (f.aliases !== undefined) {
      if (!isObject(f.aliases) || Object.keys(f.aliases).length > CATALOG_LIMITS.maxEnumValues) bad(`${path}.aliases`, `must be an object of at most ${CATALOG_LIMITS.maxEnumValues} spellings`);
      else for (const [k, v] of Object.entries(f.aliases)) {
        if (!text(k, CATALOG_LIMITS.maxEnumValueChars) || typeof v !== 'string' || !Array.isArray(values) || !values.includes(v)) bad(`${path}.aliases.${k}`, 'must map a spelling to one of the enum values');
      }
    }
  } else {
    if (f.enum !== undefined) bad(`${path}.enum`, 'is only for enum fields');
    if (f.aliases !== undefined) bad(`${path}.aliases`, 'is only for enum fields');
  }
  if (p.n !== before) return null;
  const spec: FieldSpec = { name: f.name as string, label: f.label as string, type: f.type as FieldType, required: f.required as boolean };
  if (f.enum !== undefined) spec.enum = [...(f.enum as string[])];
  if (f.aliases !== undefined) spec.aliases = { ...(f.aliases as Record<string, string>) };
  if (f.maxLength !== undefined) spec.maxLength = f.maxLength as number;
  if (f.minimum !== undefined) spec.minimum = f.minimum as number;
  if (f.maximum !== undefined) spec.maximum = f.maximum as number;
  if (f.pii !== undefined) spec.pii = f.pii as boolean;
  return spec;
}

function assertType(t: unknown, path: string, p: Problems): CatalogTypeDef | null {
  const bad = p.add;
  if (!isObject(t)) return bad(path, 'is not an object'), null;
  unknownKeys(t, TYPE_KEYS, path, bad);
  const before = p.n;
  if (typeof t.code !== 'string' || !TYPE_CODE.test(t.code)) bad(`${path}.code`, 'must be 2–16 characters A–Z, 0–9, _ starting with a letter');
  if (!text(t.name, CATALOG_LIMITS.maxLabelChars)) bad(`${path}.name`, `must be a non-empty name of at most ${CATALOG_LIMITS.maxLabelChars} characters`);
  if (!isClassification(t.classification)) bad(`${path}.classification`, `must be one of ${CLASSIFICATIONS.join(', ')}`);
  if (typeof t.negative !== 'boolean') bad(`${path}.negative`, 'must be true or false');
  const fields: FieldSpec[] = [];
  if (!Array.isArray(t.fields) || t.fields.length === 0 || t.fields.length > CATALOG_LIMITS.maxFieldsPerType) bad(`${path}.fields`, `must list 1–${CATALOG_LIMITS.maxFieldsPerType} fields`);
  else {
    const names = new Set<string>();
    const labels = new Set<string>();
    t.fields.forEach((raw, i) => {
      const f = assertField(raw, `${path}.fields[${i}]`, p);
      if (!f) return;
      if (names.has(f.name)) bad(`${path}.fields[${i}].name`, `${f.name} is defined twice`);
      if (labels.has(foldLabel(f.label))) bad(`${path}.fields[${i}].label`, `${f.label} is used twice`);
      names.add(f.name);
      labels.add(foldLabel(f.label));
      fields.push(f);
    });
    const byName = new Map(fields.map((f) => [f.name, f]));
    for (const n of SUBJECT_BLOCK) if (!byName.has(n)) bad(`${path}.fields`, `lacks ${n}: every record names its subject (subjectName, subjectCategory, uscc)`);
    if (byName.has('uscc') && byName.get('uscc')!.type !== 'uscc') bad(`${path}.fields`, 'uscc must be of type uscc');
    if (t.negative === true) {
      const sev = byName.get('severity');
      if (!sev || sev.type !== 'enum' || !sev.enum!.every((v) => (SEVERITIES as readonly string[]).includes(v))) {
        bad(`${path}.fields`, `a negative type needs an enum field severity with values from ${SEVERITIES.join(', ')}`);
      }
      if (byName.get('decisionDate')?.type !== 'date' || !byName.get('decisionDate')!.required) bad(`${path}.fields`, 'a negative type needs a required date field decisionDate (its disclosure window counts from it)');
      if (byName.has('disclosureEnd') && byName.get('disclosureEnd')!.type !== 'date') bad(`${path}.fields`, 'disclosureEnd must be of type date');
    }
    if (!Array.isArray(t.naturalKey) || t.naturalKey.length === 0 || t.naturalKey.length > CATALOG_LIMITS.maxNaturalKey) bad(`${path}.naturalKey`, `must list 1–${CATALOG_LIMITS.maxNaturalKey} field names`);
    else for (const k of t.naturalKey) if (typeof k !== 'string' || !byName.get(k)?.required) bad(`${path}.naturalKey`, `${JSON.stringify(k)} is not a required field of this type`);
  }
  if (p.n !== before) return null;
  return { code: t.code as string, name: t.name as string, classification: t.classification as Classification, negative: t.negative as boolean, naturalKey: [...(t.naturalKey as string[])], fields };
}

/**
 * Checks the types of a draft or body. `nationalCodes`: the codes of the national catalog, which
 * a province type may not take (ERR_CATALOG_TYPE_REDEFINED). Other problems: ERR_CATALOG_INVALID.
 */
export function assertCatalogDraft(x: unknown, nationalCodes: ReadonlySet<string>, opts: { signed?: boolean } = {}): CatalogDraft & Partial<CatalogBody> {
  const p = new Problems();
  const bad = p.add;
  if (!isObject(x)) throw protocolError('ERR_CATALOG_INVALID', 'a province catalog is a JSON object', [{ path: '$', message: 'is not an object' }]);
  unknownKeys(x, opts.signed ? ['title', 'types', 'province', 'serial', 'publishedAt'] : ['title', 'types'], '$', bad);
  if (!text(x.title, CATALOG_LIMITS.maxTitleChars)) bad('$.title', `must be a non-empty title of at most ${CATALOG_LIMITS.maxTitleChars} characters`);
  if (opts.signed) {
    if (typeof x.province !== 'string' || !PROVINCE.test(x.province)) bad('$.province', 'must be a 6-digit division code');
    if (typeof x.serial !== 'number' || !Number.isSafeInteger(x.serial) || x.serial < 1) bad('$.serial', 'must be a whole number ≥ 1');
    if (typeof x.publishedAt !== 'string' || !ISO_MS.test(x.publishedAt) || Number.isNaN(Date.parse(x.publishedAt))) bad('$.publishedAt', 'must be a UTC ISO time with milliseconds');
  }
  const types: CatalogTypeDef[] = [];
  const redefined: string[] = [];
  if (!Array.isArray(x.types) || x.types.length > CATALOG_LIMITS.maxTypes) bad('$.types', `must list at most ${CATALOG_LIMITS.maxTypes} types`);
  else {
    const codes = new Set<string>();
    x.types.forEach((raw, i) => {
      const t = assertType(raw, `$.types[${i}]`, p);
      if (!t) return;
      if (nationalCodes.has(t.code)) redefined.push(t.code);
      else if (codes.has(t.code)) bad(`$.types[${i}].code`, `${t.code} is defined twice`);
      codes.add(t.code);
      types.push(t);
    });
  }
  if (redefined.length > 0) {
    throw protocolError('ERR_CATALOG_TYPE_REDEFINED', `the province catalog redefines national record type(s) ${redefined.join(', ')}; it may only add types with other codes`, { codes: redefined });
  }
  if (p.n > 0) throw protocolError('ERR_CATALOG_INVALID', `province catalog invalid: ${p.list.slice(0, 5).map((q) => `${q.path} ${q.message}`).join('; ')}${p.n > 5 ? ' …' : ''}`, p.list);
  const out: CatalogDraft & Partial<CatalogBody> = { title: x.title as string, types };
  if (opts.signed) Object.assign(out, { province: x.province, serial: x.serial, publishedAt: x.publishedAt });
  return out;
}

/** A checked signed body (assertCatalogDraft with province, serial, publishedAt). */
export function assertCatalogBody(x: unknown, nationalCodes: ReadonlySet<string>): CatalogBody {
  return assertCatalogDraft(x, nationalCodes, { signed: true }) as CatalogBody;
}

/** The record type a definition describes, as the national ones are built (catalog-types.ts). */
export function recordTypeOf(d: CatalogTypeDef): RecordType {
  const base = { code: d.code, name: d.name, classification: d.classification, negative: d.negative, fields: d.fields, naturalKey: d.naturalKey, subjectField: 'uscc' };
  return { ...base, schema: buildRecordSchema(base) };
}
