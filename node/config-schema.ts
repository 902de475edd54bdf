/**
 * The node's configuration schema (JSON Schema subset) and a small validator that names the first
 * bad key (`listen.port`) in ERR_CONFIG_INVALID's `details.key`. One schema for the file and the
 * environment: env values are merged in before validation (see config.ts).
 */
import { validateAgainst, type SchemaNode } from '../protocol/config-check.js';
import { AT_REST_SCHEMA, AUDIT_SCHEMA, consoleSchema, listenSchema, LOG_LEVEL_SCHEMA, rateLimitSchema, retentionSchema, SHUTDOWN_TIMEOUT_SCHEMA } from '../server/config-schema.js';
import { ACCOUNTS_SCHEMA } from '../server/accounts-config.js';

export { validateAgainst, type SchemaNode };

export { LOG_LEVELS } from '../server/config-schema.js';

/** Outbox rows a batch is cut at by default: the protocol's MAX_BATCH_ITEMS (docs/benchmarks.md "Larger batches": ≈ 1.3 × the exchange rate of batches of 1,000). */
export const DEFAULT_BATCH_MAX_RECORDS = 5000;
/** Bytes of the records' stored text a batch stays within by default: half the hub's default maxEnvelopeBytes (16 MiB). */
export const DEFAULT_BATCH_MAX_BYTES = 8 * 1024 * 1024;

export const CONFIG_SCHEMA: SchemaNode = {
  type: 'object',
  description: 'city node configuration',
  required: ['nodeId', 'dataDir'],
  properties: {
    nodeId: { type: 'string', pattern: '^[1-9][0-9]{5}$', description: 'the 6-digit administrative division code (GB/T 2260), e.g. 430100' },
    dataDir: { type: 'string', description: 'directory for node.sqlite and jwt.secret (created if missing)' },
    databaseUrl: { type: 'string', pattern: '^postgres(ql)?://', description: 'PostgreSQL URL instead of the embedded SQLite file (env DATABASE_URL)' },
    listen: listenSchema({
      description: 'where the local API listens',
      port: 8480,
      hostDescription: 'interface to bind (loopback by default)',
      more: {
        tls: {
          type: 'object',
          description: 'serve the local API over HTTPS',
          required: ['certFile', 'keyFile'],
          properties: {
            certFile: { type: 'string', description: 'PEM certificate (chain) file' },
            keyFile: { type: 'string', description: 'PEM private key file' },
          },
        },
        allowPlaintext: { type: 'boolean', default: false, description: 'serve plain HTTP on an address beyond loopback (refused otherwise; warned at every start)' },
      },
    }),
    atRest: AT_REST_SCHEMA,
    audit: AUDIT_SCHEMA,
    jwtSecretFile: { type: 'string', description: 'HS256 secret for local user tokens; default DATADIR/jwt.secret, generated (0600) if absent' },
    logLevel: LOG_LEVEL_SCHEMA,
    bodyLimitBytes: { type: 'integer', minimum: 1024, default: 1048576, description: 'largest JSON request body' },
    importLimitBytes: { type: 'integer', minimum: 1024, default: 4294967296, description: 'largest import upload' },
    importUnpackLimitBytes: { type: 'integer', minimum: 1048576, default: 2147483648, description: 'most bytes one XLSX import may unpack, every zip entry counted (a decompression bomb gets 413 ERR_BODY_TOO_LARGE)' },
    importBatchSize: { type: 'integer', minimum: 1, maximum: 2000, default: 1000, description: 'records per import transaction' },
    rejectedLinesCap: { type: 'integer', minimum: 0, default: 1000, description: 'rejected lines listed in an import report (all are counted)' },
    severityDefaults: {
      type: 'object',
      description: 'province default of 失信程度 for negative records that give neither it nor 公示截止期: keys are a type code (CF) or a type code and a category value (CF/警告)',
      properties: {},
      additionalProperties: { type: 'string', enum: ['minor', 'ordinary', 'serious'], description: 'severity' },
    },
    rateLimit: rateLimitSchema({ description: 'per-client request rate limit', max: 1200, maxDescription: 'requests per window per client address' }),
    disclosureJob: {
      type: 'object',
      description: 'the job withdrawing negative records whose disclosure window ended',
      properties: {
        intervalMinutes: { type: 'integer', minimum: 0, default: 60, description: 'run every N minutes (and once at start); 0 = only at start' },
      },
    },
    retention: retentionSchema('exchange rows (node_outbox rows of receipted batches)'),
    accounts: ACCOUNTS_SCHEMA,
    console: consoleSchema({ port: 8481 }),
    shutdownTimeoutMs: SHUTDOWN_TIMEOUT_SCHEMA,
    hub: {
      type: 'object',
      description: 'the provincial hub this node exchanges with (absent: the node runs standalone); keys in DATADIR/exchange/ from `credit node init`',
      required: ['url'],
      properties: {
        url: { type: 'string', pattern: '^https://[^/?#]+/?$', description: "the hub's origin, e.g. https://hub.hunan.example:8443" },
        pollIntervalMs: { type: 'integer', minimum: 50, default: 2000, description: 'how often to ask the hub for distributions' },
        batchMaxRecords: { type: 'integer', minimum: 1, maximum: 5000, default: DEFAULT_BATCH_MAX_RECORDS, description: 'a batch is cut when this many outbox rows wait (at most the protocol\'s 5,000 items a batch)…' },
        batchMaxBytes: { type: 'integer', minimum: 65_536, maximum: 128 * 1024 * 1024, default: DEFAULT_BATCH_MAX_BYTES, description: '…or before its records\' stored text passes this many bytes (keep it at most half the hub\'s maxEnvelopeBytes, default 16 MiB)…' },
        batchMaxAgeMs: { type: 'integer', minimum: 0, default: 1000, description: '…or when the oldest has waited this long' },
        checkpointIntervalMs: { type: 'integer', minimum: 0, default: 120000, description: 'how often the hub witnesses (cosigns) this node\'s audit checkpoint; 0 = only after batches' },
        renewAt: { type: 'number', minimum: 0.01, maximum: 0.5, default: 0.34, description: "renew the node certificate when less than this fraction of its lifetime is left (at most 0.5: the hub renews no earlier)" },
        timeoutMs: { type: 'integer', minimum: 1000, default: 30000, description: 'connect, headers and body timeout of one hub request' },
        unsignedSeqRefusals: { type: 'boolean', default: false, description: "act on the hub's unsigned ERR_SEQUENCE_GAP / ERR_OUT_OF_ORDER answers: only while the hub still runs protocol 1.1 (it signs them from 1.2); off, the node resynchronises its batches only on the hub's signed refusal" },
      },
    },
  },
};
