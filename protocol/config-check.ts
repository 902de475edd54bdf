/**
 * A small validator for server configuration schemas (a JSON Schema subset): names the first bad
 * key (`listen.port`) in ERR_CONFIG_INVALID's `details.key`, refuses unknown keys, fills defaults.
 * Shared by the node's and the hub's config.ts. Pure.
 */
import { serviceError } from './service-errors.js';
import { usableSuites } from './suites.js';

export interface SchemaNode {
  type: 'object' | 'string' | 'integer' | 'number' | 'boolean';
  description: string;
  properties?: Record<string, SchemaNode>;
  /** Schema of keys not named in `properties` (a map); without it such keys are refused. */
  additionalProperties?: SchemaNode;
  required?: string[];
  enum?: string[];
  pattern?: string;
  minimum?: number;
  maximum?: number;
  default?: unknown;
}

function typeOf(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number' && Number.isInteger(v)) return 'integer';
  return typeof v;
}

function bad(key: string, message: string): never {
  throw serviceError('ERR_CONFIG_INVALID', `config key ${key}: ${message}`, { key });
}

/** Validates `value` against `schema` and returns a copy with defaults filled in. */
export function validateAgainst(schema: SchemaNode, value: unknown, path = ''): unknown {
  const key = path || '(root)';
  const t = typeOf(value);
  if (schema.type === 'object') {
    if (t !== 'object') bad(key, `must be an object, got ${t}`);
    const obj = value as Record<string, unknown>;
    const props = schema.properties ?? {};
    for (const k of Object.keys(obj)) if (!(k in props) && !schema.additionalProperties) bad(path ? `${path}.${k}` : k, 'unknown key');
    for (const r of schema.required ?? []) if (obj[r] === undefined) bad(path ? `${path}.${r}` : r, 'is required');
    const out: Record<string, unknown> = {};
    if (schema.additionalProperties) for (const k of Object.keys(obj)) if (!(k in props)) out[k] = validateAgainst(schema.additionalProperties, obj[k], path ? `${path}.${k}` : k);
    for (const [k, sub] of Object.entries(props)) {
      const child = path ? `${path}.${k}` : k;
      if (obj[k] !== undefined) out[k] = validateAgainst(sub, obj[k], child);
      else if (sub.default !== undefined) out[k] = sub.default;
      else if (sub.type === 'object' && !sub.required?.length) out[k] = validateAgainst(sub, {}, child);
    }
    return out;
  }
  if (schema.type === 'integer' || schema.type === 'number') {
    if (t !== 'integer' && (schema.type === 'integer' || t !== 'number' || !Number.isFinite(value))) bad(key, `must be a ${schema.type === 'integer' ? 'whole ' : ''}number, got ${t}`);
    const n = value as number;
    if (schema.minimum !== undefined && n < schema.minimum) bad(key, `must be at least ${schema.minimum}`);
    if (schema.maximum !== undefined && n > schema.maximum) bad(key, `must be at most ${schema.maximum}`);
    return n;
  }
  if (schema.type === 'boolean') {
    if (t !== 'boolean') bad(key, `must be true or false, got ${t}`);
    return value;
  }
  if (t !== 'string' || value === '') bad(key, `must be a non-empty string, got ${t === 'string' ? 'an empty string' : t}`);
  const s = value as string;
  if (schema.enum && !schema.enum.includes(s)) bad(key, `must be one of ${schema.enum.join(', ')}`);
  if (schema.pattern && !new RegExp(schema.pattern).test(s)) bad(key, `must match ${schema.pattern} (${schema.description})`);
  return s;
}

/** A suite policy key (`suites`, `hub.suites`): a non-empty list of families (RSA, EC, SM) or usable suite names; undefined when absent. */
export function checkSuitesKey(v: unknown, key: string): string[] | undefined {
  if (v === undefined) return undefined;
  if (!Array.isArray(v) || v.length === 0) bad(key, 'must be a non-empty list such as ["SM"]');
  v.forEach((s, i) => {
    if (typeof s !== 'string' || !(['RSA', 'EC', 'SM'].includes(s) || usableSuites().includes(s))) bad(`${key}[${i}]`, `must be RSA, EC, SM or one of ${usableSuites().join(', ')}`);
  });
  return [...(v as string[])];
}
