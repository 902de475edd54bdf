/**
 * JSON Canonicalization Scheme (RFC 8785). Object keys are sorted by UTF-16 code units, numbers
 * use the ECMAScript shortest round-trip form (which is what RFC 8785 specifies), strings use
 * JSON.stringify's escaping (which matches RFC 8785 §3.2.2.2), and no whitespace is emitted.
 * Values JSON cannot carry (NaN, Infinity, undefined at top level, functions, bigint) are refused,
 * and so are strings with lone surrogates (RFC 8785 §3.1 requires I-JSON, RFC 7493 §2.1).
 * Array holes and `undefined` array members are written as null, as JSON.stringify does.
 * Written for speed (it runs over every batch payload): string concatenation, and strings that
 * need no escaping are quoted directly instead of going through JSON.stringify.
 */
import { protocolError } from './errors.js';

export function canonicalize(value: unknown): string {
  return write(value, 0);
}

const MAX_DEPTH = 256;

function write(value: unknown, depth: number): string {
  if (depth > MAX_DEPTH) throw protocolError('ERR_CANONICAL_JSON', `nesting deeper than ${MAX_DEPTH}`);
  if (value === null) return 'null';
  switch (typeof value) {
    case 'boolean':
      return value ? 'true' : 'false';
    case 'number':
      if (!Number.isFinite(value)) throw protocolError('ERR_CANONICAL_JSON', `number ${value} has no JSON form`);
      // Number::toString is the serialisation RFC 8785 §3.2.2.3 prescribes; -0 is written 0.
      return Object.is(value, -0) ? '0' : String(value);
    case 'string':
      return writeString(value);
    case 'object': {
      if (Array.isArray(value)) {
        let out = '[';
        for (let i = 0; i < value.length; i++) {
          if (i > 0) out += ',';
          const item: unknown = value[i];
          out += write(item === undefined ? null : item, depth + 1);
        }
        return out + ']';
      }
      const obj = (typeof (value as { toJSON?: unknown }).toJSON === 'function' ? (value as { toJSON(): unknown }).toJSON() : value) as Record<string, unknown>;
      if (obj !== value) return write(obj, depth + 1);
      // The default sort compares UTF-16 code units, exactly what RFC 8785 §3.2.3 requires.
      const keys = Object.keys(obj).sort();
      let out = '{';
      let first = true;
      for (const k of keys) {
        const v = obj[k];
        if (v === undefined || typeof v === 'function') continue;
        if (!first) out += ',';
        first = false;
        out += writeString(k) + ':' + write(v, depth + 1);
      }
      return out + '}';
    }
    default:
      throw protocolError('ERR_CANONICAL_JSON', `a ${typeof value} has no JSON form`);
  }
}

/** No quote, backslash, control character or surrogate: the string is its own JSON body. */
const PLAIN = /^[^"\\\u0000-\u001f\ud800-\udfff]*$/;
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** True when `s` holds a UTF-16 surrogate without its pair (not Unicode text; not I-JSON). */
export function hasLoneSurrogate(s: string): boolean {
  return !PLAIN.test(s) && LONE_SURROGATE.test(s);
}

/**
 * Why a parsed JSON value cannot be canonicalized — a lone surrogate in a string or key, a number
 * that is not finite (JSON.parse reads 1e999 as Infinity), nesting deeper than canonicalize()
 * writes — or null. Cheaper than canonicalize(): nothing is sorted or built. Receivers run it
 * over what they parsed, so a value they store can always be sealed again.
 */
export function iJsonProblem(value: unknown, depth = 0): string | null {
  if (depth > MAX_DEPTH) return `nesting deeper than ${MAX_DEPTH}`;
  if (typeof value === 'string') return hasLoneSurrogate(value) ? 'a string holds a lone UTF-16 surrogate' : null;
  if (typeof value === 'number') return Number.isFinite(value) ? null : `number ${value} has no JSON form`;
  if (typeof value !== 'object' || value === null) return null;
  if (Array.isArray(value)) {
    for (const item of value) {
      const p = iJsonProblem(item, depth + 1);
      if (p !== null) return p;
    }
    return null;
  }
  for (const [k, v] of Object.entries(value)) {
    const p = hasLoneSurrogate(k) ? 'a member name holds a lone UTF-16 surrogate' : iJsonProblem(v, depth + 1);
    if (p !== null) return p;
  }
  return null;
}

function writeString(s: string): string {
  if (PLAIN.test(s)) return '"' + s + '"';
  if (LONE_SURROGATE.test(s)) throw protocolError('ERR_CANONICAL_JSON', 'string holds a lone UTF-16 surrogate (not I-JSON)');
  return JSON.stringify(s);
}
