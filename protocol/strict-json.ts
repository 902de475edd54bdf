/**
 * What JSON.parse lets through but I-JSON (RFC 7493) and the wire schemas do not: duplicate member
 * names (RFC 7493 §2.3; JSON.parse keeps the last, another parser may keep the first, so two
 * readers of one signed envelope could see two messages), and integers written with a fraction or
 * exponent (`"seq": 7.0`, `7e0`) where the schema says integer (one number, several spellings).
 *
 * scanJsonText() is one pass over text JSON.parse has already accepted (so it needs no syntax
 * checks): strings are skipped (a loop for short ones, indexOf for long ones), member names are
 * compared per object (a short list, a Set past 16 names), the schema is followed alongside
 * (properties / items) so a spelled number is judged where it stands, and a path is only built
 * when something is found. Iterative, so depth costs no stack.
 */
import type { FieldProblem, JsonSchema } from './schema-check.js';

export type JsonPath = (string | number)[];

export interface JsonTextFindings {
  /** Where a member name appears a second time in the same object (the path of the repeat). */
  duplicates: JsonPath[];
  /** Numbers the schema calls integer whose text has a fraction or an exponent (`7.0`, `7e0`). */
  integerSpellings: JsonPath[];
}

export const DUPLICATE_MESSAGE = 'is a duplicate member name (I-JSON, RFC 7493 §2.3)';
export const INTEGER_SPELLING_MESSAGE = 'must be an integer written without fraction or exponent';

/** Most findings kept per kind: enough to say what is wrong, bounded for a hostile text. */
const MAX_FINDINGS = 20;
const SMALL_OBJECT = 16;

interface Frame {
  /** null for an array. */
  names: string[] | Set<string> | null;
  /** Current member name, or array index. */
  at: string | number;
  /** The container's schema, where the schema says something. */
  schema: JsonSchema | undefined;
}

/** The schema of the value at the top frame's current position. */
function childSchema(top: Frame | undefined, root: JsonSchema | undefined): JsonSchema | undefined {
  if (top === undefined) return root;
  const s = top.schema;
  if (s === undefined) return undefined;
  if (top.names === null) return s.items;
  const props = s.properties;
  return props !== undefined && Object.hasOwn(props, top.at) ? props[top.at as string] : undefined;
}

/** Index of the quote closing the string that opens at `start`. */
function stringEnd(text: string, start: number): number {
  // short strings (most names and values): a plain loop beats a native call per string
  const stop = Math.min(text.length, start + 64);
  let j = start + 1;
  while (j < stop) {
    const c = text.charCodeAt(j);
    if (c === 34) return j;
    j += c === 92 ? 2 : 1;
  }
  // long strings (ciphertext, certificates): indexOf, then count the backslashes before the quote
  let from = j;
  for (;;) {
    const q = text.indexOf('"', from);
    if (q === -1) return text.length; // not reached for text JSON.parse accepted
    let b = q - 1;
    while (b > start && text.charCodeAt(b) === 92) b--;
    if ((q - 1 - b) % 2 === 0) return q;
    from = q + 1;
  }
}

function isWs(c: number): boolean {
  return c === 32 || c === 10 || c === 13 || c === 9;
}

function isNumberChar(c: number): boolean {
  return (c >= 48 && c <= 57) || c === 45 || c === 43 || c === 46 || c === 101 || c === 69;
}

/** Adds `name` to the object's names; false when it was there already. */
function addName(frame: Frame, name: string): boolean {
  const names = frame.names!;
  if (Array.isArray(names)) {
    for (let k = 0; k < names.length; k++) if (names[k] === name) return false;
    names.push(name);
    if (names.length > SMALL_OBJECT) frame.names = new Set(names);
    return true;
  }
  if (names.has(name)) return false;
  names.add(name);
  return true;
}

/**
 * Duplicate member names anywhere in `text` (JSON that JSON.parse accepts), and integers written
 * with a fraction or exponent where `schema` says integer (none without a schema).
 */
