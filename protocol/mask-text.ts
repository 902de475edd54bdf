/**
 * Masking personal data inside free text (处罚内容, 备注 …), where it is written as people write it:
 *
 * - resident IDs of 18 characters (17 digits + digit or X) and old 15-digit IDs, also written in
 *   groups with spaces or dashes (`430102 19900307 1234`, `4301-0219-9003-0712-34`), in full-width
 *   digits (`４３０１…`) or across a line break: first 4 and last 4 digits kept. A window counts as
 *   an ID when its birth date (digits 7–14, or 7–12 for 15 digits) is a possible date, so amounts
 *   and dates in a row are not taken for one.
 * - mainland mobile numbers, 1[3-9] + 9 digits (also 138 0013 8000, 138-0013-8000, +86 …): first
 *   3 and last 4 kept; landlines with an area code (0731-84567890, (0731)8456 7890, 010 12345678):
 *   the area code's first 4 characters and the last 4 kept.
 * - the subject's own name, when the subject is a natural person, also with spaces between its
 *   characters: written as maskName() writes it (张三丰 → 张**).
 *
 * Digits are grouped where they stand next to each other; groups separated by at most 3 spaces,
 * dashes or brackets are read together, and the longest reading that is an ID or a phone number
 * from a group's start wins. A number glued to ASCII letters (part of a code) is left alone, and
 * so is a valid USCC.
 */
import { isValidResidentId, isValidUscc } from './identifiers.js';

interface Group {
  start: number;
  end: number;
  /** ASCII digits (full-width folded), and 'X' for a final X. */
  digits: string;
}

const SEPARATORS = new Set([...' \t\r\n\u00a0\u3000-\u2010\u2011\u2012\u2013\u2014\uff0d\ufe63()\uff08\uff09']);
const MAX_SEPARATOR = 3;

function digitAt(text: string, i: number): string | null {
  const c = text.charCodeAt(i);
  if (c >= 48 && c <= 57) return text[i]!;
  if (c >= 0xff10 && c <= 0xff19) return String.fromCharCode(c - 0xff10 + 48);
  return null;
}

function isX(text: string, i: number): boolean {
  const ch = text[i];
  return ch === 'X' || ch === 'x' || ch === '\uff38' || ch === '\uff58';
}

function isAsciiLetter(text: string, i: number): boolean {
  const c = text.charCodeAt(i);
  return (c >= 65 && c <= 90) || (c >= 97 && c <= 122);
}

function groupsOf(text: string): Group[] {
  const out: Group[] = [];
  for (let i = 0; i < text.length; ) {
    if (digitAt(text, i) === null) {
      i++;
      continue;
    }
    const start = i;
    let digits = '';
    for (let d = digitAt(text, i); d !== null; d = digitAt(text, ++i)) digits += d;
    if (isX(text, i)) {
      digits += 'X';
      i++;
    }
    out.push({ start, end: i, digits });
  }
  return out;
}

/** Whether groups a and b (a before b) are read as one number: only a short run of separators between them. */
function joinable(text: string, a: Group, b: Group): boolean {
  if (b.start - a.end > MAX_SEPARATOR || a.digits.endsWith('X')) return false;
  for (let i = a.end; i < b.start; i++) if (!SEPARATORS.has(text[i]!)) return false;
  return true;
}

function possibleDate(y: number, m: number, d: number): boolean {
  return m >= 1 && m <= 12 && d >= 1 && d <= 31 && y >= 0;
}

type Kind = { head: number; tail: number } | null;

/** What `digits` (a window of `parts` groups, the first `first` digits long) is, and how much of it stays visible. */
function classify(digits: string, parts: number, first: number): Kind {
  const n = digits.length;
  const x = digits.indexOf('X');
  if (x !== -1 && !(n === 18 && x === 17)) return null;
  if (n === 18 && parts <= 6 && /^[1-9]/.test(digits)) {
    if (isValidUscc(digits) && !isValidResidentId(digits)) return null;
    const y = Number(digits.slice(6, 10));
    if (y >= 1900 && y <= 2099 && possibleDate(y, Number(digits.slice(10, 12)), Number(digits.slice(12, 14)))) return { head: 4, tail: 4 };
    return null;
  }
  if (n === 15 && parts <= 5 && /^[1-9]/.test(digits) && possibleDate(Number(digits.slice(6, 8)), Number(digits.slice(8, 10)), Number(digits.slice(10, 12)))) return { head: 4, tail: 4 };
  if (parts <= 4 && n === 11 && /^1[3-9]/.test(digits)) return { head: 3, tail: 4 };
  if (parts <= 5 && n === 13 && /^861[3-9]/.test(digits)) return { head: 5, tail: 4 };
  // a landline: an area code 0[1-9]x(x), alone or as the number's first group
  if (/^0[1-9]/.test(digits) && n >= 10 && n <= 12 && parts <= 4 && (parts === 1 ? n >= 11 : first === 3 || first === 4)) return { head: first === 3 ? 3 : 4, tail: 4 };
  return null;
}

/** Masks ID numbers and phone numbers in `text` however they are spaced (see the module comment). */
export function maskNumbersIn(text: string): string {
  const groups = groupsOf(text);
  if (groups.length === 0) return text;
  const chars = text.split(''); // UTF-16 units: the indices groupsOf() counted in
  let changed = false;
  for (let i = 0; i < groups.length; ) {
    if (groups[i]!.start > 0 && isAsciiLetter(text, groups[i]!.start - 1)) {
      i++;
      continue;
    }
    let best: { j: number; kind: NonNullable<Kind> } | null = null;
    let digits = '';
    for (let j = i; j < groups.length && j - i < 6; j++) {
      if (j > i && !joinable(text, groups[j - 1]!, groups[j]!)) break;
      digits += groups[j]!.digits;
      if (digits.length > 18) break;
      const after = groups[j]!.end;
      if (after < text.length && isAsciiLetter(text, after)) continue;
      const kind = classify(digits, j - i + 1, groups[i]!.digits.length);
      if (kind !== null) best = { j, kind };
    }
    if (best === null) {
      i++;
      continue;
    }
    let k = 0;
    let total = 0;
    for (let g = i; g <= best.j; g++) total += groups[g]!.digits.length;
    for (let g = i; g <= best.j; g++) {
      for (let p = groups[g]!.start; p < groups[g]!.end; p++, k++) {
        if (k >= best.kind.head && k < total - best.kind.tail) chars[p] = '*';
      }
    }
    changed = true;
    i = best.j + 1;
  }
  return changed ? chars.join('') : text;
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** `name` (2 characters or more) wherever it appears in `text`, also with spaces between its characters, replaced by `masked`. */
export function maskNameIn(text: string, name: string, masked: string): string {
  const chars = [...name.replace(/\s+/g, '')];
  if (chars.length < 2) return text;
  const re = new RegExp(chars.map(escapeRegExp).join('[\\s\\u3000·]*'), 'gu');
  return text.replace(re, masked);
}
