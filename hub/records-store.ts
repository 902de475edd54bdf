/**
 * SQL for the province-wide record copies (hub_records) and the distribution feed
 * (hub_distributions): the only place in hub/ that touches those tables. Batch writes and id
 * lookups are one statement per chunk whatever its size (see chunked() and idList()): no
 * statement per record, and no statement with thousands of bound values.
 */
import type { Knex } from 'knex';
import { engineOf, type Db } from '../audit/knex-connect.js';
import type { Classification } from '../protocol/classification.js';
import type { WireRecord } from '../protocol/exchange.js';

export interface HubRecordRow {
  id: string;
  sourceNode: string;
  type: string;
  classification: Classification;
  subject: string;
  fields: Record<string, unknown>;
  createdAt: string;
  updatedAt: string;
  receivedAt: string;
  batchId: string;
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

export interface DistributionJoined {
  cursor: number;
  kind: 'record' | 'withdrawal';
  sourceNode: string;
  recordId: string;
  reason: string | null;
  at: string | null;
  record: WireRecord | null;
}

type Row = Record<string, unknown>;

const REC_COLS = ['id', 'source_node', 'type', 'class', 'subject', 'fields', 'status', 'created_at', 'updated_at', 'received_at', 'batch_id'] as const;
const REC_UPDATE = ['type', 'class', 'subject', 'fields', 'created_at', 'updated_at', 'received_at', 'batch_id'];
const DIST_COLS = ['kind', 'source_node', 'record_id', 'class', 'reason', 'at', 'created_at'] as const;
/** Rows per statement (PostgreSQL: one array parameter per column; SQLite: one JSON parameter). */
const CHUNK = { sqlite: 5000, pg: 5000 } as const;
const LOOKUP_CHUNK = { sqlite: 5000, pg: 1000 } as const;
/** Key of the PostgreSQL advisory lock that orders distribution cursors by commit. */
const DIST_LOCK_KEY = 430_000_001;

const UPSERT_TAIL = `on conflict (id) do update set ${REC_UPDATE.map((c) => `${c} = excluded.${c}`).join(', ')} where hub_records.source_node = excluded.source_node`;

function wireOf(r: Row): WireRecord {
  return {
    id: String(r.id), type: String(r.type), classification: r.class as Classification,
    fields: JSON.parse(String(r.fields)) as Record<string, unknown>, createdAt: String(r.created_at), updatedAt: String(r.updated_at),
  };
}

/**
 * Multi-row insert in chunks, with a handful of parameters however many rows. PostgreSQL: one
 * array parameter per column, `INSERT … SELECT * FROM unnest(…)`, which PostgreSQL plans far faster
 * than thousands of VALUES terms. SQLite: the rows as ONE JSON array of arrays, `INSERT … SELECT
 * value ->> 0, … FROM json_each(?)`: SQLite reads the rows in C (in array order, so autoincrement
 * keys follow it), instead of knex formatting and the driver binding 10 000+ values one by one
 * (about half the time of a 1,000-row VALUES statement).
 */
async function chunked<T>(db: Db, items: readonly T[], cols: readonly string[], head: string, tail: string, values: (x: T) => Knex.Value[]): Promise<void> {
  const engine = engineOf(db as Knex);
  const per = CHUNK[engine];
  for (let i = 0; i < items.length; i += per) {
    const part = items.slice(i, i + per);
    if (engine === 'pg') {
      const arrays: Knex.Value[][] = cols.map(() => []);
      for (const x of part) values(x).forEach((v, c) => arrays[c]!.push(v));
      await db.raw(`${head} (${cols.join(',')}) select * from unnest(${cols.map(() => '?::text[]').join(',')}) ${tail}`, arrays as unknown as Knex.Value[]);
      continue;
    }
    // `where true`: SQLite's INSERT … SELECT needs a WHERE before an ON CONFLICT clause
    await db.raw(`${head} (${cols.join(',')}) select ${cols.map((_, c) => `value ->> ${c}`).join(',')} from json_each(?) where true ${tail}`, [JSON.stringify(part.map(values))]);
  }
}

/** `id in (…)`: on SQLite the ids as ONE bound JSON array (no statement with 1,000 bound values). */
function whereIdIn<Q extends Knex.QueryBuilder>(db: Db, q: Q, ids: readonly string[]): Q {
  if (engineOf(db as Knex) === 'pg') return q.whereIn('id', ids as string[]) as Q;
  return q.whereRaw('id in (select value from json_each(?))', [JSON.stringify(ids)]) as Q;
}

export const recordsStore = {
  /** Owner and status of each of `ids` that the hub holds. */
  async owners(db: Db, ids: readonly string[]): Promise<Map<string, { sourceNode: string; status: string; classification: Classification }>> {
    const out = new Map<string, { sourceNode: string; status: string; classification: Classification }>();
    const unique = [...new Set(ids)];
    const per = LOOKUP_CHUNK[engineOf(db as Knex)];
    for (let i = 0; i < unique.length; i += per) {
      const rows: Row[] = await whereIdIn(db, db('hub_records').select('id', 'source_node', 'status', 'class'), unique.slice(i, i + per));
      for (const r of rows) out.set(String(r.id), { sourceNode: String(r.source_node), status: String(r.status), classification: r.class as Classification });
    }
    return out;
  },

  /** Inserts new records and updates the sender's own existing ones (never another node's). */
  async upsert(db: Db, rows: readonly HubRecordRow[]): Promise<void> {
    await chunked(db, rows, REC_COLS, 'insert into hub_records', UPSERT_TAIL, (r) => [
      r.id, r.sourceNode, r.type, r.classification, r.subject, JSON.stringify(r.fields), 'active', r.createdAt, r.updatedAt, r.receivedAt, r.batchId,
    ]);
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

  /** Feed items after `after` from other nodes, in the given classes, with the current record content. */
  async feed(db: Db, o: { after: number; limit: number; excludeNode: string; classes: readonly string[] }): Promise<DistributionJoined[]> {
    if (o.classes.length === 0) return [];
    const rows: Row[] = await db('hub_distributions as d')
      .leftJoin('hub_records as r', 'r.id', 'd.record_id')
      .select('d.cursor', 'd.kind', 'd.source_node', 'd.record_id', 'd.reason', 'd.at', 'r.id', 'r.type', 'r.class', 'r.fields', 'r.created_at', 'r.updated_at')
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
      reason: (r.reason as string | null) ?? null,
      at: (r.at as string | null) ?? null,
      record: r.id === null || r.id === undefined ? null : wireOf(r),
    }));
  },

  /** Every active record about `subject`, any node, oldest id first. */
  async bySubject(db: Db, subject: string): Promise<StoredHubRecord[]> {
    const rows: Row[] = await db('hub_records').where({ subject, status: 'active' }).orderBy('id');
    return rows.map((r) => ({ ...wireOf(r), sourceNode: String(r.source_node), status: 'active' as const }));
  },

  async countByStatus(db: Db): Promise<Record<string, number>> {
    const rows: Row[] = await db('hub_records').select('status').count({ n: '*' }).groupBy('status');
    return Object.fromEntries(rows.map((r) => [String(r.status), Number(r.n)]));
  },
};
