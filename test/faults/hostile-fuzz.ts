/**
 * fast-check building blocks for the hostile-input tests: hostile JSON values, mutations of a
 * real JSON document (replace / delete / insert / swap / flip one character), a tally of the
 * answers seen, and a reporter that leaves an unexpected reply in the test output.
 */
import fc from 'fast-check';
import type { Test } from 'tap';
import { HOSTILE_STRINGS, nested } from './hostile-support.js';

/** Values that break parsers and stores: huge/negative/unsafe numbers, wrong types, control characters, lone surrogates, long strings. */
export const hostileValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }),
  fc.constantFrom<unknown>(1e308, -1e308, -1, 0, -0, 2 ** 53 + 1, 1.5, Number.MAX_SAFE_INTEGER, null, true, false, [], {}, '', ' ', 'x'.repeat(70_000), '\ud800', 'a\u0000b', '\udc00x', '9'.repeat(400)),
  fc.constantFrom(...HOSTILE_STRINGS),
  fc.constantFrom('2.0', '0.9', '1.1', '1', 'CF1-SM2KA-SM4GCM-SM3', 'CF1-NOPE', '430700', '430000', 'receipt', 'internal', 'restricted', '1970-01-01T00:00:00.000Z'),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.integer({ min: 1, max: 300 }).map((d) => JSON.parse(nested(d)) as unknown),
);

type Json = Record<string, unknown> | unknown[];
/** Every path (array of keys) to a value inside `v`, the root excluded. */
function paths(v: unknown, at: (string | number)[] = [], out: (string | number)[][] = []): (string | number)[][] {
  if (Array.isArray(v)) v.forEach((x, i) => (out.push([...at, i]), paths(x, [...at, i], out)));
  else if (typeof v === 'object' && v !== null) for (const [k, x] of Object.entries(v)) out.push([...at, k]), paths(x, [...at, k], out);
  return out;
}
function parentOf(root: Json, path: (string | number)[]): Record<string | number, unknown> {
  let p: unknown = root;
  for (const k of path.slice(0, -1)) p = (p as Record<string | number, unknown>)[k];
  return p as Record<string | number, unknown>;
}
/** Builders of JSON text from a base value and a fuzz choice: replace/delete/insert at a path, swap two values, flip one character. */
export const mutation = fc.record({ op: fc.constantFrom('replace', 'delete', 'insert', 'swap', 'flip'), a: fc.nat(), b: fc.nat(), value: hostileValue, key: fc.oneof(fc.string({ maxLength: 8 }), fc.constantFrom('__proto__', 'constructor', 'v', 'enc', 'sig', '\ud800')), ch: fc.integer({ min: 0, max: 0xffff }) });
export type Mutation = typeof mutation extends fc.Arbitrary<infer M> ? M : never;
export function mutate(base: unknown, m: Mutation): string {
  const root = structuredClone(base) as Json;
  const all = paths(root);
  if (all.length === 0) return JSON.stringify(m.value);
  const path = all[m.a % all.length]!;
  const parent = parentOf(root, path);
  const key = path[path.length - 1]!;
  switch (m.op) {
    case 'replace':
      parent[key] = m.value;
      break;
    case 'delete':
      if (Array.isArray(parent)) parent.splice(Number(key), 1);
      else delete parent[key];
      break;
    case 'insert':
      if (Array.isArray(parent)) parent.push(m.value);
      else Object.defineProperty(parent, m.key, { value: m.value, enumerable: true, configurable: true, writable: true });
      break;
    case 'swap': {
      const other = all[m.b % all.length]!;
      if (other.join('\0').startsWith(path.join('\0')) || path.join('\0').startsWith(other.join('\0'))) break;
      const op = parentOf(root, other);
      const ok = other[other.length - 1]!;
      [parent[key], op[ok]] = [op[ok], parent[key]];
      break;
    }
    case 'flip': {
      const s = parent[key];
      if (typeof s === 'string' && s.length > 0) {
        const i = m.b % s.length;
        parent[key] = s.slice(0, i) + String.fromCharCode(m.ch === s.charCodeAt(i) ? (m.ch + 1) & 0xffff : m.ch) + s.slice(i + 1);
      } else parent[key] = typeof s === 'number' ? s + 1 + (m.ch % 7) : m.value;
    }
  }
  return JSON.stringify(root);
}

/** Tallies statuses and codes for the docs (docs/reliability.md "Hostile input"). */
export function tally() {
  const seen = new Map<string, number>();
  return {
    add: (status: number, code: string | undefined) => void seen.set(`${status} ${code ?? '-'}`, (seen.get(`${status} ${code ?? '-'}`) ?? 0) + 1),
    text: () => [...seen].sort((a, b) => b[1] - a[1]).map(([k, n]) => `${k} ×${n}`).join(', '),
  };
}

/** Passes `ok` through, leaving the reply in the test output when it is false (fast-check prints only the input). */
export function report(t: Test, ok: boolean, r: { status: number; json: unknown }): boolean {
  if (!ok) t.comment(`unexpected reply ${r.status}: ${JSON.stringify(r.json).slice(0, 400)}`);
  return ok;
}
