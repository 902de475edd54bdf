/**
 * The node↔hub exchange: the payload of each envelope type, as TypeScript types and wire schemas
 * (the subset schema-check.ts reads), plus the HTTP routes that carry them. Pure: both the hub and
 * the node import this, and docs/protocol.md describes the same shapes.
 *
 *   node → hub  POST /v1/batches          envelope `batch`       → 200 envelope `receipt`
 *   node → hub  GET  /v1/distributions    ?after=CURSOR&limit=N  → 200 envelope `distribution`
 *   node → hub  POST /v1/queries          envelope `query`       → 200 envelope `query-answer`
 *   node → hub  GET  /v1/checkpoints/latest[?before=|?hubFrom=]  → 200 JSON WitnessState (this node's last cosigned size)
 *   node → hub  POST /v1/checkpoints      envelope `checkpoint`  → 200 JSON Cosignature
 *   anyone      POST /v1/enroll           JSON EnrollRequest     → 200 JSON EnrollResponse (no client certificate)
 *   node → hub  POST /v1/renew            JSON RenewRequest      → 200 JSON EnrollResponse
 *   anyone      GET  /v1/protocol                                → 200 JSON ProtocolInfo
 *   anyone      GET  /v1/crl                                     → 200 application/pkix-crl PEM
 *   anyone      GET  /v1/catalog                                 → 200 JSON signed province catalog (404 ERR_CATALOG_NOT_PUBLISHED)
 *   node → hub  POST /v1/notices       envelope `notice`        → 200 envelope `notice-receipt`  (1.1, protocol/notices.ts)
 *   node → hub  GET  /v1/notices       ?after=CURSOR&limit=N    → 200 envelope `notice-feed`     (1.1)
 *
 * Sequence numbers are kept per (sender, recipient, stream). The `batch` stream is strict: the hub
 * accepts seq = last + 1 only, so batches apply in order and a lost one is noticed. Queries and
 * checkpoints are independent requests (a node sends many at once): for them the hub checks the id
 * (replay) and the time window, and seq only has to be a positive integer.
 *
 * A batch the hub has verified consumes its seq even when refused by policy (the refusal is stored
 * and answered to resends), so one bad batch never blocks the outbox behind it. Re-posting a batch
 * the hub has already processed is refused with 409 ERR_REPLAY whose `details.receipt` is the
 * stored receipt envelope — a node that lost the first answer in an outage takes it from there.
 */
import type { Classification } from './classification.js';
import type { EnvelopeType } from './envelope.js';
import type { JsonSchema } from './schema-check.js';
import { NOTICE_FEED_INTEGERS, NOTICE_RECEIPT_INTEGERS, NOTICE_SCHEMA } from './notices.js';

export const EXCHANGE_ROUTES = {
  enroll: '/v1/enroll',
  renew: '/v1/renew',
  batches: '/v1/batches',
  distributions: '/v1/distributions',
  queries: '/v1/queries',
  checkpoints: '/v1/checkpoints',
  checkpointLatest: '/v1/checkpoints/latest',
  crl: '/v1/crl',
  /** The SM2 root's CRL (SM2-with-SM3), from the same register as the RSA one; 404 ERR_SM2_CA_ABSENT on a hub without an SM2 root. */
  sm2Crl: '/v1/crl/sm2',
  catalog: '/v1/catalog',
  protocol: '/v1/protocol',
} as const;

/** Streams with strict sequence numbers (seq = last + 1); every other envelope type is unordered. */
export const ORDERED_TYPES: ReadonlySet<string> = new Set(['batch']);

/** Most records + versions + withdrawals in one batch. */
export const MAX_BATCH_ITEMS = 5000;
/** Most items the hub puts in one distribution envelope. */
export const MAX_DISTRIBUTION_ITEMS = 2000;

// ---------------------------------------------------------------- batch (node → hub)

