/**
 * SQL for the province-wide record copies (hub_records) and the distribution feed
 * (hub_distributions): the only place in hub/ that touches those tables. Batch writes and id
 * lookups are one statement per chunk whatever its size (see chunked() and idList()): no
 * statement per record, and no statement with thousands of bound values.
 */
import type { Knex } from 'knex';
import { engineOf, type Db } from '../audit/knex-connect.js';
import type { Classification } from '../protocol/classification.js';
import { catalogMarker } from '../protocol/catalog-registry.js';
import type { WireRecord } from '../protocol/exchange.js';
import { openRecord, sealRecord, subjectKeys } from '../server/at-rest-store.js';
import { hubRecordContext } from './at-rest.js';
import { chunked } from './bulk-sql.js';

export interface HubRecordRow {
  id: string;
  sourceNode: string;
  type: string;
  classification: Classification;
  subject: string;
  fields: Record<string, unknown>;
  /** Catalog version the hub checked the fields against. */
  catalogVersion: string;
  createdAt: string;
  updatedAt: string;
  receivedAt: string;
  batchId: string;
  /** 1 unless a correction (batch `versions`) made it higher. */
  version: number;
  /** Written by a version only (a new record is active; a record re-sent keeps its status). */
  status?: 'active' | 'withdrawn';
}

export interface StoredHubRecord extends WireRecord {
  sourceNode: string;
  status: 'active' | 'withdrawn';
}

export interface DistributionRow {
  kind: 'record' | 'withdrawal';
  sourceNode: string;
  recordId: string;
  classification: Classification;
  reason: string | null;
  at: string | null;
  createdAt: string;
}

/** A feed row with the record as it is NOW (null when the hub holds no such record). */
export interface DistributionJoined {
  cursor: number;
  kind: 'record' | 'withdrawal';
  sourceNode: string;
  recordId: string;
  /** The class the item was queued with (the class the record had then). */
  queuedClass: Classification;
  createdAt: string;
  current: { record: WireRecord; status: 'active' | 'withdrawn'; withdrawnReason: string | null; withdrawnAt: string | null } | null;
}

type Row = Record<string, unknown>;

const REC_COLS = ['id', 'source_node', 'type', 'class', 'subject', 'fields', 'status', 'created_at', 'updated_at', 'received_at', 'batch_id', 'catalog_version', 'version'] as const;
const REC_UPDATE = ['type', 'class', 'subject', 'fields', 'created_at', 'updated_at', 'received_at', 'batch_id', 'catalog_version', 'version'];
/** PostgreSQL casts of the columns that are not text (chunked() passes every column as text[]). */
const REC_TYPES: Record<string, string> = { version: 'integer' };
const DIST_COLS = ['kind', 'source_node', 'record_id', 'class', 'reason', 'at', 'created_at'] as const;
const LOOKUP_CHUNK = { sqlite: 5000, pg: 1000 } as const;
/** Key of the PostgreSQL advisory lock that orders distribution cursors by commit. */
const DIST_LOCK_KEY = 430_000_001;

const UPSERT_TAIL = `on conflict (source_node, id) do update set ${REC_UPDATE.map((c) => `${c} = excluded.${c}`).join(', ')}`;
/** A version also sets the status; made active, it forgets the withdrawal it reverses. */
const VERSION_TAIL = `${UPSERT_TAIL}, status = excluded.status, withdrawn_reason = case when excluded.status = 'active' then null else hub_records.withdrawn_reason end, withdrawn_at = case when excluded.status = 'active' then null else hub_records.withdrawn_at end`;

function wireOf(db: Db, r: Row, sourceNode: string): WireRecord {
  const version = Number(r.version ?? 1);
  return {
    id: String(r.id), type: String(r.type), classification: r.class as Classification,
    catalogVersion: r.catalog_version === undefined || r.catalog_version === null ? '2026.1' : String(r.catalog_version),
    fields: openRecord(db, hubRecordContext(sourceNode, String(r.id)), r).fields, createdAt: String(r.created_at), updatedAt: String(r.updated_at),
    ...catalogMarker(String(r.type)),
    ...(version > 1 ? { version } : {}),
  };
}

/** `id in (…)`: on SQLite the ids as ONE bound JSON array (no statement with 1,000 bound values). */
function whereIdIn<Q extends Knex.QueryBuilder>(db: Db, q: Q, ids: readonly string[]): Q {
  if (engineOf(db as Knex) === 'pg') return q.whereIn('id', ids as string[]) as Q;
  return q.whereRaw('id in (select value from json_each(?))', [JSON.stringify(ids)]) as Q;
}

