/**
 * The node's configuration schema (JSON Schema subset) and a small validator that names the first
 * bad key (`listen.port`) in ERR_CONFIG_INVALID's `details.key`. One schema for the file and the
 * environment: env values are merged in before validation (see config.ts).
 */
import { nodeError } from './errors.js';

export interface SchemaNode {
  type: 'object' | 'string' | 'integer' | 'boolean';
  description: string;
  properties?: Record<string, SchemaNode>;
  required?: string[];
  enum?: string[];
  pattern?: string;
  minimum?: number;
  maximum?: number;
  default?: unknown;
}

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

export const CONFIG_SCHEMA: SchemaNode = {
  type: 'object',
  description: 'city node configuration',
  required: ['nodeId', 'dataDir'],
  properties: {
    nodeId: { type: 'string', pattern: '^[1-9][0-9]{5}$', description: 'the 6-digit administrative division code (GB/T 2260), e.g. 430100' },
    dataDir: { type: 'string', description: 'directory for node.sqlite and jwt.secret (created if missing)' },
    databaseUrl: { type: 'string', pattern: '^postgres(ql)?://', description: 'PostgreSQL URL instead of the embedded SQLite file (env DATABASE_URL)' },
    listen: {
      type: 'object',
      description: 'where the local API listens',
      properties: {
        host: { type: 'string', default: '127.0.0.1', description: 'interface to bind (loopback by default)' },
        port: { type: 'integer', minimum: 0, maximum: 65535, default: 8480, description: 'TCP port (0 = any free port)' },
        tls: {
          type: 'object',
          description: 'serve the local API over HTTPS',
          required: ['certFile', 'keyFile'],
          properties: {
            certFile: { type: 'string', description: 'PEM certificate (chain) file' },
            keyFile: { type: 'string', description: 'PEM private key file' },
          },
        },
      },
    },
    jwtSecretFile: { type: 'string', description: 'HS256 secret for local user tokens; default DATADIR/jwt.secret, generated (0600) if absent' },
    logLevel: { type: 'string', enum: LOG_LEVELS, default: 'info', description: 'pino log level (env CREDIT_LOG_LEVEL)' },
    bodyLimitBytes: { type: 'integer', minimum: 1024, default: 1048576, description: 'largest JSON request body' },
    importLimitBytes: { type: 'integer', minimum: 1024, default: 4294967296, description: 'largest import upload' },
    importBatchSize: { type: 'integer', minimum: 1, maximum: 2000, default: 1000, description: 'records per import transaction' },
    rejectedLinesCap: { type: 'integer', minimum: 0, default: 1000, description: 'rejected lines listed in an import report (all are counted)' },
    rateLimit: {
      type: 'object',
      description: 'per-client request rate limit',
      properties: {
        enabled: { type: 'boolean', default: true, description: 'turn the limiter off (e.g. behind a gateway that limits)' },
        max: { type: 'integer', minimum: 1, default: 1200, description: 'requests per window per client address' },
        timeWindowMs: { type: 'integer', minimum: 1000, default: 60000, description: 'window length' },
      },
    },
    disclosureJob: {
      type: 'object',
      description: 'the job withdrawing negative records whose disclosure window ended',
      properties: {
        intervalMinutes: { type: 'integer', minimum: 0, default: 60, description: 'run every N minutes (and once at start); 0 = only at start' },
      },
    },
    shutdownTimeoutMs: { type: 'integer', minimum: 100, default: 15000, description: 'how long a graceful shutdown may wait for in-flight requests' },
  },
};

function typeOf(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number' && Number.isInteger(v)) return 'integer';
  return typeof v;
}

function bad(key: string, message: string): never {
  throw nodeError('ERR_CONFIG_INVALID', `config key ${key}: ${message}`, { key });
}

/** Validates `value` against `schema` and returns a copy with defaults filled in. */
export function validateAgainst(schema: SchemaNode, value: unknown, path = ''): unknown {
  const key = path || '(root)';
  const t = typeOf(value);
  if (schema.type === 'object') {
    if (t !== 'object') bad(key, `must be an object, got ${t}`);
    const obj = value as Record<string, unknown>;
    const props = schema.properties ?? {};
    for (const k of Object.keys(obj)) if (!(k in props)) bad(path ? `${path}.${k}` : k, 'unknown key');
    for (const r of schema.required ?? []) if (obj[r] === undefined) bad(path ? `${path}.${r}` : r, 'is required');
    const out: Record<string, unknown> = {};
    for (const [k, sub] of Object.entries(props)) {
      const child = path ? `${path}.${k}` : k;
      if (obj[k] !== undefined) out[k] = validateAgainst(sub, obj[k], child);
      else if (sub.default !== undefined) out[k] = sub.default;
      else if (sub.type === 'object' && !sub.required?.length) out[k] = validateAgainst(sub, {}, child);
    }
    return out;
  }
  if (schema.type === 'integer') {
    if (t !== 'integer') bad(key, `must be a whole number, got ${t}`);
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