/** A record as it travels: the catalog input plus the owning node's id and times. */
export interface WireRecord {
  /** The id the owning node gave it (UUIDv7); the same everywhere in the province. */
  id: string;
  type: string;
  classification: Classification;
  /**
   * Catalog version the record was written against (`2026.1`, `2027.1`). Receivers check the
   * fields against that version's field sets and hand the stamp on unchanged; an unstamped record
   * (software older than the stamp) is read as 2026.1, or as 2027.1 when only that fits
   * (validateWireRecord). docs/protocol.md § Catalog versions.
   */
  catalogVersion?: string;
  fields: Record<string, unknown>;
  createdAt: string;
  updatedAt: string;
  /**
   * The node that published the record: its 6-digit division code (GB/T 2260), i.e. the record's
   * jurisdiction. In a batch it may be left out; when given it must be the sender (else the record
   * is rejected with ERR_NOT_RECORD_OWNER). The hub always sets it, from the authenticated sender,
   * on the records it distributes and answers. A record is identified by (sourceNode, id).
   */
  sourceNode?: string;
  /**
   * For a record of a province supplementary type (地方补充目录): the serial of the province
   * catalog the sender holds, i.e. the least serial a receiver needs to read it. A receiver holding
   * an older one fetches the catalog first; if it still holds an older one it refuses the record
   * (ERR_CATALOG_VERSION_UNKNOWN). Absent on national types.
   */
  provinceCatalog?: number;
  /**
   * Version of the record's content (protocol 1.1): 1 for the first, one more for each correction
   * by its source node. Absent means 1. The hub keeps it and serves it; a node holding a copy
   * replaces it when an item with a higher version arrives.
   */
  version?: number;
}

/**
 * A new version of a record the sender published earlier (protocol 1.1, batch member
 * `versions`): a correction (信息更正) by its source node. The record's full current content,
 * `version` above the one the hub holds, and its `status` after the correction: 'active' (also
 * when it makes a record withdrawn for correction or an upheld objection active again) or
 * 'withdrawn' (a record withdrawn for repair or expiry keeps that state; only the content is
 * kept). The hub replaces its copy (a version not above the one it holds is rejected with
 * ERR_RECORD_CONFLICT; the class may be raised, never lowered) and distributes the record again,
 * so every node that holds it replaces its copy.
 */
export interface WireVersion extends WireRecord {
  version: number;
  status: 'active' | 'withdrawn';
  /** When the version was made (the source node's time). */
  at: string;
}

export interface WireWithdrawal {
  /** Id of a record this node published earlier. */
  id: string;
  reason: 'repair' | 'correction' | 'objection-upheld' | 'expired';
  at: string;
}

export interface BatchPayload {
  records: WireRecord[];
  withdrawals: WireWithdrawal[];
  /** Corrections (protocol 1.1); a 1.0 sender leaves it out. Applied after `records`, before `withdrawals`. */
  versions?: WireVersion[];
}

// ---------------------------------------------------------------- receipt (hub → node)

export interface ReceiptPayload {
  /** Id of the batch envelope this answers. */
  batchId: string;
  /** The batch envelope's ciphertext digest (what its signature covers besides the header). */
  digest: string;
  seq: number;
  /** Hub time at which the batch was committed. */
  receivedAt: string;
  /** 'accepted' (possibly with some records rejected) or 'refused' (nothing stored; code says why). */
  outcome: 'accepted' | 'refused';
  code?: string;
  accepted: string[];
  rejected: { id: string; code: string; message: string }[];
  /** Withdrawals applied; unknown or foreign ids appear in `rejected`. */
  withdrawn: string[];
  /** Versions applied (protocol 1.1; present when the batch had `versions`); stale ones appear in `rejected`. */
  versioned?: string[];
}

// ---------------------------------------------------------------- seq-refusal (hub → node, protocol 1.2)

/**
 * The hub's signed word that it refused a batch for its seq (protocol 1.2), sent in the error
 * answer's `details.refusal` beside ERR_SEQUENCE_GAP (the hub lacks seqs before this one: its store
 * went back in time, or an earlier batch is still on its way) and ERR_OUT_OF_ORDER with the hub's
 * last seq (the node's store went back in time). A node resynchronises its stream only on such a
 * word from a hub that signs them (node/exchange/seq-answer.ts), so nothing between the two can
 * make it re-send or renumber its batches, and the hub cannot deny having asked. It names the
 * exact attempt it answers (`batchId`, `digest`; also `re`/`reDigest` in its signed header).
 */
