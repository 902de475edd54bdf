/** JSON Schemas of the hub's HTTP routes (shared payload shapes come from protocol/exchange.ts). */
import { ENROLL_SCHEMA, MAX_DISTRIBUTION_ITEMS, RENEW_SCHEMA } from '../protocol/exchange.js';
import type { JsonSchema } from '../protocol/schema-check.js';

export const errorSchema = {
  type: 'object',
  required: ['code', 'message'],
  properties: { code: { type: 'string' }, message: { type: 'string' }, details: {} },
} as const;

/** A sealed v1 envelope (docs/protocol.md); the hub writes it as it was sealed. */
export const envelopeSchema = {
  type: 'object',
  description: 'a v1 envelope: { v, suite, type, from, to, id, seq, ts, x5c, enc, sig }',
  required: ['v', 'suite', 'type', 'from', 'to', 'id', 'seq', 'ts', 'x5c', 'enc', 'sig'],
  additionalProperties: true,
} as const;

/** Error statuses of every mutual-TLS route. */
export const mtlsErrors = {
  400: errorSchema,
  401: errorSchema,
  403: errorSchema,
  409: errorSchema,
  413: errorSchema,
  415: errorSchema,
  429: errorSchema,
} as const;

/** protocol/ schemas without the keys Fastify's Ajv (draft-07) does not take. */
function forAjv(s: JsonSchema): object {
  const { $schema: _s, $id: _i, title: _t, ...rest } = s;
  return rest;
}

export const enrollBody = forAjv(ENROLL_SCHEMA);
export const renewBody = forAjv(RENEW_SCHEMA);

export const enrollResponse = {
  type: 'object',
  required: ['nodeId', 'grade', 'certPem', 'caCertPem', 'hubCertPem', 'serial', 'notBefore', 'notAfter'],
  properties: {
    nodeId: { type: 'string' },
    grade: { type: 'integer' },
    certPem: { type: 'string' },
    caCertPem: { type: 'string' },
    hubCertPem: { type: 'string' },
    serial: { type: 'string' },
    notBefore: { type: 'string' },
    notAfter: { type: 'string' },
    sm2: {
      type: 'object',
      required: ['certPem', 'serial', 'notAfter', 'caCertPem', 'hubCertPem'],
      properties: { certPem: { type: 'string' }, serial: { type: 'string' }, notAfter: { type: 'string' }, caCertPem: { type: 'string' }, hubCertPem: { type: 'string' } },
    },
  },
} as const;

export const protocolInfoResponse = {
  type: 'object',
  required: ['hubNodeId', 'versions', 'suites', 'hubCertPem', 'caCertPem', 'maxEnvelopeBytes', 'windowMs'],
  properties: {
    hubNodeId: { type: 'string' },
    versions: { type: 'array', items: { type: 'string' } },
    suites: { type: 'array', items: { type: 'string' } },
    hubCertPem: { type: 'string' },
    suiteCerts: { type: 'object', additionalProperties: { type: 'string' } },
    caCertPem: { type: 'string' },
    maxEnvelopeBytes: { type: 'integer' },
    windowMs: { type: 'integer' },
  },
} as const;

export const distributionsQuery = {
  type: 'object',
  additionalProperties: false,
  properties: {
    after: { type: 'integer', minimum: 0, maximum: Number.MAX_SAFE_INTEGER, default: 0, description: 'cursor of the last item applied (0 for the start)' },
    limit: { type: 'integer', minimum: 1, maximum: MAX_DISTRIBUTION_ITEMS, default: 1000, description: 'most items in the answer' },
  },
} as const;

const MARK_PARAM = { type: 'string', pattern: '^[0-9a-f]{16}$', description: 'the `mark` the hub gave with `next` = `after`: the hub answers ERR_FEED_DIVERGED when its feed row at `after` is no longer that one' } as const;

/** GET /v1/distributions: `after`, `limit` (0: a probe, only `mark` checked, no items) and `mark` (the feed mark the node holds for `after`). */
export const distributionsFeedQuery = {
  type: 'object',
  additionalProperties: false,
  properties: {
    ...distributionsQuery.properties,
    limit: { type: 'integer', minimum: 0, maximum: MAX_DISTRIBUTION_ITEMS, default: 1000, description: 'most items in the answer (0: only check `mark`)' },
    mark: MARK_PARAM,
  },
} as const;

/** GET /v1/notices: the same query (the hub gives at most MAX_NOTICE_ITEMS a page). */
export const noticesFeedQuery = distributionsFeedQuery;

export const witnessStateResponse = {
  type: 'object',
  required: ['nodeId', 'treeSize', 'rootHash', 'cosignedAt'],
  properties: {
    nodeId: { type: 'string' },
    treeSize: { type: 'integer' },
    rootHash: { type: ['string', 'null'] },
    cosignedAt: { type: ['string', 'null'] },
    // Mutual witnessing: the hub's latest checkpoint for the node to cosign.
    hub: {
      type: 'object',
      properties: {
        checkpoint: {
          type: 'object',
          properties: { treeSize: { type: 'integer' }, rootHash: { type: 'string' }, time: { type: 'string' }, nodeId: { type: 'string' }, signature: { type: 'string' }, signerFingerprint: { type: 'string' } },
        },
        signerCertPem: { type: 'string' },
        proof: { type: 'object', properties: { from: { type: 'integer' }, fromRoot: { type: 'string' }, proof: { type: 'array', items: { type: 'string' } } } },
      },
    },
    // Witness reset (GET …?before=ISO): the largest head cosigned before that time.
    resetFrom: {
      type: ['object', 'null'],
      properties: { treeSize: { type: 'integer' }, rootHash: { type: 'string' }, cosignedAt: { type: 'string' } },
    },
  },
} as const;

/** GET /v1/checkpoints/latest?before=ISO (witness reset after a restore). */
export const witnessStateQuery = {
  type: 'object',
  additionalProperties: false,
  properties: {
    before: { type: 'string', pattern: '^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}\\.\\d{3}Z$' },
    // protocol 1.3: the hub's checkpoint with a consistency proof from this tree size (a node's hub-log reset)
    hubFrom: { type: 'integer', minimum: 1, maximum: Number.MAX_SAFE_INTEGER },
  },
} as const;

/** audit/cosign.ts Cosignature: the hub's countersignature of a node checkpoint. */
export const cosignatureResponse = {
  type: 'object',
  required: ['type', 'nodeId', 'treeSize', 'rootHash', 'checkpointTime', 'witness', 'cosignedAt', 'signature', 'signerFingerprint', 'certPem'],
  properties: {
    type: { type: 'string' },
    nodeId: { type: 'string' },
    treeSize: { type: 'integer' },
    rootHash: { type: 'string' },
    checkpointTime: { type: 'string' },
    witness: { type: 'string' },
    cosignedAt: { type: 'string' },
    signature: { type: 'string' },
    signerFingerprint: { type: 'string' },
    certPem: { type: 'string' },
    /** The node's witness epoch (docs/audit-format.md §10a); absent = 0. */
    epoch: { type: 'integer' },
  },
} as const;
