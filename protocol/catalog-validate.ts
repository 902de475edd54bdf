/**
 * Record validation against the catalog: parse → assert, collecting every bad field at once.
 *
 * Besides the canonical JSON form, the validator accepts what CSV files carry and normalises it in
 * the record it returns: Chinese labels as keys, strings are trimmed and an empty string counts as
 * absent, numbers may be decimal strings, enum values may be their Chinese aliases (严重 → serious).
 * Identifiers are not case-folded (see protocol/identifiers.ts).
 */
import { hasLoneSurrogate } from './canonical-json.js';
import { classRank, isClassification, type Classification } from './classification.js';
import { isIsoDate, todayInChina } from './catalog-calendar.js';
import { LEGACY_SUBJECT_CODES, NATURAL_PERSON, RESIDENT_ID_DOCUMENTS, type CreditRecordInput, type FieldError, type FieldSpec, type RecordType } from './catalog-fields.js';
import { defaultSeverity, severityFromWindow, type SeverityDefaults, type SeverityDerivation } from './catalog-rules.js';
import { disclosurePeriodProblem, isSeverity } from './catalog-severity.js';
import { CATALOG_VERSION, fieldByNameOrLabel, knownTypeCodes } from './catalog-types.js';
import { isSupportedCatalogVersion, recordTypeIn, SUPPORTED_CATALOG_VERSIONS, WIRE_DEFAULT_CATALOG_VERSION } from './catalog-versions.js';
import { protocolError } from './errors.js';
import { residentIdProblem, residentIdWarnings, usccProblem } from './identifiers.js';

/** A valid record: normalised, with its class and the catalog version it was checked against; `severityDerived` says where a severity the input did not give came from. */
export type ValidRecord = CreditRecordInput & { classification: Classification; catalogVersion: string; severityDerived?: SeverityDerivation };
/**
 * `warnings` are data-quality remarks on a valid record (a resident ID born over 120 years ago, a
 * fine amount without 罚款 among the penalty kinds): worth a clerk's look, never a refusal.
 */
export type ValidationResult = { ok: true; record: ValidRecord; warnings: FieldError[] } | { ok: false; errors: FieldError[] };

export interface ValidateOptions {
  /** YYYY-MM-DD bound of resident-ID birth dates; default: today in China. */
  today?: string;
  /** Version of an input without `catalogVersion`: CATALOG_VERSION (new input) unless said otherwise (WIRE_DEFAULT_CATALOG_VERSION for WireRecords). */
  defaultCatalogVersion?: string;
  /** Province defaults of severity per type / type+category (node config severityDefaults). */
  severityDefaults?: SeverityDefaults;
}

const TOP_LEVEL = ['type', 'classification', 'catalogVersion', 'fields'];
const LIST_SEPARATORS = /[;；,，、]/;
const NUMERIC = /^-?\d+(\.\d+)?$/;

function isPlainObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