export interface SeqRefusalPayload {
  batchId: string;
  /** The refused attempt's digest (each attempt is signed anew, so an old refusal names another digest). */
  digest: string;
  seq: number;
  code: 'ERR_SEQUENCE_GAP' | 'ERR_OUT_OF_ORDER';
  /** The last seq of this node the hub had accepted when it refused (expected next: hubLastSeq + 1). */
  hubLastSeq: number;
  /** Hub time of the refusal. */
  refusedAt: string;
}

export const SEQ_REFUSAL_CODES = ['ERR_SEQUENCE_GAP', 'ERR_OUT_OF_ORDER'] as const;

/** Shape check of a seq-refusal payload: exactly its six members, a gap's hubLastSeq below seq − 1, an out-of-order's at or above seq. */
export function isSeqRefusalPayload(p: unknown): p is SeqRefusalPayload {
  const x = p as Record<string, unknown>;
  if (typeof x !== 'object' || x === null || Array.isArray(x) || Object.keys(x).length !== 6) return false;
  const whole = (n: unknown, min: number): n is number => typeof n === 'number' && Number.isSafeInteger(n) && n >= min;
  if (typeof x.batchId !== 'string' || typeof x.digest !== 'string' || typeof x.refusedAt !== 'string' || !whole(x.seq, 1) || !whole(x.hubLastSeq, 0)) return false;
  if (x.code === 'ERR_SEQUENCE_GAP') return x.hubLastSeq < x.seq - 1;
  return x.code === 'ERR_OUT_OF_ORDER' && x.hubLastSeq >= x.seq;
}

// ---------------------------------------------------------------- distribution (hub → node)

/**
 * Why a record is a tombstone: it was withdrawn by its source node (`status: 'withdrawn'`, reason
 * one of WireWithdrawal's), or the hub holds it back (`status: 'withheld'`): reason 'reclassified'
 * when its current class is above what the receiving node may hold, 'expired' when its disclosure
 * window has ended.
 */
export type TombstoneStatus = 'withdrawn' | 'withheld';

/**
 * A record that the receiving node must stop showing and serving: no content, no class, only
 * enough to find the copy it may hold. Travels as kind 'withdrawal', so every node that applies
 * withdrawals applies it.
 */
export interface Tombstone {
  cursor: number;
  kind: 'withdrawal';
  sourceNode: string;
  id: string;
  /** Record type code (XK, CF, …). */
  type: string;
  status: TombstoneStatus;
  reason: string;
  /** When it was withdrawn, or (withheld) when the hub served the tombstone. */
  at: string;
}

/**
 * One item of the feed, decided on the record's CURRENT class and status when it is served: its
 * current content when it is active and the receiving node's grade covers its class now,
 * otherwise a tombstone (only to a node that may have held it, i.e. whose grade covered the class
 * the item was queued with).
 */
export type DistributionItem = { cursor: number; kind: 'record'; sourceNode: string; record: WireRecord } | Tombstone;

export interface DistributionPayload {
  items: DistributionItem[];
  /** Cursor to ask `after=` next time (the last item's, or the one asked for when empty). */
  next: number;
  /** True when more items wait beyond `next`. */
  more: boolean;
  /**
   * Feed mark (1.1, optional; docs/protocol.md "Distribution feed marks"): an opaque token (16
   * lowercase hex) naming the feed row at `next`, given when the page has items. The node sends it
   * back as `mark` with `after=next`; a hub whose row there is no longer that one answers
   * ERR_FEED_DIVERGED. A receiver that does not use marks ignores it.
   */
  mark?: string;
}

// ---------------------------------------------------------------- query / query-answer

export interface QueryPayload {
  /** USCC or resident ID of the subject. */
  subject: string;
  /** Stated purpose (required to receive restricted records), e.g. "行政审批 2026-123". */
  purpose?: string;
  /** Who asked at the node (`user:alice`) — recorded in both audit logs, never personal data. */
  actor: string;
  /** The asking user's clearance at the node; the hub never releases more than this. */
  clearance: Classification;
}

export interface QueryAnswerPayload {
  subject: string;
  queryId: string;
  /** `disputed` (1.1): true while the record's owner marks an objection about it open (shown as 异议中); left out otherwise. */
  records: (WireRecord & { sourceNode: string; status: 'active' | 'withdrawn'; disputed?: boolean })[];
  /** Classes held back, and why (ERR_CLASSIFICATION_DENIED / ERR_PURPOSE_REQUIRED). */
  withheld: { classification: Classification; count: number; code: string }[];
  answeredAt: string;
}

