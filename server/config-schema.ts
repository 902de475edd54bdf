/**
 * Configuration keys both servers have, as parts of their config schemas (node/config-schema.ts,
 * hub/config-schema.ts; the JSON Schema subset protocol/config-check.ts reads): log level, rate
 * limit, retention of settled exchange rows, graceful-shutdown timeout, where to listen.
 */
import { isAbsolute, join } from 'node:path';
import type { SchemaNode } from '../protocol/config-check.js';
import { EXCHANGE_RETENTION_DEFAULT_DAYS, EXCHANGE_RETENTION_MIN_DAYS } from '../audit/exchange-retention.js';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

/** `listen`: the interface and port, plus what a server adds (the node's `tls`). */
export function listenSchema(o: { description: string; port: number; hostDescription: string; more?: Record<string, SchemaNode> }): SchemaNode {
  return {
    type: 'object',
    description: o.description,
    properties: {
      host: { type: 'string', default: '127.0.0.1', description: o.hostDescription },
      port: { type: 'integer', minimum: 0, maximum: 65535, default: o.port, description: 'TCP port (0 = any free port)' },
      ...o.more,
    },
  };
}

export const LOG_LEVEL_SCHEMA: SchemaNode = { type: 'string', enum: LOG_LEVELS, default: 'info', description: 'pino log level (env CREDIT_LOG_LEVEL)' };

export function rateLimitSchema(o: { description: string; max: number; maxDescription: string }): SchemaNode {
  return {
    type: 'object',
    description: o.description,
    properties: {
      enabled: { type: 'boolean', default: true, description: 'turn the limiter off (e.g. behind a gateway that limits)' },
      max: { type: 'integer', minimum: 1, default: o.max, description: o.maxDescription },
      timeWindowMs: { type: 'integer', minimum: 1000, default: 60_000, description: 'window length' },
    },
  };
}

/** `retention`: which settled rows are pruned (`what`), never earlier than the audit log's retention. */
export function retentionSchema(what: string): SchemaNode {
  return {
    type: 'object',
    description: `how long settled ${what} are kept; the signed exchange log is kept like the audit log`,
    properties: {
      exchangeDays: { type: 'integer', minimum: EXCHANGE_RETENTION_MIN_DAYS, default: EXCHANGE_RETENTION_DEFAULT_DAYS, description: `prune settled rows older than N days (at least ${EXCHANGE_RETENTION_MIN_DAYS}, the audit log's retention)` },
      intervalMinutes: { type: 'integer', minimum: 0, default: 60, description: 'run the pruning every N minutes (and once at start); 0 = only at start' },
    },
  };
}

export const SHUTDOWN_TIMEOUT_SCHEMA: SchemaNode = { type: 'integer', minimum: 100, default: 15_000, description: 'how long a graceful shutdown may wait for in-flight requests' };

/** `console`: the web console's own listener (docs/consoles.md); absent: no console. TLS defaults to the server's `listen.tls`. */
export function consoleSchema(o: { port: number }): SchemaNode {
  return {
    type: 'object',
    description: 'the web console (server-rendered pages for people; docs/consoles.md), on its own listener',
    properties: {
      listen: listenSchema({
        description: 'where the console listens (HTTPS: its session cookie is Secure)',
        port: o.port,
        hostDescription: 'interface to bind (loopback by default)',
        more: {
          tls: {
            type: 'object',
            description: "the console's certificate; default: the server's listen.tls",
            required: ['certFile', 'keyFile'],
            properties: { certFile: { type: 'string', description: 'PEM certificate (chain) file' }, keyFile: { type: 'string', description: 'PEM private key file' } },
          },
          allowPlaintext: { type: 'boolean', default: false, description: 'serve plain HTTP on an address beyond loopback (behind a TLS gateway)' },
        },
      }),
    },
  };
}

/** `atRest`: where the data key of encryption at rest lives and who holds it (docs/at-rest.md). */
export const AT_REST_SCHEMA: SchemaNode = {
  type: 'object',
  description: 'encryption at rest of personal data in record rows (SM4-CTR + HMAC-SM3, docs/at-rest.md)',
  properties: {
    keyFile: { type: 'string', description: 'the data key file (0600); default DATADIR/data.key, created at first start; relative paths are taken from dataDir' },
    keyWrapper: { type: 'string', description: '"file" (default: keys in the key file) or the absolute path of an ES module whose default export returns a KeyWrapper (a KMS or 密码机)' },
  },
};

/** The key file and wrapper a config names (defaults applied). */
export function atRestOptions(c: { dataDir: string; atRest?: { keyFile?: string; keyWrapper?: string } | undefined }): { keyFile: string; keyWrapper: string } {
  const keyFile = c.atRest?.keyFile ?? 'data.key';
  return { keyFile: isAbsolute(keyFile) ? keyFile : join(c.dataDir, keyFile), keyWrapper: c.atRest?.keyWrapper ?? 'file' };
}

/**
 * `audit`: the server's audit log. `hashAlg` is fixed when the log is created (audit/log-meta.ts):
 * absent, a new log is sha256 and an existing one keeps what it was created with; `sm3` makes a
 * log on SM (SM3 chain and Merkle tree, checkpoints signed with the server's SM2 key). No default
 * here on purpose: the schema fills defaults into absent objects, and only a key the operator
 * wrote may fix (or be checked against) the log's algorithm.
 */
export const AUDIT_SCHEMA: SchemaNode = {
  type: 'object',
  description: 'the audit log (docs/audit-format.md)',
  properties: {
    hashAlg: { type: 'string', enum: ['sha256', 'sm3'], description: 'hash algorithm of a new audit log, fixed at creation: sha256 (checkpoints signed with the RSA/EC key; the default) or sm3 (SM3 chain and tree, checkpoints signed SM2-with-SM3 with the SM2 key); another one than an existing log\'s refuses to start (ERR_AUDIT_ALGORITHM_MIXED)' },
  },
};