/** Checks one present value against its spec; returns the normalised value or an error. */
function checkValue(f: FieldSpec, v: unknown, today: string): { value: unknown } | { code: string; message: string } {
  const label = `${f.name} (${f.label})`;
  if (f.type === 'enum-list') return checkList(f, v, label);
  if (f.type === 'integer' || f.type === 'number') {
    const n = typeof v === 'number' ? v : typeof v === 'string' && NUMERIC.test(v) ? Number(v) : NaN;
    if (!Number.isFinite(n) || (f.type === 'integer' && !Number.isInteger(n))) return { code: 'ERR_FIELD_TYPE', message: `${label} must be ${f.type === 'integer' ? 'a whole number' : 'a number'}` };
    if ((f.minimum !== undefined && n < f.minimum) || (f.maximum !== undefined && n > f.maximum)) {
      return { code: 'ERR_FIELD_RANGE', message: `${label} must be between ${f.minimum ?? '-∞'} and ${f.maximum ?? '∞'}` };
    }
    return { value: n };
  }
  if (typeof v !== 'string') return { code: 'ERR_FIELD_TYPE', message: `${label} must be a string` };
  // A lone surrogate could be stored but never sealed to the hub (canonical JSON is I-JSON).
  if (hasLoneSurrogate(v)) return { code: 'ERR_FIELD_TYPE', message: `${label} must be Unicode text (it holds a lone UTF-16 surrogate)` };
  switch (f.type) {
    case 'date':
      return isIsoDate(v) ? { value: v } : { code: 'ERR_INVALID_DATE', message: `${label} must be a real date written YYYY-MM-DD` };
    case 'uscc': {
      const p = usccProblem(v);
      return p === null ? { value: v } : { code: 'ERR_INVALID_USCC', message: `${label}: ${p}` };
    }
    case 'resident-id': {
      const p = residentIdProblem(v, today);
      return p === null ? { value: v } : { code: 'ERR_INVALID_RESIDENT_ID', message: `${label}: ${p}` };
    }
    case 'subject-id':
      return usccProblem(v) === null || residentIdProblem(v, today) === null ? { value: v } : { code: 'ERR_INVALID_USCC', message: `${label} is neither a valid USCC nor a valid resident ID` };
    case 'enum': {
      const value = f.aliases?.[v] ?? v;
      return f.enum?.includes(value) ? { value } : { code: 'ERR_FIELD_ENUM', message: `${label} must be one of ${f.enum?.join(', ')}` };
    }
    default:
      return f.maxLength !== undefined && v.length > f.maxLength && [...v].length > f.maxLength ? { code: 'ERR_FIELD_TOO_LONG', message: `${label} is longer than ${f.maxLength} characters` } : { value: v };
  }
}

/**
 * An `enum-list` value: a JSON array of strings, or one string listing values separated by ; ； , ，
 * or 、 (how a spreadsheet cell holds several). Aliases apply per value; the result is the set in
 * the field's `enum` order, without repeats.
 */
function checkList(f: FieldSpec, v: unknown, label: string): { value: unknown } | { code: string; message: string } {
  const parts = typeof v === 'string' ? v.split(LIST_SEPARATORS) : Array.isArray(v) ? v : null;
  if (parts === null || parts.some((p) => typeof p !== 'string')) return { code: 'ERR_FIELD_TYPE', message: `${label} must be a list of values (an array of strings, or one string separated by ；)` };
  const values = new Set<string>();
  for (const raw of parts as string[]) {
    const p = raw.trim();
    if (p === '') continue;
    const value = f.aliases?.[p] ?? p;
    if (!f.enum?.includes(value)) return { code: 'ERR_FIELD_ENUM', message: `${label}: ${JSON.stringify(p)} is not one of ${f.enum?.join(', ')}` };
    values.add(value);
  }
  if (values.size === 0) return { code: 'ERR_FIELD_TYPE', message: `${label} must list at least one value` };
  return { value: f.enum!.filter((e) => values.has(e)) };
}

/**
 * What validation looks up in a type's field list for every record, worked out once per type
 * (record types are constants: a catalog published later brings new type objects, never changes
 * one in place).
 */
interface TypePlan {
  names: ReadonlySet<string>;
  /** Older registration numbers (national layout) the type has: they stand in for a missing USCC. */
  legacy: readonly string[];
  severity: FieldSpec | undefined;
  required: readonly FieldSpec[];
  /** Fields with a requiredIf rule. */
  conditional: readonly FieldSpec[];
}
const plans = new WeakMap<RecordType, TypePlan>();

function planOf(t: RecordType): TypePlan {
  let p = plans.get(t);
  if (!p) {
    const names = new Set(t.fields.map((f) => f.name));
    p = {
      names,
      legacy: LEGACY_SUBJECT_CODES.map(([n]) => n).filter((n) => names.has(n)),
      severity: t.fields.find((f) => f.name === 'severity'),
      required: t.fields.filter((f) => f.required),
      conditional: t.fields.filter((f) => f.requiredIf),
    };
    plans.set(t, p);
  }
  return p;
}

function holdsAny(v: unknown, anyOf: readonly string[]): boolean {
  return Array.isArray(v) ? v.some((x) => anyOf.includes(x as string)) : anyOf.includes(v as string);
}

/**
 * A negative record without a severity gets one: from its 公示截止期 against the bands of the rule
 * in force on its decision date, else from the province default for its type (and category).
 * Returns how it was derived, or undefined when nothing was derived.
 */
