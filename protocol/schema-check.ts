/**
 * Checks a value against a schema of the JSON Schema subset protocol/'s wire schemas use: type,
 * enum, const, pattern, minLength/maxLength (UTF-16 units), minimum/maximum, required,
 * properties, additionalProperties: false, items, minItems/maxItems. It reports EVERY problem,
 * each with a dotted path, so one error can list all bad fields. Keep the schemas inside the
 * subset (test/protocol/envelope-version.test.ts checks they are).
 *
 * The checking is Ajv's (draft 2020-12, allErrors): each schema object is compiled once, on first
 * use, into a validator and cached; compiling builds code in memory and does no I/O, so protocol/
 * stays pure. Ajv's errors are then written the way the hand-written checker this replaced wrote
 * them (scripts/bench/schema-hand-written.ts keeps that checker as the reference; the two are held to
 * the same problems): the bad field as a dotted path (`enc.iv`, `x5c[0]`, `$` for the whole value)
 * and an English message (`must be a string, got integer`, `is required`, `is not allowed here`).
 * One value gets one type problem and at most one length-or-pattern problem, as before.
 * docs/benchmarks.md ("Schema checking") has the side-by-side figures. Schemas are treated as
 * constants: do not change one after it has been used.
 */
import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';

export interface JsonSchema {
  type?: 'string' | 'integer' | 'number' | 'object' | 'array' | 'boolean' | 'null';
  enum?: readonly unknown[];
  const?: unknown;
  pattern?: string;
  minLength?: number;
  maxLength?: number;
  minimum?: number;
  maximum?: number;
  required?: readonly string[];
  properties?: Readonly<Record<string, JsonSchema>>;
  additionalProperties?: boolean;
  items?: JsonSchema;
  minItems?: number;
  maxItems?: number;
  description?: string;
  $id?: string;
  $schema?: string;
  title?: string;
}

export const SUPPORTED_KEYWORDS: ReadonlySet<string> = new Set([
  'type', 'enum', 'const', 'pattern', 'minLength', 'maxLength', 'minimum', 'maximum', 'required', 'properties',
  'additionalProperties', 'items', 'minItems', 'maxItems', 'description', '$id', '$schema', 'title',
]);

export interface FieldProblem {
  /** Dotted path of the bad field (`enc.iv`, `x5c[0]`); `$` for the whole value. */
  field: string;
  message: string;
}

const ajv = new Ajv2020({
  allErrors: true,
  strict: false,
  // lengths in UTF-16 units, as the hub's columns and the earlier checker count them (Ajv's
  // default counts code points; the option still works in Ajv 8 and only logs a deprecation,
  // hence the silent logger: strict is off, so there is nothing else it would say)
  unicode: false,
  logger: false,
  // `required` and `properties` look at own members only: `{}` has no "__proto__"
  ownProperties: true,
  // a schema's $id does not register it: two schemas with one $id (a copy) both compile
  addUsedSchema: false,
  // paths and messages are built here from the error's keyword and params
  messages: false,
} as ConstructorParameters<typeof Ajv2020>[0]);

const validators = new WeakMap<JsonSchema, ValidateFunction>();

function validatorFor(schema: JsonSchema): ValidateFunction {
  let v = validators.get(schema);
  if (v === undefined) validators.set(schema, (v = ajv.compile(schema as object)));
  return v;
}

/** The JSON type of a value as the messages name it (an integral number is `integer`). */
export function jsonTypeOf(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number';
  return typeof v;
}

/** `path` joined with a member name or array index, as problems name fields (`$` is the whole value). */
export function fieldPath(path: string, key: string | number): string {
  if (typeof key === 'number') return `${path === '$' ? '' : path}[${key}]`;
  return path === '$' ? key : `${path}.${key}`;
}

/**
 * The JSON Pointer Ajv reports, as a dotted path from `path`, and the value found there; null for
 * a hole in a sparse array (never in parsed JSON; the earlier checker skipped holes, as forEach does).
 */
