/**
 * The hand-written JSON Schema subset checker protocol/schema-check.ts used until issue 17 item 12
 * (now Ajv), kept for two readers: the schema-check bench (scripts/bench/schema-check.ts) runs it
 * side by side with Ajv, and test/protocol/schema-check.test.ts holds the Ajv-backed checker to
 * the problems its interpreter reports (field and message). Not used by the servers.
 *
 * interpretSchema reads the schema afresh for every value (the reference); checkSchemaHandWritten
 * interprets a schema met once and compiles one met again into closures (compileSchema), as the
 * protocol did: the keywords are read once, and a field's path is only built when it has a problem.
 */
import { fieldPath as join, jsonTypeOf as typeOf, type FieldProblem, type JsonSchema } from '../../protocol/schema-check.js';

const patterns = new Map<string, RegExp>();
function regex(p: string): RegExp {
  let r = patterns.get(p);
  if (!r) patterns.set(p, (r = new RegExp(p, 'u')));
  return r;
}

/** Every way `value` breaks `schema` (empty when it conforms). */
export function checkSchemaHandWritten(schema: JsonSchema, value: unknown, path = '$', out: FieldProblem[] = []): FieldProblem[] {
  let compiled = cache.get(schema);
  if (compiled === undefined) {
    // a schema seen once (built on the fly) is interpreted; from the second use on it is compiled
    cache.set(schema, null);
    return interpretSchema(schema, value, path, out);
  }
  if (compiled === null) cache.set(schema, (compiled = compileSchema(schema)));
  compiled(value, path, out);
  return out;
}

/** The reference checker: reads the schema afresh for every value. */
export function interpretSchema(schema: JsonSchema, value: unknown, path = '$', out: FieldProblem[] = []): FieldProblem[] {
  const bad = (message: string) => out.push({ field: path, message });
  if (schema.type !== undefined) {
    const t = typeOf(value);
    const ok = t === schema.type || (schema.type === 'number' && t === 'integer');
    if (!ok) {
      bad(`must be ${schema.type === 'integer' ? 'an integer' : `a${/^[aeiou]/.test(schema.type) ? 'n' : ''} ${schema.type}`}, got ${t}`);
      return out;
    }
  }
  if (schema.const !== undefined && value !== schema.const) bad(`must be ${JSON.stringify(schema.const)}`);
  if (schema.enum !== undefined && !schema.enum.includes(value)) bad(`must be one of ${schema.enum.map((e) => JSON.stringify(e)).join(', ')}`);
  if (typeof value === 'string') {
    if (schema.minLength !== undefined && value.length < schema.minLength) bad(`must be at least ${schema.minLength} characters`);
    else if (schema.maxLength !== undefined && value.length > schema.maxLength) bad(`must be at most ${schema.maxLength} characters`);
    else if (schema.pattern !== undefined && !regex(schema.pattern).test(value)) bad(`must match ${schema.pattern}`);
  }
  if (typeof value === 'number') {
    if (schema.minimum !== undefined && value < schema.minimum) bad(`must be ≥ ${schema.minimum}`);
    if (schema.maximum !== undefined && value > schema.maximum) bad(`must be ≤ ${schema.maximum}`);
  }
  if (Array.isArray(value)) {
    if (schema.minItems !== undefined && value.length < schema.minItems) bad(`must have at least ${schema.minItems} item(s)`);
    if (schema.maxItems !== undefined && value.length > schema.maxItems) bad(`must have at most ${schema.maxItems} item(s)`);
    if (schema.items) value.forEach((item, i) => interpretSchema(schema.items!, item, join(path, i), out));
  }
  if (typeOf(value) === 'object') {
    const obj = value as Record<string, unknown>;
    for (const key of schema.required ?? []) if (!Object.hasOwn(obj, key)) out.push({ field: join(path, key), message: 'is required' });
    for (const [key, sub] of Object.entries(schema.properties ?? {})) if (Object.hasOwn(obj, key)) interpretSchema(sub, obj[key], join(path, key), out);
    if (schema.additionalProperties === false) {
      for (const key of Object.keys(obj)) if (!Object.hasOwn(schema.properties ?? {}, key)) out.push({ field: join(path, key), message: 'is not allowed here' });
    }
  }
  return out;
}

// ---------------------------------------------------------------- compiled

/** A compiled schema: appends the problems of `value` (whose path is `path`) to `out`. */
export type CompiledSchema = (value: unknown, path: string, out: FieldProblem[]) => void;

/** Checks one value; its path is `parent` joined with `key`, built only when there is a problem. */
type Check = (value: unknown, parent: string, key: string | number | null, out: FieldProblem[]) => void;

const cache = new WeakMap<JsonSchema, CompiledSchema | null>();

