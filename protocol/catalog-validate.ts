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
import { NATURAL_PERSON, RESIDENT_ID_DOCUMENTS, type CreditRecordInput, type FieldError, type FieldSpec, type RecordType } from './catalog-fields.js';
import { disclosurePeriodProblem, isSeverity } from './catalog-severity.js';
import { fieldByNameOrLabel, RECORD_TYPES_BY_CODE } from './catalog-types.js';
import { protocolError } from './errors.js';
import { residentIdProblem, usccProblem } from './identifiers.js';

export type ValidRecord = CreditRecordInput & { classification: Classification };
export type ValidationResult = { ok: true; record: ValidRecord } | { ok: false; errors: FieldError[] };

const TOP_LEVEL = ['type', 'classification', 'fields'];
const NUMERIC = /^-?\d+(\.\d+)?$/;

function isPlainObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

/** Checks one present value against its spec; returns the normalised value or an error. */
function checkValue(f: FieldSpec, v: unknown, today: string): { value: unknown } | { code: string; message: string } {
  const label = `${f.name} (${f.label})`;
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

/** Rules between fields: subject identifiers by category, date order, disclosure window. */
function crossChecks(t: RecordType, out: Record<string, unknown>, bad: Set<string>, today: string, err: (field: string, code: string, message: string) => void): void {
  const has = (n: string) => out[n] !== undefined;
  const known = (n: string) => has(n) && !bad.has(n);
  if (t.fields.some((f) => f.name === 'idNumber') && known('subjectCategory')) {
    if (out.subjectCategory === NATURAL_PERSON) {
      for (const n of ['idType', 'idNumber']) if (!has(n) && !bad.has(n)) err(n, 'ERR_FIELD_REQUIRED', `${n} is required when the subject is a natural person (${NATURAL_PERSON})`);
    } else if (!has('uscc') && !bad.has('uscc')) {
      err('uscc', 'ERR_FIELD_REQUIRED', `uscc (统一社会信用代码) is required when the subject is ${String(out.subjectCategory)}`);
    }
  }
  if (known('idNumber') && !has('idType') && !bad.has('idType') && out.subjectCategory !== NATURAL_PERSON) err('idType', 'ERR_FIELD_REQUIRED', 'idType (证件类型) is required with idNumber');
  if (known('idNumber') && RESIDENT_ID_DOCUMENTS.includes(String(out.idType))) {
    const p = residentIdProblem(out.idNumber, today);
    if (p !== null) err('idNumber', 'ERR_INVALID_RESIDENT_ID', `idNumber (证件号码): ${p}`);
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
 * Validates a record input against its catalog type and returns it normalised, or every problem.
 * `today` (YYYY-MM-DD) bounds resident-ID birth dates; default: today in China.
 */
export function validateRecord(input: unknown, opts: { today?: string } = {}): ValidationResult {
  const today = opts.today ?? todayInChina();
  const errors: FieldError[] = [];
  const err = (field: string, code: string, message: string) => void errors.push({ field, code, message });
  if (!isPlainObject(input)) return { ok: false, errors: [{ field: '', code: 'ERR_RECORD_INVALID', message: 'a record is an object { type, classification?, fields }' }] };
  for (const k of Object.keys(input)) if (!TOP_LEVEL.includes(k)) err(k, 'ERR_FIELD_UNKNOWN', `unknown property ${JSON.stringify(k)} (a record has type, classification, fields)`);

  const t = typeof input.type === 'string' ? RECORD_TYPES_BY_CODE.get(input.type) : undefined;
  if (input.type === undefined) err('type', 'ERR_FIELD_REQUIRED', 'type (the record type code) is required');
  else if (typeof input.type !== 'string') err('type', 'ERR_FIELD_TYPE', 'type must be a string');
  else if (!t) err('type', 'ERR_UNKNOWN_RECORD_TYPE', `no record type ${JSON.stringify(input.type)} in the catalog (known: ${[...RECORD_TYPES_BY_CODE.keys()].join(', ')})`);

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
  for (const f of t.fields) if (f.required && out[f.name] === undefined && !bad.has(f.name)) err(f.name, 'ERR_FIELD_REQUIRED', `${f.name} (${f.label}) is required`);
  crossChecks(t, out, bad, today, err);
  if (errors.length > 0) return { ok: false, errors };

  const fields: Record<string, unknown> = {};
  for (const f of t.fields) if (out[f.name] !== undefined) fields[f.name] = out[f.name];
  return { ok: true, record: { type: t.code, classification: (cls as Classification | undefined) ?? t.classification, fields } };
}

/** validateRecord, throwing ERR_RECORD_INVALID whose `details` is the FieldError list. */
export function assertRecord(input: unknown, opts: { today?: string } = {}): ValidRecord {
  const r = validateRecord(input, opts);
  if (!r.ok) throw protocolError('ERR_RECORD_INVALID', `record invalid: ${r.errors.map((e) => `${e.field || '(record)'} ${e.code}`).join('; ')}`, r.errors);
  return r.record;
}