function deriveSeverity(t: RecordType, out: Record<string, unknown>, bad: Set<string>, defaults: SeverityDefaults | undefined, err: (field: string, code: string, message: string) => void): SeverityDerivation | undefined {
  if (!t.negative) return undefined;
  const spec = planOf(t).severity;
  if (!spec || out.severity !== undefined || bad.has('severity')) return undefined;
  const allowed = spec.enum ?? [];
  if (out.disclosureEnd !== undefined && !bad.has('disclosureEnd')) {
    if (out.decisionDate === undefined || bad.has('decisionDate')) return undefined;
    const s = severityFromWindow(String(out.decisionDate), String(out.disclosureEnd), allowed);
    if (s) {
      out.severity = s;
      return 'disclosureEnd';
    }
    bad.add('disclosureEnd');
    err('disclosureEnd', 'ERR_DISCLOSURE_PERIOD', `disclosureEnd (公示截止期) ${String(out.disclosureEnd)} fits no severity (${allowed.join(', ')}) of the rule in force on ${String(out.decisionDate)}`);
    return undefined;
  }
  const d = defaultSeverity(t.code, out.category, defaults);
  if (d && allowed.includes(d)) {
    out.severity = d;
    return 'default';
  }
  err('severity', 'ERR_FIELD_REQUIRED', `severity (失信程度) is required: give it, or 公示截止期 to derive it from, or configure a default for ${t.code} (severityDefaults)`);
  return undefined;
}

/** Rules between fields: subject identifiers by category, date order, disclosure window. */
function crossChecks(
  t: RecordType, out: Record<string, unknown>, bad: Set<string>, today: string,
  err: (field: string, code: string, message: string) => void, warn: (field: string, code: string, message: string) => void,
): void {
  const has = (n: string) => out[n] !== undefined;
  const known = (n: string) => has(n) && !bad.has(n);
  const { names, legacy, conditional } = planOf(t); // legacy: older registration numbers stand in for a missing USCC
  if (names.has('idNumber') && known('subjectCategory')) {
    if (out.subjectCategory === NATURAL_PERSON) {
      for (const n of ['idType', 'idNumber']) if (!has(n) && !bad.has(n)) err(n, 'ERR_FIELD_REQUIRED', `${n} is required when the subject is a natural person (${NATURAL_PERSON})`);
    } else if (!has('uscc') && !bad.has('uscc') && !legacy.some((n) => has(n) || bad.has(n))) {
      const alternatives = legacy.length > 0 ? ` (or, for a subject registered before the USCC, one of ${legacy.join(', ')})` : '';
      err('uscc', 'ERR_FIELD_REQUIRED', `uscc (统一社会信用代码) is required when the subject is ${String(out.subjectCategory)}${alternatives}`);
    }
  }
  for (const f of conditional) {
    const rule = f.requiredIf;
    if (!rule || has(f.name) || bad.has(f.name) || !known(rule.field) || !holdsAny(out[rule.field], rule.anyOf)) continue;
    err(f.name, 'ERR_FIELD_REQUIRED', `${f.name} (${f.label}) is required when ${rule.field} is ${rule.anyOf.join(' or ')}`);
  }
  for (const f of conditional) {
    const rule = f.requiredIf;
    if (rule && known(f.name) && known(rule.field) && !holdsAny(out[rule.field], rule.anyOf)) {
      warn(f.name, 'WARN_FIELD_UNEXPECTED', `${f.name} (${f.label}) is given but ${rule.field} is not ${rule.anyOf.join(' or ')}`);
    }
  }
  if (known('legalRepIdNumber') && !has('legalRepIdType') && !bad.has('legalRepIdType')) err('legalRepIdType', 'ERR_FIELD_REQUIRED', 'legalRepIdType (法定代表人证件类型) is required with legalRepIdNumber');
  if (known('legalRepIdNumber') && RESIDENT_ID_DOCUMENTS.includes(String(out.legalRepIdType))) {
    const p = residentIdProblem(out.legalRepIdNumber, today);
    if (p !== null) err('legalRepIdNumber', 'ERR_INVALID_RESIDENT_ID', `legalRepIdNumber (法定代表人证件号码): ${p}`);
    for (const w of residentIdWarnings(out.legalRepIdNumber, today)) warn('legalRepIdNumber', 'WARN_IMPLAUSIBLE_AGE', w);
  }
  if (known('idNumber') && !has('idType') && !bad.has('idType') && out.subjectCategory !== NATURAL_PERSON) err('idType', 'ERR_FIELD_REQUIRED', 'idType (证件类型) is required with idNumber');
  if (known('idNumber') && RESIDENT_ID_DOCUMENTS.includes(String(out.idType))) {
    const p = residentIdProblem(out.idNumber, today);
    if (p !== null) err('idNumber', 'ERR_INVALID_RESIDENT_ID', `idNumber (证件号码): ${p}`);
    for (const w of residentIdWarnings(out.idNumber, today)) warn('idNumber', 'WARN_IMPLAUSIBLE_AGE', w);
  }
  if (known('penaltyValidTo') && known('decisionDate') && String(out.penaltyValidTo) < String(out.decisionDate)) {
    err('penaltyValidTo', 'ERR_DATE_RANGE', `penaltyValidTo (处罚有效期) ${String(out.penaltyValidTo)} is before decisionDate (处罚决定日期) ${String(out.decisionDate)}`);
  }
  if (known('validFrom') && known('validTo') && String(out.validTo) < String(out.validFrom)) {
    err('validTo', 'ERR_DATE_RANGE', `validTo (有效期至) ${String(out.validTo)} is before validFrom (有效期自) ${String(out.validFrom)}`);
  }
  if (known('disclosureEnd') && known('decisionDate') && known('severity') && isSeverity(out.severity)) {
    const p = disclosurePeriodProblem(out.severity, String(out.decisionDate), String(out.disclosureEnd));
    if (p !== null) err('disclosureEnd', 'ERR_DISCLOSURE_PERIOD', p);
  }
}

