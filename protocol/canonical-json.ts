/**
 * JSON Canonicalization Scheme (RFC 8785). Object keys are sorted by UTF-16 code units, numbers
 * use the ECMAScript shortest round-trip form (which is what RFC 8785 specifies), strings use
 * JSON.stringify's escaping (which matches RFC 8785 §3.2.2.2), and no whitespace is emitted.
 * Values JSON cannot carry (NaN, Infinity, undefined at top level, functions, bigint) are refused,
 * and so are strings with lone surrogates (RFC 8785 §3.1 requires I-JSON, RFC 7493 §2.1).
 * Array holes and `undefined` array members are written as null, as JSON.stringify does.
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
      return Object.is(value, -0) ? '0' : JSON.stringify(value);
    case 'string':
      return writeString(value);
    case 'object': {
      if (Array.isArray(value)) {
        const parts: string[] = [];
        for (let i = 0; i < value.length; i++) parts.push(write(value[i] === undefined ? null : value[i], depth + 1));
        return '[' + parts.join(',') + ']';
      }
      const obj = (typeof (value as { toJSON?: unknown }).toJSON === 'function' ? (value as { toJSON(): unknown }).toJSON() : value) as Record<string, unknown>;
      if (obj !== value) return write(obj, depth + 1);
      const keys = Object.keys(obj)
        .filter((k) => obj[k] !== undefined && typeof obj[k] !== 'function')
        .sort(compareUtf16);
      return '{' + keys.map((k) => writeString(k) + ':' + write(obj[k], depth + 1)).join(',') + '}';
    }
    default:
      throw protocolError('ERR_CANONICAL_JSON', `a ${typeof value} has no JSON form`);
  }
}

const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

function writeString(s: string): string {
  if (LONE_SURROGATE.test(s)) throw protocolError('ERR_CANONICAL_JSON', 'string holds a lone UTF-16 surrogate (not I-JSON)');
  return JSON.stringify(s);
}

/** Orders strings by UTF-16 code units, as RFC 8785 §3.2.3 requires (not by code points). */
function compareUtf16(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const d = a.charCodeAt(i) - b.charCodeAt(i);
    if (d !== 0) return d;
  }
  return a.length - b.length;
}