// ---------------------------------------------------------------- checkpoint witnessing

/** A node's signed audit checkpoint (audit/ Checkpoint) with the certificate that signed it. */
export interface CheckpointPayload {
  checkpoint: {
    treeSize: number;
    rootHash: string;
    time: string;
    nodeId: string;
    signature: string;
    signerFingerprint: string;
  };
  signerCertPem: string;
  /** RFC 6962 consistency proof from the hub's last cosigned size (GET /v1/checkpoints/latest) to treeSize; omitted for the first. */
  proof?: { from: number; fromRoot: string; proof: string[] };
  /**
   * Witness reset after a restore (docs/audit-format.md §10a): the node's log no longer
   * extends the head the hub last cosigned because it was restored from a backup made at
   * `backupCreatedAt` (the backup manifest's createdAt). `proof` then runs from the largest head the
   * hub cosigned before that time (WitnessState.resetFrom), omitted when there is none. The hub
   * accepts it only when its operator armed a reset for this node (`credit hub witness reset-arm`).
   */
  reset?: { backupCreatedAt: string };
  /**
   * Mutual witnessing: the sending node's cosignature of the hub checkpoint it was shown in
   * WitnessState.hub (audit/cosign.ts Cosignature, witness = the node, with its certificate).
   */
  hubCosignature?: {
    type: 'cosignature';
    nodeId: string;
    treeSize: number;
    rootHash: string;
    checkpointTime: string;
    witness: string;
    cosignedAt: string;
    signature: string;
    signerFingerprint: string;
    certPem: string;
    /** Protocol 1.3: the node's count of hub-log witness resets (docs/audit-format.md §10b); absent = 0. */
    epoch?: number;
  };
}

export interface WitnessState {
  nodeId: string;
  /** 0 when the hub has cosigned nothing for this node yet. */
  treeSize: number;
  rootHash: string | null;
  cosignedAt: string | null;
  /**
   * Mutual witnessing: the hub's own latest signed checkpoint for this node to check and cosign,
   * with a consistency proof from the hub head this node last cosigned (absent before the hub's
   * first checkpoint) — or, asked with `?hubFrom=N` (protocol 1.3, a hub-log reset: docs/audit-format.md
   * §10b), from tree size N (no proof when N is not below the checkpoint's size).
   */
  hub?: Omit<CheckpointPayload, 'hubCosignature'>;
  /**
   * Only when asked with `?before=ISO`: the largest head the hub cosigned for this node before that
   * time (null when none): where a restored node's reset proof starts (CheckpointPayload.reset).
   */
  resetFrom?: { treeSize: number; rootHash: string; cosignedAt: string } | null;
}

// ---------------------------------------------------------------- enrolment and renewal (plain JSON)

export interface EnrollRequest {
  token: string;
  csrPem: string;
  /** An SM2 PKCS#10 request (SM2-with-SM3 self-signature, CN = the node id): the hub's SM2 CA issues the node's SM2 certificate too. */
  sm2CsrPem?: string;
}

export interface RenewRequest {
  csrPem: string;
  /** Renews the SM2 certificate with the TLS one (a new SM2 key). */
  sm2CsrPem?: string;
}

/** The SM2 side of an enrolment or renewal answer (national-cryptography suite CF1-SM2-SM4GCM-SM3). */
export interface Sm2Credentials {
  /** The node's SM2 signing/encryption certificate (SM2-with-SM3, CN = node id). */
  certPem: string;
  serial: string;
  notAfter: string;
  /** The provincial SM2 root. */
  caCertPem: string;
  /** The hub's SM2 certificate (CN 430000): what the node encrypts to under the SM suite. */
  hubCertPem: string;
}

export interface EnrollResponse {
  nodeId: string;
  grade: number;
  certPem: string;
  caCertPem: string;
  /** The hub's certificate of the node's key type (EC P-256 node → the hub's EC certificate): what the node encrypts to. */
  hubCertPem: string;
  serial: string;
  notBefore: string;
  notAfter: string;
  /** Present when the request carried sm2CsrPem. */
  sm2?: Sm2Credentials;
}