function locate(root: unknown, pointer: string, path: string): { field: string; value: unknown } | null {
  let field = path;
  let value = root;
  if (pointer === '') return { field, value };
  for (const raw of pointer.slice(1).split('/')) {
    const key = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (Array.isArray(value)) {
      if (!(Number(key) in value)) return null;
      field = fieldPath(field, Number(key));
      value = value[Number(key)];
    } else {
      field = fieldPath(field, key);
      value = (value as Record<string, unknown>)[key];
    }
  }
  return { field, value };
}

function article(type: string): string {
  return type === 'integer' ? 'an integer' : `a${/^[aeiou]/.test(type) ? 'n' : ''} ${type}`;
}

/** The message the earlier checker wrote for this Ajv error; null for one it did not report. */
function messageOf(e: ErrorObject, value: unknown): string | null {
  const p = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case 'type': return `must be ${article(String(p.type))}, got ${jsonTypeOf(value)}`;
    case 'const': return `must be ${JSON.stringify(p.allowedValue)}`;
    case 'enum': return `must be one of ${(p.allowedValues as unknown[]).map((x) => JSON.stringify(x)).join(', ')}`;
    case 'minLength': return `must be at least ${String(p.limit)} characters`;
    case 'maxLength': return `must be at most ${String(p.limit)} characters`;
    case 'pattern': return `must match ${String(p.pattern)}`;
    case 'minimum': return `must be ≥ ${String(p.limit)}`;
    case 'maximum': return `must be ≤ ${String(p.limit)}`;
    case 'minItems': return `must have at least ${String(p.limit)} item(s)`;
    case 'maxItems': return `must have at most ${String(p.limit)} item(s)`;
    default: return null;
  }
}

/**
 * True when a value at `at` or above it has the wrong type: Ajv (allErrors) goes on checking the
 * keywords that fit the value's actual type, the earlier checker stopped at the type problem.
 */
function underWrongType(wrongType: ReadonlySet<string>, at: string, isTypeError: boolean): boolean {
  if (!isTypeError && wrongType.has(at)) return true;
  for (let i = at.lastIndexOf('/'); i > 0; i = at.lastIndexOf('/', i - 1)) if (wrongType.has(at.slice(0, i))) return true;
  return at !== '' && wrongType.has('');
}

/** Every way `value` breaks `schema` (empty when it conforms), appended to `out`. */
export function checkSchema(schema: JsonSchema, value: unknown, path = '$', out: FieldProblem[] = []): FieldProblem[] {
  const validate = validatorFor(schema);
  if (validate(value)) return out;
  const errors = validate.errors ?? [];
  // A value of the wrong type gets that problem alone (nothing inside it either); a string gets
  // one length-or-pattern problem.
  const wrongType = new Set<string>();
  const lengthBad = new Set<string>();
  for (const e of errors) {
    if (e.keyword === 'type') wrongType.add(e.instancePath);
    else if (e.keyword === 'minLength' || e.keyword === 'maxLength') lengthBad.add(e.instancePath);
  }
  for (const e of errors) {
    const at = e.instancePath;
    if (wrongType.size > 0 && underWrongType(wrongType, at, e.keyword === 'type')) continue;
    if (e.keyword === 'pattern' && lengthBad.has(at)) continue;
    if (e.keyword === 'maxLength' && errors.some((o) => o.keyword === 'minLength' && o.instancePath === at)) continue;
    const found = locate(value, at, path);
    if (found === null) continue;
    const { field, value: v } = found;
    if (e.keyword === 'required') out.push({ field: fieldPath(field, String(e.params.missingProperty)), message: 'is required' });
    else if (e.keyword === 'additionalProperties') out.push({ field: fieldPath(field, String(e.params.additionalProperty)), message: 'is not allowed here' });
    else {
      const message = messageOf(e, v);
      if (message !== null) out.push({ field, message });
    }
  }
  return out;
}