/**
 * Validates a record input against its catalog type — as the record's `catalogVersion` (default
 * opts.defaultCatalogVersion, else CATALOG_VERSION) defines it — and returns it normalised and
 * stamped with that version, with data-quality warnings; or every problem.
 * `today` (YYYY-MM-DD) bounds resident-ID birth dates; default: today in China.
 * A missing severity of a negative record is derived (deriveSeverity) and marked `severityDerived`.
 */
export function validateRecord(input: unknown, opts: ValidateOptions = {}): ValidationResult {
  const today = opts.today ?? todayInChina();
  const errors: FieldError[] = [];
  const warnings: FieldError[] = [];
  const err = (field: string, code: string, message: string) => void errors.push({ field, code, message });
  const warn = (field: string, code: string, message: string) => void warnings.push({ field, code, message });
  if (!isPlainObject(input)) return { ok: false, errors: [{ field: '', code: 'ERR_RECORD_INVALID', message: 'a record is an object { type, classification?, catalogVersion?, fields }' }] };
  for (const k of Object.keys(input)) if (!TOP_LEVEL.includes(k)) err(k, 'ERR_FIELD_UNKNOWN', `unknown property ${JSON.stringify(k)} (a record has type, classification, catalogVersion, fields)`);

  const version = input.catalogVersion ?? opts.defaultCatalogVersion ?? CATALOG_VERSION;
  const versionOk = isSupportedCatalogVersion(version);
  if (!versionOk) err('catalogVersion', 'ERR_CATALOG_VERSION', `catalog version ${JSON.stringify(version)} is not read here (supported: ${SUPPORTED_CATALOG_VERSIONS.join(', ')})`);
  const t = typeof input.type === 'string' && versionOk ? recordTypeIn(version, input.type) : undefined;
  if (input.type === undefined) err('type', 'ERR_FIELD_REQUIRED', 'type (the record type code) is required');
  else if (typeof input.type !== 'string') err('type', 'ERR_FIELD_TYPE', 'type must be a string');
  else if (versionOk && !t) err('type', 'ERR_UNKNOWN_RECORD_TYPE', `no record type ${JSON.stringify(input.type)} in the catalog (known: ${knownTypeCodes().join(', ')})`);

  const cls = input.classification;
  if (cls !== undefined && !isClassification(cls)) err('classification', 'ERR_FIELD_ENUM', 'classification must be one of public, shared, restricted, internal');
  else if (t && cls !== undefined && classRank(cls) < classRank(t.classification)) {
    err('classification', 'ERR_CLASSIFICATION_LOWERED', `a ${t.code} record is at least ${t.classification}; ${cls} would lower it`);
  }

  if (input.fields === undefined) err('fields', 'ERR_FIELD_REQUIRED', 'fields is required');
  else if (!isPlainObject(input.fields)) err('fields', 'ERR_FIELD_TYPE', 'fields must be an object');
  if (!t || !isPlainObject(input.fields)) return { ok: false, errors };

  const out: Record<string, unknown> = {};
  const bad = new Set<string>();
  for (const [key, raw] of Object.entries(input.fields)) {
    const f = fieldByNameOrLabel(t, key);
    if (!f) {
      err(key, 'ERR_FIELD_UNKNOWN', `${t.code} records have no field ${JSON.stringify(key)}`);
      continue;
    }
    const v = typeof raw === 'string' ? raw.trim() : raw;
    if (v === undefined || v === null || v === '') continue;
    if (out[f.name] !== undefined || bad.has(f.name)) {
      err(f.name, 'ERR_RECORD_INVALID', `${f.name} (${f.label}) is given twice`);
      continue;
    }
    const r = checkValue(f, v, today);
    if ('value' in r) out[f.name] = r.value;
    else {
      bad.add(f.name);
      err(f.name, r.code, r.message);
    }
  }
  for (const f of planOf(t).required) if (out[f.name] === undefined && !bad.has(f.name)) err(f.name, 'ERR_FIELD_REQUIRED', `${f.name} (${f.label}) is required`);
  const derived = deriveSeverity(t, out, bad, opts.severityDefaults, err);
  crossChecks(t, out, bad, today, err, warn);
  if (errors.length > 0) return { ok: false, errors };

  const fields: Record<string, unknown> = {};
  for (const f of t.fields) if (out[f.name] !== undefined) fields[f.name] = out[f.name];
  const record: ValidRecord = { type: t.code, classification: (cls as Classification | undefined) ?? t.classification, catalogVersion: version as string, fields };
  if (derived) record.severityDerived = derived;
  return { ok: true, record, warnings };
}