function pathOf(parent: string, key: string | number | null): string {
  return key === null ? parent : join(parent, key);
}

/** True when `v` has the JSON type `type` (an integer is also a number). */
function typeTest(type: NonNullable<JsonSchema['type']>): (v: unknown) => boolean {
  switch (type) {
    case 'string': return (v) => typeof v === 'string';
    case 'integer': return (v) => typeof v === 'number' && Number.isInteger(v);
    case 'number': return (v) => typeof v === 'number';
    case 'boolean': return (v) => typeof v === 'boolean';
    case 'null': return (v) => v === null;
    case 'array': return (v) => Array.isArray(v);
    case 'object': return (v) => typeof v === 'object' && v !== null && !Array.isArray(v);
  }
}

function compileNode(schema: JsonSchema): Check {
  const { type, minLength, maxLength, minimum, maximum, minItems, maxItems } = schema;
  const isType = type === undefined ? null : typeTest(type);
  const typeMessage = type === undefined ? '' : `must be ${type === 'integer' ? 'an integer' : `a${/^[aeiou]/.test(type) ? 'n' : ''} ${type}`}, got `;
  const hasConst = schema.const !== undefined;
  const constant = schema.const;
  const constMessage = hasConst ? `must be ${JSON.stringify(schema.const)}` : '';
  const enumeration = schema.enum;
  const enumMessage = enumeration === undefined ? '' : `must be one of ${enumeration.map((e) => JSON.stringify(e)).join(', ')}`;
  const pattern = schema.pattern === undefined ? null : regex(schema.pattern);
  const patternMessage = `must match ${schema.pattern}`;
  const stringChecks = minLength !== undefined || maxLength !== undefined || pattern !== null;
  const numberChecks = minimum !== undefined || maximum !== undefined;
  const items = schema.items === undefined ? null : compileNode(schema.items);
  const required = schema.required ?? [];
  const props = Object.entries(schema.properties ?? {}).map(([k, sub]) => ({ key: k, check: compileNode(sub) }));
  const known = new Set(Object.keys(schema.properties ?? {}));
  const closed = schema.additionalProperties === false;
  const objectChecks = required.length > 0 || props.length > 0 || closed;

  return function check(value, parent, key, out) {
    if (isType !== null && !isType(value)) {
      out.push({ field: pathOf(parent, key), message: typeMessage + typeOf(value) });
      return;
    }
    if (hasConst && value !== constant) out.push({ field: pathOf(parent, key), message: constMessage });
    if (enumeration !== undefined && !enumeration.includes(value)) out.push({ field: pathOf(parent, key), message: enumMessage });
    if (typeof value === 'string') {
      if (!stringChecks) return;
      if (minLength !== undefined && value.length < minLength) out.push({ field: pathOf(parent, key), message: `must be at least ${minLength} characters` });
      else if (maxLength !== undefined && value.length > maxLength) out.push({ field: pathOf(parent, key), message: `must be at most ${maxLength} characters` });
      else if (pattern !== null && !pattern.test(value)) out.push({ field: pathOf(parent, key), message: patternMessage });
      return;
    }
    if (typeof value === 'number') {
      if (!numberChecks) return;
      if (minimum !== undefined && value < minimum) out.push({ field: pathOf(parent, key), message: `must be ≥ ${minimum}` });
      if (maximum !== undefined && value > maximum) out.push({ field: pathOf(parent, key), message: `must be ≤ ${maximum}` });
      return;
    }
    if (typeof value !== 'object' || value === null) return;
    if (Array.isArray(value)) {
      if (minItems !== undefined && value.length < minItems) out.push({ field: pathOf(parent, key), message: `must have at least ${minItems} item(s)` });
      if (maxItems !== undefined && value.length > maxItems) out.push({ field: pathOf(parent, key), message: `must have at most ${maxItems} item(s)` });
      if (items !== null && value.length > 0) {
        const path = pathOf(parent, key);
        for (let i = 0; i < value.length; i++) if (i in value) items(value[i], path, i, out); // forEach skips holes too
      }
      return;
    }
    if (!objectChecks) return;
    const obj = value as Record<string, unknown>;
    const path = pathOf(parent, key);
    for (const k of required) if (!Object.hasOwn(obj, k)) out.push({ field: join(path, k), message: 'is required' });
    for (const p of props) if (Object.hasOwn(obj, p.key)) p.check(obj[p.key], path, p.key, out);
    if (closed) {
      for (const k of Object.keys(obj)) if (!known.has(k)) out.push({ field: join(path, k), message: 'is not allowed here' });
    }
  };
}

/** The schema as closures: the same problems as interpretSchema, in the same order. */
export function compileSchema(schema: JsonSchema): CompiledSchema {
  const check = compileNode(schema);
  return (value, path, out) => check(value, path, null, out);
}