export function scanJsonText(text: string, schema?: JsonSchema): JsonTextFindings {
  const found: JsonTextFindings = { duplicates: [], integerSpellings: [] };
  const stack: Frame[] = [];
  const path = () => stack.map((f) => f.at);
  const n = text.length;
  let i = 0;
  let expectValue = true;
  while (i < n) {
    let c = text.charCodeAt(i);
    if (isWs(c)) {
      i++;
      continue;
    }
    if (expectValue) {
      if (c === 123 /* { */) {
        stack.push({ names: [], at: '', schema: schema === undefined ? undefined : childSchema(stack[stack.length - 1], schema) });
        i++;
        while (i < n && isWs(text.charCodeAt(i))) i++;
        if (text.charCodeAt(i) === 125 /* } */) {
          stack.pop();
          i++;
          expectValue = false;
        } else i = readName(text, i, stack, found, path);
        continue;
      }
      if (c === 91 /* [ */) {
        stack.push({ names: null, at: 0, schema: schema === undefined ? undefined : childSchema(stack[stack.length - 1], schema) });
        i++;
        while (i < n && isWs(text.charCodeAt(i))) i++;
        if (text.charCodeAt(i) === 93 /* ] */) {
          stack.pop();
          i++;
          expectValue = false;
        }
        continue;
      }
      if (c === 34 /* " */) i = stringEnd(text, i) + 1;
      else if (c === 116 /* t */ || c === 110 /* n */) i += 4;
      else if (c === 102 /* f */) i += 5;
      else {
        const start = i;
        let plain = true;
        while (i < n && isNumberChar((c = text.charCodeAt(i)))) {
          if (c === 46 || c === 101 || c === 69) plain = false;
          i++;
        }
        if (!plain && schema !== undefined && found.integerSpellings.length < MAX_FINDINGS && childSchema(stack[stack.length - 1], schema)?.type === 'integer' && Number.isInteger(Number(text.slice(start, i)))) {
          found.integerSpellings.push(path());
        }
      }
      expectValue = false;
      continue;
    }
    // after a value: ',' or the end of the enclosing container
    const top = stack[stack.length - 1];
    if (top === undefined) break;
    i++;
    if (c === 44 /* , */) {
      if (top.names === null) {
        (top.at as number)++;
        expectValue = true;
      } else {
        while (i < n && isWs(text.charCodeAt(i))) i++;
        i = readName(text, i, stack, found, path);
        expectValue = true;
      }
    } else stack.pop(); // '}' or ']'
  }
  return found;
}

/** Reads `"name" :` at `i` into the top frame; returns the index of the value. */
function readName(text: string, i: number, stack: Frame[], found: JsonTextFindings, path: () => JsonPath): number {
  const end = stringEnd(text, i);
  const raw = text.slice(i + 1, end);
  const name = raw.indexOf('\\') === -1 ? raw : (JSON.parse(text.slice(i, end + 1)) as string);
  const top = stack[stack.length - 1]!;
  top.at = name;
  if (!addName(top, name) && found.duplicates.length < MAX_FINDINGS) found.duplicates.push(path());
  i = end + 1;
  while (text.charCodeAt(i) !== 58 /* : */) i++;
  return i + 1;
}

/** `a.b[2].c`, as schema-check.ts writes paths (prefix added in front when given). */
export function pathText(path: JsonPath, prefix = ''): string {
  let out = prefix;
  for (const seg of path) out += typeof seg === 'number' ? `[${seg}]` : out === '' ? seg : `.${seg}`;
  return out === '' ? '$' : out;
}

/** The findings as field problems (paths prefixed with `prefix`): duplicates first, then integer spellings. */
export function jsonTextProblems(found: JsonTextFindings, prefix = ''): FieldProblem[] {
  return [
    ...found.duplicates.map((p) => ({ field: pathText(p, prefix), message: DUPLICATE_MESSAGE })),
    ...found.integerSpellings.map((p) => ({ field: pathText(p, prefix), message: INTEGER_SPELLING_MESSAGE })),
  ];
}
