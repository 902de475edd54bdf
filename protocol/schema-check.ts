/**
 * A small JSON Schema checker for the subset protocol/'s wire schemas use: type, enum, const,
 * pattern, minLength/maxLength (UTF-16 units), minimum/maximum, required, properties,
 * additionalProperties: false, items, minItems/maxItems. It reports EVERY problem, each with a
 * dotted path, so one error can list all bad fields. Keywords outside the subset are ignored, so
 * keep the schemas inside it (test/protocol/envelope-schema.test.ts checks they are).
 */

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

const patterns = new Map<string, RegExp>();
function regex(p: string): RegExp {
  let r = patterns.get(p);
  if (!r) patterns.set(p, (r = new RegExp(p, 'u')));
  return r;
}

function typeOf(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number';
  return typeof v;
}

function join(path: string, key: string | number): string {
  if (typeof key === 'number') return `${path === '$' ? '' : path}[${key}]`;
  return path === '$' ? key : `${path}.${key}`;
}

/** Every way `value` breaks `schema` (empty when it conforms). */
export function checkSchema(schema: JsonSchema, value: unknown, path = '$', out: FieldProblem[] = []): FieldProblem[] {
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
    if (schema.items) value.forEach((item, i) => checkSchema(schema.items!, item, join(path, i), out));
  }
  if (typeOf(value) === 'object') {
    const obj = value as Record<string, unknown>;
    for (const key of schema.required ?? []) if (!Object.hasOwn(obj, key)) out.push({ field: join(path, key), message: 'is required' });
    for (const [key, sub] of Object.entries(schema.properties ?? {})) if (Object.hasOwn(obj, key)) checkSchema(sub, obj[key], join(path, key), out);
    if (schema.additionalProperties === false) {
      for (const key of Object.keys(obj)) if (!Object.hasOwn(schema.properties ?? {}, key)) out.push({ field: join(path, key), message: 'is not allowed here' });
    }
  }
  return out;
}
