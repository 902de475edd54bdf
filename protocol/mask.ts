/**
 * Masking of personal data in credit records, for callers not cleared to see it in full.
 *
 * - A resident ID keeps its first 4 and last 4 characters: 4301**********123X.
 * - A USCC identifies a legal person or other organisation and is public: it is left as it is
 *   (an all-digit string that is a valid resident ID is treated as a resident ID, never as a USCC).
 * - Other personal document numbers (passports, permits) keep their first and last character,
 *   or 4 + 4 from 12 characters up; values of 4 characters or fewer are masked whole.
 * - A natural person's name keeps its first character: 张三丰 → 张**.
 * - Text fields keep their text, with personal data inside masked (mask-text.ts): resident IDs
 *   however spaced or split, old 15-digit IDs, full-width digits, mobile and landline numbers, and,
 *   when the subject is a natural person, the subject's name. The decision number (文号) is the
 *   record's reference and is only checked for contiguous resident IDs.
 *
 * When: personal fields (`pii` in the catalog) are shown in clear only to callers cleared for the
 * record's class AND at least `shared` (government roles). So a `public` 行政处罚 of a natural person
 * is published, but with the ID number and the name masked, as 双公示 practice requires.
 */
import { classRank, clears, type Classification } from './classification.js';
import { NATURAL_PERSON, type CreditRecordInput } from './catalog-fields.js';
import { getRecordType } from './catalog-types.js';
import { isValidResidentId, isValidUscc } from './identifiers.js';
import { maskNameIn, maskNumbersIn } from './mask-text.js';

const RESIDENT_SHAPE = /^\d{17}[\dXx]$/;
const RESIDENT_IN_TEXT = /(?<![0-9A-Za-z])\d{17}[\dXx](?![0-9A-Za-z])/g;

function stars(n: number): string {
  return '*'.repeat(Math.max(0, n));
}

export function maskIdentifier(value: string): string {
  if (isValidUscc(value) && !isValidResidentId(value)) return value;
  const chars = [...value];
  const n = chars.length;
  if (RESIDENT_SHAPE.test(value) || n >= 12) return chars.slice(0, 4).join('') + stars(n - 8) + chars.slice(n - 4).join('');
  if (n <= 4) return stars(n);
  return chars[0]! + stars(n - 2) + chars[n - 1]!;
}

export function maskName(name: string): string {
  const chars = [...name.trim()];
  if (chars.length === 0) return '';
  return chars.length === 1 ? '*' : chars[0]! + stars(chars.length - 1);
}

/** Masks every resident-ID-shaped number inside free text (valid USCCs are left). */
export function maskResidentIdsIn(text: string): string {
  return text.replace(RESIDENT_IN_TEXT, (m) => maskIdentifier(m));
}

/** Free text with its personal data masked: IDs and phone numbers however written, and the natural-person subject's `name`. */
export function maskText(text: string, name = ''): string {
  const numbers = maskResidentIdsIn(maskNumbersIn(text));
  return name === '' ? numbers : maskNameIn(numbers, name, maskName(name));
}

/** The clearance needed to see a record's personal fields in clear: its class, at least `shared`. */
export function piiClearance(recordClass: Classification): Classification {
  return classRank(recordClass) >= classRank('shared') ? recordClass : 'shared';
}

/** A copy of the record with its personal data masked (see the module comment). */
export function maskRecord<R extends CreditRecordInput>(record: R): R {
  const t = getRecordType(record.type);
  const natural = record.fields.subjectCategory === NATURAL_PERSON;
  const name = natural && typeof record.fields.subjectName === 'string' ? record.fields.subjectName : '';
  const fields: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(record.fields)) {
    const f = t.fields.find((x) => x.name === k);
    if (typeof v !== 'string' || !f) fields[k] = v;
    else if (f.pii) fields[k] = maskIdentifier(v);
    else if (k === 'subjectName' && natural) fields[k] = maskName(v);
    else if (k === 'decisionNo') fields[k] = maskResidentIdsIn(v);
    else if (f.type === 'string') fields[k] = maskText(v, name);
    else fields[k] = v;
  }
  return { ...record, fields };
}

/** The record as a caller with `clearance` may see it: in full, or with personal data masked. */
export function redactFor<R extends CreditRecordInput & { classification: Classification }>(record: R, clearance: Classification): R {
  return clears(clearance, piiClearance(record.classification)) ? record : maskRecord(record);
}
