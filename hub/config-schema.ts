/**
 * The hub's configuration schema (the JSON Schema subset protocol/config-check.ts reads). `hosts`
 * (a list) is checked by config.ts itself, since the subset has no arrays.
 */
import type { SchemaNode } from '../protocol/config-check.js';
import { ACCOUNTS_SCHEMA } from '../server/accounts-config.js';
import { AT_REST_SCHEMA, AUDIT_SCHEMA, consoleSchema, listenSchema, LOG_LEVEL_SCHEMA, rateLimitSchema, retentionSchema, SHUTDOWN_TIMEOUT_SCHEMA } from '../server/config-schema.js';

export { LOG_LEVELS } from '../server/config-schema.js';
export const MIB = 1024 * 1024;

export const HUB_CONFIG_SCHEMA: SchemaNode = {
  type: 'object',
  description: 'provincial hub configuration',
  required: ['dataDir', 'caDir'],
  properties: {
    dataDir: { type: 'string', description: 'directory for hub.sqlite, hub.key and hub.pem (created if missing)' },
    caDir: { type: 'string', description: 'the CA directory of `credit ca init` (ca.pem + ca.key); the register and tokens live in the hub database' },
    databaseUrl: { type: 'string', pattern: '^postgres(ql)?://', description: 'PostgreSQL URL instead of DATADIR/hub.sqlite (env DATABASE_URL)' },
    databaseReadUrl: { type: 'string', pattern: '^postgres(ql)?://', description: 'a read replica (streaming standby) of databaseUrl for the province queries\' record lookups and the quality reports; never for revocation or replay checks (env DATABASE_READ_URL; docs/scale.md)' },
    databaseReadMaxLagMs: { type: 'integer', minimum: 0, maximum: 600000, default: 2000, description: 'a query scans the primary when the replica has not reached the distribution cursor the primary had this long ago' },
    databaseReadTimeoutMs: { type: 'integer', minimum: 10, maximum: 60000, default: 1000, description: 'a query scans the primary when the replica does not answer within this' },
    atRest: AT_REST_SCHEMA,
    audit: AUDIT_SCHEMA,
    listen: listenSchema({ description: 'where the hub listens (HTTPS, mutual TLS)', port: 8443, hostDescription: 'interface to bind' }),
    nodeCertDays: { type: 'integer', minimum: 1, maximum: 3650, default: 365, description: 'validity of node certificates issued at enrolment and renewal (and of the hub certificate)' },
    nodeCertSeconds: { type: 'integer', minimum: 10, maximum: 86_400, description: 'for drills and tests only: node certificates live this many seconds (overrides nodeCertDays for nodes, not for the hub certificate)' },
    renewMinIntervalSeconds: { type: 'integer', minimum: 1, maximum: 86_400, default: 600, description: 'a node gets at most one renewed certificate per this many seconds (at most a tenth of a node certificate\'s lifetime); more: 429 ERR_RENEWAL_RATE_LIMITED' },
    renewOverlapSeconds: { type: 'integer', minimum: 1, maximum: 604_800, default: 3600, description: 'after a renewal the previous certificate stays valid this long (at most a fifth of a node certificate\'s lifetime), then is revoked as superseded' },
    windowMs: { type: 'integer', minimum: 1000, maximum: 86_400_000, default: 300_000, description: 'accepted distance between an envelope ts and hub time' },
    maxEnvelopeBytes: { type: 'integer', minimum: 65_536, maximum: 256 * MIB, default: 16 * MIB, description: 'largest envelope body accepted (bigger: 413 ERR_BODY_TOO_LARGE)' },
    batchUploadGraceMs: { type: 'integer', minimum: 100, maximum: 3_600_000, default: 30_000, description: 'an admitted batch upload may take this long plus 1 s per 32 KiB of its size; past it the connection is closed and its place freed (hub/batch-admission.ts)' },
    intakeTurnMs: { type: 'integer', minimum: 100, maximum: 3_600_000, default: 5000, description: 'while other nodes wait for a place, a node keeps its place this long, then its next batch gives way (hub/batch-admission.ts)' },
    intakeMaxNodes: { type: 'integer', minimum: 1, maximum: 10_000, default: 4, description: 'nodes whose batches this hub process takes at once, two each (more: 503 ERR_HUB_BUSY, Retry-After 1; hub/batch-admission.ts)' },
    bodyLimitBytes: { type: 'integer', minimum: 1024, maximum: 16 * MIB, default: MIB, description: 'largest plain JSON body (enrol, renew)' },
    rateLimit: rateLimitSchema({ description: 'per-client request rate limit (clients are node ids, or addresses without a certificate)', max: 3000, maxDescription: 'requests per window per client' }),
    proxyProtocol: { type: 'string', enum: ['optional', 'required'], default: 'optional', description: 'with trustProxy: "required" closes a connection from a listed address that does not begin with a PROXY header (ERR_PROXY_HEADER_INVALID) — set it when the listed addresses are L4 balancers that pass TLS through; "optional" also serves them without one (TLS gateways sending X-Forwarded-For)' },
    logLevel: LOG_LEVEL_SCHEMA,
    retention: retentionSchema('hub_envelopes rows'),
    shutdownTimeoutMs: SHUTDOWN_TIMEOUT_SCHEMA,
    console: consoleSchema({ port: 8444 }),
    accounts: { ...ACCOUNTS_SCHEMA, description: 'operator accounts (credit hub user …): password policy, sessions, lockout (issue 18)' },
  },
};