/**
 * Validates a record as it travels (a WireRecord's type, classification, catalogVersion, fields).
 * A stamped record is checked against its version. An unstamped one comes from software older
 * than the stamp, or from a sender that left it out: it is checked against
 * WIRE_DEFAULT_CATALOG_VERSION (2026.1) and, when it does not satisfy that, against
 * CATALOG_VERSION; it is stamped with the first it satisfies. The field sets of the types that
 * changed are disjoint (2027.1 XK/CF require columns 2026.1 does not know), so at most one fits.
 * When neither fits, the errors of the version with fewer of them are returned.
 */
export function validateWireRecord(
  w: { type: unknown; classification?: unknown; catalogVersion?: unknown; fields: unknown },
  opts: { today?: string } = {},
): ValidationResult {
  const input = { type: w.type, classification: w.classification, catalogVersion: w.catalogVersion, fields: w.fields };
  if (w.catalogVersion !== undefined) return validateRecord(input, opts);
  const old = validateRecord(input, { ...opts, defaultCatalogVersion: WIRE_DEFAULT_CATALOG_VERSION });
  if (old.ok) return old;
  const current = validateRecord(input, { ...opts, defaultCatalogVersion: CATALOG_VERSION });
  return current.ok || current.errors.length <= old.errors.length ? current : old;
}

/** validateRecord, throwing ERR_RECORD_INVALID whose `details` is the FieldError list. */
export function assertRecord(input: unknown, opts: ValidateOptions = {}): ValidRecord {
  const r = validateRecord(input, opts);
  if (!r.ok) throw protocolError('ERR_RECORD_INVALID', `record invalid: ${r.errors.map((e) => `${e.field || '(record)'} ${e.code}`).join('; ')}`, r.errors);
  return r.record;
}