export const recordsStore = {
  /** Status and class of each of `ids` that `sourceNode` has published to the hub (other nodes' records are not looked at). */
  async held(db: Db, sourceNode: string, ids: readonly string[]): Promise<Map<string, { status: string; classification: Classification; version: number }>> {
    const out = new Map<string, { status: string; classification: Classification; version: number }>();
    const unique = [...new Set(ids)];
    const per = LOOKUP_CHUNK[engineOf(db as Knex)];
    for (let i = 0; i < unique.length; i += per) {
      const rows: Row[] = await whereIdIn(db, db('hub_records').select('id', 'status', 'class', 'version').where({ source_node: sourceNode }), unique.slice(i, i + per));
      for (const r of rows) out.set(String(r.id), { status: String(r.status), classification: r.class as Classification, version: Number(r.version ?? 1) });
    }
    return out;
  },

  /** Inserts new records and updates existing ones, keyed by (source node, id): a node only ever writes its own. */
  async upsert(db: Db, rows: readonly HubRecordRow[]): Promise<void> {
    const values = (r: HubRecordRow): Knex.Value[] => {
      const sealed = sealRecord(db, hubRecordContext(r.sourceNode, r.id), { subject: r.subject, fields: r.fields });
      return [r.id, r.sourceNode, r.type, r.classification, sealed.subject, sealed.fields, r.status ?? 'active', r.createdAt, r.updatedAt, r.receivedAt, r.batchId, r.catalogVersion, r.version];
    };
    await chunked(db, rows.filter((r) => r.status === undefined), REC_COLS, 'insert into hub_records', UPSERT_TAIL, values, REC_TYPES);
    // versions (corrections) also set the status
    await chunked(db, rows.filter((r) => r.status !== undefined), REC_COLS, 'insert into hub_records', VERSION_TAIL, values, REC_TYPES);
  },

  /** Marks the sender's records withdrawn (ids already checked to be its own). */
  async withdraw(db: Db, sourceNode: string, items: readonly { id: string; reason: string; at: string }[]): Promise<void> {
    const groups = new Map<string, { reason: string; at: string; ids: string[] }>();
    for (const w of items) {
      const key = `${w.reason}\u0000${w.at}`;
      const g = groups.get(key) ?? { reason: w.reason, at: w.at, ids: [] };
      g.ids.push(w.id);
      groups.set(key, g);
    }
    const per = LOOKUP_CHUNK[engineOf(db as Knex)];
    for (const g of groups.values()) {
      for (let i = 0; i < g.ids.length; i += per) {
        await whereIdIn(db, db('hub_records').where({ source_node: sourceNode }), g.ids.slice(i, i + per)).update({ status: 'withdrawn', withdrawn_reason: g.reason, withdrawn_at: g.at });
      }
    }
  },

  /**
   * Appends to the distribution feed. On PostgreSQL an advisory lock held to the end of the
   * transaction makes cursors commit in order, so a reader never skips a cursor that commits late.
   */
  async distribute(db: Db, rows: readonly DistributionRow[]): Promise<void> {
    if (rows.length === 0) return;
    if (engineOf(db as Knex) === 'pg') await db.raw('select pg_advisory_xact_lock(?)', [DIST_LOCK_KEY]);
    await chunked(db, rows, DIST_COLS, 'insert into hub_distributions', '', (d) => [d.kind, d.sourceNode, d.recordId, d.classification, d.reason, d.at, d.createdAt]);
  },

  /** The feed row at `cursor` as its mark is derived (hub/feed-mark.ts), or null when there is none. */
  async feedRowAt(db: Db, cursor: number): Promise<{ cursor: number; kind: string; sourceNode: string; recordId: string; createdAt: string } | null> {
    const r = (await db('hub_distributions').where({ cursor }).first('cursor', 'kind', 'source_node', 'record_id', 'created_at')) as Row | undefined;
    return r ? { cursor: Number(r.cursor), kind: r.kind === 'withdrawal' ? 'withdrawal' : 'record', sourceNode: String(r.source_node), recordId: String(r.record_id), createdAt: String(r.created_at) } : null;
  },

  /**
   * Feed rows after `after` from other nodes, queued with a class in `classes` (a class the reader
   * may have been sent), each joined with the record as it is now. Deciding what to serve is the
   * caller's (distribution-service.ts), on the current class and status.
   */
  async feed(db: Db, o: { after: number; limit: number; excludeNode: string; classes: readonly string[] }): Promise<DistributionJoined[]> {
    if (o.classes.length === 0) return [];
    const rows: Row[] = await db('hub_distributions as d')
      .leftJoin('hub_records as r', (j) => j.on('r.source_node', '=', 'd.source_node').andOn('r.id', '=', 'd.record_id'))
      .select('d.cursor', 'd.kind', 'd.source_node', 'd.record_id', { queued_class: 'd.class' }, { queued_at: 'd.created_at' })
      .select('r.id', 'r.type', 'r.class', 'r.catalog_version', 'r.fields', 'r.status', 'r.withdrawn_reason', 'r.withdrawn_at', 'r.created_at', 'r.updated_at', 'r.version')
      .where('d.cursor', '>', o.after)
      .whereNot('d.source_node', o.excludeNode)
      .whereIn('d.class', o.classes)
      .orderBy('d.cursor')
      .limit(o.limit);
    return rows.map((r) => ({
      cursor: Number(r.cursor),
      kind: r.kind === 'withdrawal' ? 'withdrawal' : 'record',
      sourceNode: String(r.source_node),
      recordId: String(r.record_id),
      queuedClass: r.queued_class as Classification,
      createdAt: String(r.queued_at),
      current:
        r.id === null || r.id === undefined
          ? null
          : {
              record: { ...wireOf(db, r, String(r.source_node)), sourceNode: String(r.source_node) },
              status: r.status === 'active' ? 'active' : 'withdrawn',
              withdrawnReason: (r.withdrawn_reason as string | null) ?? null,
              withdrawnAt: (r.withdrawn_at as string | null) ?? null,
            },
    }));
  },

  /** The keys of the rows whose blind index matches `subject` (any status): what a read replica is asked for (hub/replica.ts). */
  async keysBySubject(db: Db, subject: string): Promise<Array<{ sourceNode: string; id: string }>> {
    const rows: Row[] = await db('hub_records').select('source_node', 'id').whereIn('subject', subjectKeys(db, subject));
    return rows.map((r) => ({ sourceNode: String(r.source_node), id: String(r.id) }));
  },

  /**
   * The active records among `keys` about `subject`, read whole on `db` (the primary) and opened
   * there: a row whose subject is not `subject` (a correction, or a key a replica made up) is left out.
   */
  async byKeys(db: Db, keys: ReadonlyArray<{ sourceNode: string; id: string }>, subject: string): Promise<StoredHubRecord[]> {
    const byNode = new Map<string, string[]>();
    for (const k of keys) byNode.set(k.sourceNode, [...(byNode.get(k.sourceNode) ?? []), k.id]);
    const rows: Row[] = [];
    const per = LOOKUP_CHUNK[engineOf(db as Knex)];
    for (const [node, ids] of byNode) {
      const unique = [...new Set(ids)];
      for (let i = 0; i < unique.length; i += per) rows.push(...((await whereIdIn(db, db('hub_records').select('*').where({ source_node: node, status: 'active' }), unique.slice(i, i + per))) as Row[]));
    }
    rows.sort((a, b) => (String(a.id) < String(b.id) ? -1 : String(a.id) > String(b.id) ? 1 : String(a.source_node) < String(b.source_node) ? -1 : 1));
    return rows
      .filter((r) => openRecord(db, hubRecordContext(String(r.source_node), String(r.id)), r).subject === subject)
      .map((r) => ({ ...wireOf(db, r, String(r.source_node)), sourceNode: String(r.source_node), status: 'active' as const }));
  },

  /** Every active record about `subject`, any node, oldest id first, with its current class. */
  async bySubject(db: Db, subject: string): Promise<StoredHubRecord[]> {
    // the blind index under each key held (and the code itself, for a row not yet sealed)
    const rows: Row[] = await db('hub_records').whereIn('subject', subjectKeys(db, subject)).andWhere({ status: 'active' }).orderBy(['id', 'source_node']);
    return rows
      .filter((r) => openRecord(db, hubRecordContext(String(r.source_node), String(r.id)), r).subject === subject)
      .map((r) => ({ ...wireOf(db, r, String(r.source_node)), sourceNode: String(r.source_node), status: 'active' as const }));
  },

  async countByStatus(db: Db): Promise<Record<string, number>> {
    const rows: Row[] = await db('hub_records').select('status').count({ n: '*' }).groupBy('status');
    return Object.fromEntries(rows.map((r) => [String(r.status), Number(r.n)]));
  },
};
