/**
 * Notices (protocol 1.1): objections (异议) and their results travel between city nodes through the
 * hub, and the `disputed` mark of a record travels from its owner to every node that may hold it.
 * Pure: types, schemas and routes; docs/protocol.md "Notices" describes the same shapes.
 *
 *   node → hub  POST /v1/notices   envelope `notice`       → 200 envelope `notice-receipt`
 *   node → hub  GET  /v1/notices   ?after=CURSOR&limit=N   → 200 envelope `notice-feed`
 *
 * Each notice is sealed (signed by the sending node, encrypted to the hub); the hub checks that the
 * sender may send it, routes it, and serves it to its recipient(s) in a `notice-feed` envelope that
 * the hub signs and encrypts to each recipient, carrying the original sender's node id. The
 * `notice` stream is unordered (the id is the idempotency key; a replay is ERR_REPLAY).
 *
 * Routing by kind:
 *  - `objection`: filed at node F about a record owned by node O (`owner`); from F to O only. The
 *    hub refuses it when it holds no record (owner, recordId) (ERR_RECORD_UNKNOWN_AT_HUB) or when
 *    the sender is the owner (an owner files its own objections locally).
 *  - `objection-result`: the owner's decision; from O to the node that filed the objection (the hub
 *    looks it up by objectionId; only the owner may send it: ERR_NOT_RECORD_OWNER).
 *  - `mark`: the record's current disputed state; from O to every other active node whose grade may
 *    receive a record of the record's class (nodes that do not hold it ignore it).
 */
import type { JsonSchema } from './schema-check.js';

export const NOTICE_ROUTES = { notices: '/v1/notices' } as const;

export interface ObjectionNotice {
  kind: 'objection';
  /** UUIDv7 given by the filing node; the same at both nodes. */
  objectionId: string;
  /** The record's owner (its source node) and its id. */
  owner: string;
  recordId: string;
  /** The objection's grounds as the filer wrote them (no personal data is required here). */
  grounds: string;
  /** `node:<id>/user:<name>` — who filed it (an account name, never a person's name or ID number). */
  filedBy: string;
  filedAt: string;
  /** Last working day for the owner's decision (YYYY-MM-DD, province working-day calendar). */
  dueDate: string;
}

export interface ObjectionResultNotice {
  kind: 'objection-result';
  objectionId: string;
  owner: string;
  recordId: string;
  /** upheld: the owner withdraws the record (reason objection-upheld, as a batch withdrawal); rejected: the record stays. */
  outcome: 'upheld' | 'rejected';
  /** The owner's reasons (left out when none). */
  note?: string;
  resolvedBy: string;
  resolvedAt: string;
}

export interface MarkNotice {
  kind: 'mark';
  owner: string;
  recordId: string;
  /** True while at least one objection about the record is open at its owner (异议中). */
  disputed: boolean;
  at: string;
}

export type Notice = ObjectionNotice | ObjectionResultNotice | MarkNotice;

/** Payload of a `notice` envelope (node → hub). */
export interface NoticePayload {
  notice: Notice;
}

/** Payload of a `notice-receipt` envelope (hub → node): the notice was stored and routed. */
export interface NoticeReceiptPayload {
  noticeId: string;
  /** How many recipients it was queued for. */
  recipients: number;
  receivedAt: string;
}

export interface NoticeFeedItem {
  cursor: number;
  /** The node that sent the notice (checked by the hub from its signature). */
  from: string;
  /** Id of the sender's `notice` envelope. */
  noticeId: string;
  notice: Notice;
}

/** Payload of a `notice-feed` envelope (hub → node). */
export interface NoticeFeedPayload {
  items: NoticeFeedItem[];
  next: number;
  more: boolean;
  /** Feed mark of the row at `next` (optional, as DistributionPayload.mark; docs/protocol.md "Distribution feed marks"). */
  mark?: string;
}

export const MAX_NOTICE_ITEMS = 500;

const ID = { type: 'string', pattern: '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' } as const;
const NO_NUL = '^[^\\u0000\\ud800-\\udfff]*$';
const ISO30 = { type: 'string', minLength: 10, maxLength: 30, pattern: NO_NUL } as const;
const DATE = { type: 'string', pattern: '^[0-9]{4}-[0-9]{2}-[0-9]{2}$' } as const;
const NODE = { type: 'string', pattern: '^[1-9][0-9]{5}$' } as const;
const TEXT = (max: number) => ({ type: 'string', minLength: 1, maxLength: max, pattern: NO_NUL }) as const;

export const NOTICE_SCHEMA: JsonSchema = {
  type: 'object',
  required: ['notice'],
  additionalProperties: false,
  properties: {
    notice: {
      type: 'object',
      required: ['kind', 'owner', 'recordId'],
      properties: {
        kind: { type: 'string', enum: ['objection', 'objection-result', 'mark'] },
        objectionId: ID,
        owner: NODE,
        recordId: ID,
        grounds: TEXT(4000),
        filedBy: TEXT(200),
        filedAt: ISO30,
        dueDate: DATE,
        outcome: { type: 'string', enum: ['upheld', 'rejected'] },
        note: { type: 'string', maxLength: 4000, pattern: NO_NUL },
        resolvedBy: TEXT(200),
        resolvedAt: ISO30,
        disputed: { type: 'boolean' },
        at: ISO30,
      },
      additionalProperties: false,
    },
  },
};

const KIND_FIELDS: Readonly<Record<Notice['kind'], readonly string[]>> = {
  objection: ['objectionId', 'grounds', 'filedBy', 'filedAt', 'dueDate'],
  'objection-result': ['objectionId', 'outcome', 'resolvedBy', 'resolvedAt'],
  mark: ['disputed', 'at'],
};

/** The members a notice of its kind must have and may not lack (beyond the schema): empty when whole. */
export function noticeProblems(n: Notice): { field: string; message: string }[] {
  const need = KIND_FIELDS[n.kind] ?? [];
  const has = n as unknown as Record<string, unknown>;
  const out = need.filter((f) => !(f in has)).map((f) => ({ field: `payload.notice.${f}`, message: `is required for kind ${n.kind}` }));
  const allowed = new Set(['kind', 'owner', 'recordId', ...need, ...(n.kind === 'objection-result' ? ['note'] : [])]);
  for (const k of Object.keys(has)) if (!allowed.has(k)) out.push({ field: `payload.notice.${k}`, message: `is not a member of kind ${n.kind}` });
  return out;
}

const INT = { type: 'integer' } as const;
export const NOTICE_RECEIPT_INTEGERS: JsonSchema = { type: 'object', properties: { recipients: INT } };
export const NOTICE_FEED_INTEGERS: JsonSchema = { type: 'object', properties: { next: INT, items: { type: 'array', items: { type: 'object', properties: { cursor: INT } } } } };