export interface ProtocolInfo {
  hubNodeId: string;
  versions: string[];
  /** The suites the hub's policy admits, most preferred first. */
  suites: string[];
  /** The hub's RSA certificate (TLS, audit checkpoints, the RSA suite). */
  hubCertPem: string;
  /**
   * For each suite in `suites` whose key the hub holds, the hub certificate a node encrypts to and
   * checks the hub's answers against under that suite (issue 23: the EC P-256 suite has its own
   * hub certificate). Absent on hubs before it.
   */
  suiteCerts?: Record<string, string>;
  caCertPem: string;
  /** Largest envelope the hub accepts, bytes. */
  maxEnvelopeBytes: number;
  /** Accepted clock skew, ms. */
  windowMs: number;
}

// ---------------------------------------------------------------- schemas

const ID = { type: 'string', pattern: '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' } as const;
/** Unicode text without NUL: PostgreSQL text cannot hold a NUL, so it is refused here instead of failing the store. */
const NO_NUL = '^[^\\u0000\\ud800-\\udfff]*$';
const ISO = { type: 'string', minLength: 10, maxLength: 40, pattern: NO_NUL } as const;
/** A withdrawal time: the hub keeps it in a 30-character column (an ISO-8601 time with milliseconds and an offset is 29). */
const ISO30 = { ...ISO, maxLength: 30 } as const;
const NODE = { type: 'string', pattern: '^[1-9][0-9]{5}$' } as const;
const CLASS = { type: 'string', enum: ['public', 'shared', 'restricted', 'internal'] } as const;
const HEX64 = { type: 'string', pattern: '^[0-9a-f]{64}$' } as const;

const VERSION = { type: 'integer', minimum: 1, maximum: 1_000_000 } as const;
const RECORD_PROPERTIES = {
  id: ID, type: { type: 'string', maxLength: 16 }, classification: CLASS, catalogVersion: { type: 'string', pattern: '^[0-9]{4}\\.[0-9]{1,3}$' },
  fields: { type: 'object' }, createdAt: ISO, updatedAt: ISO, sourceNode: NODE, provinceCatalog: { type: 'integer', minimum: 1 }, version: VERSION,
} as const;

export const WIRE_RECORD_SCHEMA: JsonSchema = {
  type: 'object',
  required: ['id', 'type', 'classification', 'fields', 'createdAt', 'updatedAt'],
  additionalProperties: false,
  properties: RECORD_PROPERTIES,
};

export const WIRE_VERSION_SCHEMA: JsonSchema = {
  type: 'object',
  required: ['id', 'type', 'classification', 'fields', 'createdAt', 'updatedAt', 'version', 'status', 'at'],
  additionalProperties: false,
  properties: { ...RECORD_PROPERTIES, version: { ...VERSION, minimum: 2 }, status: { type: 'string', enum: ['active', 'withdrawn'] }, at: ISO30 },
};

export const BATCH_SCHEMA: JsonSchema = {
  type: 'object',
  required: ['records', 'withdrawals'],
  additionalProperties: false,
  properties: {
    records: { type: 'array', items: WIRE_RECORD_SCHEMA, maxItems: MAX_BATCH_ITEMS },
    versions: { type: 'array', items: WIRE_VERSION_SCHEMA, maxItems: MAX_BATCH_ITEMS },
    withdrawals: {
      type: 'array',
      maxItems: MAX_BATCH_ITEMS,
      items: {
        type: 'object',
        required: ['id', 'reason', 'at'],
        additionalProperties: false,
        properties: { id: ID, reason: { type: 'string', enum: ['repair', 'correction', 'objection-upheld', 'expired'] }, at: ISO30 },
      },
    },
  },
};

export const QUERY_SCHEMA: JsonSchema = {
  type: 'object',
  required: ['subject', 'actor', 'clearance'],
  additionalProperties: false,
  properties: {
    subject: { type: 'string', minLength: 18, maxLength: 18, pattern: '^[0-9A-Z]{18}$' },
    purpose: { type: 'string', minLength: 1, maxLength: 200, pattern: NO_NUL },
    actor: { type: 'string', minLength: 1, maxLength: 200, pattern: NO_NUL },
    clearance: CLASS,
  },
};

export const CHECKPOINT_SCHEMA: JsonSchema = {
  type: 'object',
  required: ['checkpoint', 'signerCertPem'],
  additionalProperties: false,
  properties: {
    checkpoint: {
      type: 'object',
      required: ['treeSize', 'rootHash', 'time', 'nodeId', 'signature', 'signerFingerprint'],
      additionalProperties: false,
      properties: {
        treeSize: { type: 'integer', minimum: 1 },
        rootHash: HEX64,
        time: ISO,
        nodeId: NODE,
        signature: { type: 'string', minLength: 1, maxLength: 4096 },
        signerFingerprint: HEX64,
      },
    },
    signerCertPem: { type: 'string', minLength: 1, maxLength: 16384 },
    proof: {
      type: 'object',
      required: ['from', 'fromRoot', 'proof'],
      additionalProperties: false,
      properties: { from: { type: 'integer', minimum: 1 }, fromRoot: HEX64, proof: { type: 'array', items: HEX64, maxItems: 128 } },
    },
    reset: {
      type: 'object',
      required: ['backupCreatedAt'],
      additionalProperties: false,
      properties: { backupCreatedAt: ISO },
    },
    hubCosignature: {
      type: 'object',
      required: ['type', 'nodeId', 'treeSize', 'rootHash', 'checkpointTime', 'witness', 'cosignedAt', 'signature', 'signerFingerprint', 'certPem'],
      additionalProperties: false,
      properties: {
        type: { const: 'cosignature' },
        nodeId: NODE,
        treeSize: { type: 'integer', minimum: 1 },
        rootHash: HEX64,
        checkpointTime: ISO,
        witness: NODE,
        cosignedAt: ISO,
        signature: { type: 'string', minLength: 1, maxLength: 4096 },
        signerFingerprint: HEX64,
        certPem: { type: 'string', minLength: 1, maxLength: 16384 },
        epoch: { type: 'integer', minimum: 1, maximum: 1000000 },
      },
    },
  },
};

export const ENROLL_SCHEMA: JsonSchema = {
  type: 'object',
  required: ['token', 'csrPem'],
  additionalProperties: false,
  properties: { token: { type: 'string', minLength: 1, maxLength: 200 }, csrPem: { type: 'string', minLength: 1, maxLength: 16384 }, sm2CsrPem: { type: 'string', minLength: 1, maxLength: 8192 } },
};

export const RENEW_SCHEMA: JsonSchema = {
  type: 'object',
  required: ['csrPem'],
  additionalProperties: false,
  properties: { csrPem: { type: 'string', minLength: 1, maxLength: 16384 }, sm2CsrPem: { type: 'string', minLength: 1, maxLength: 8192 } },
};

/** The integer members of the hub's answers (the node checks their shape with type guards). */
const INT = { type: 'integer' } as const;
const RECEIPT_INTEGERS: JsonSchema = { type: 'object', properties: { seq: INT } };
const DISTRIBUTION_INTEGERS: JsonSchema = { type: 'object', properties: { next: INT, items: { type: 'array', items: { type: 'object', properties: { cursor: INT } } } } };
const ANSWER_INTEGERS: JsonSchema = { type: 'object', properties: { withheld: { type: 'array', items: { type: 'object', properties: { count: INT } } } } };
const SEQ_REFUSAL_INTEGERS: JsonSchema = { type: 'object', properties: { seq: INT, hubLastSeq: INT } };

/**
 * Each envelope type's payload schema, as open() reads it: a member the schema calls integer must
 * be written as one (`7`, not `7.0` or `7e0`). Receivers still check the full shape themselves.
 */
export const PAYLOAD_SCHEMAS: Readonly<Record<EnvelopeType, JsonSchema>> = Object.freeze({
  batch: BATCH_SCHEMA,
  query: QUERY_SCHEMA,
  checkpoint: CHECKPOINT_SCHEMA,
  receipt: RECEIPT_INTEGERS,
  distribution: DISTRIBUTION_INTEGERS,
  'query-answer': ANSWER_INTEGERS,
  // 1.1: objections and dispute marks between nodes (protocol/notices.ts)
  notice: NOTICE_SCHEMA,
  'notice-receipt': NOTICE_RECEIPT_INTEGERS,
  'notice-feed': NOTICE_FEED_INTEGERS,
  // 1.2: the hub's signed refusal of a batch for its seq
  'seq-refusal': SEQ_REFUSAL_INTEGERS,
});
