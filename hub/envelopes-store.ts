/**
 * SQL for the replay window and sequence numbers: hub_envelopes (every envelope the hub has
 * processed, by id: a second insert of the same id is a replay) and hub_streams (the last seq per
 * node and stream). The only place in hub/ that touches those tables.
 */
import type { Db } from '../audit/knex-connect.js';

export interface EnvelopeRow {
  id: string;
  fromNode: string;
  type: string;
  seq: number;
  ts: string;
  digest: string;
  receivedAt: string;
  /** accepted | refused (batches), answered (queries, checkpoints). */
  outcome: string;
  code: string | null;
  /** The stored answer (a receipt envelope, JSON) to give a resend. */
  response: string | null;
}

type Row = Record<string, unknown>;

export const envelopesStore = {
  async find(db: Db, id: string): Promise<EnvelopeRow | undefined> {
    const r: Row | undefined = await db('hub_envelopes').where({ id }).first();
    if (!r) return undefined;
    return {
      id: String(r.id), fromNode: String(r.from_node), type: String(r.type), seq: Number(r.seq), ts: String(r.ts), digest: String(r.digest),
      receivedAt: String(r.received_at), outcome: String(r.outcome), code: (r.code as string | null) ?? null, response: (r.response as string | null) ?? null,
    };
  },

  /** Records a processed envelope; false when its id is already there (a replay). */
  async insert(db: Db, e: EnvelopeRow): Promise<boolean> {
    const out: unknown[] = await db('hub_envelopes')
      .insert({ id: e.id, from_node: e.fromNode, type: e.type, seq: e.seq, ts: e.ts, digest: e.digest, received_at: e.receivedAt, outcome: e.outcome, code: e.code, response: e.response })
      .onConflict('id')
      .ignore()
      .returning('id');
    return out.length === 1;
  },

  /** The last seq accepted on a stream (0 before the first). */
  async lastSeq(db: Db, nodeId: string, stream: string): Promise<number> {
    const r: Row | undefined = await db('hub_streams').where({ node_id: nodeId, stream }).first('last_seq');
    return r ? Number(r.last_seq) : 0;
  },

  /**
   * Compare-and-set: moves the stream from seq − 1 to seq. False when another request got there
   * first (the caller re-reads and reports replay / out of order).
   */
  async claim(db: Db, nodeId: string, stream: string, seq: number): Promise<boolean> {
    const n = await db('hub_streams').where({ node_id: nodeId, stream, last_seq: seq - 1 }).update({ last_seq: seq });
    if (n === 1) return true;
    if (seq !== 1) return false;
    const out: unknown[] = await db('hub_streams').insert({ node_id: nodeId, stream, last_seq: 1 }).onConflict(['node_id', 'stream']).ignore().returning('node_id');
    return out.length === 1;
  },

  /** The next seq of an outgoing stream (hub → node), counted in the database so every hub process agrees. */
  async nextOut(db: Db, nodeId: string, stream: string): Promise<number> {
    const rows: Row[] = await db('hub_streams').where({ node_id: nodeId, stream }).update({ last_seq: db.raw('last_seq + 1') }).returning('last_seq');
    if (rows.length === 1) return Number(rows[0]!.last_seq);
    const made: unknown[] = await db('hub_streams').insert({ node_id: nodeId, stream, last_seq: 1 }).onConflict(['node_id', 'stream']).ignore().returning('node_id');
    return made.length === 1 ? 1 : this.nextOut(db, nodeId, stream);
  },

  /** Envelopes received since `since` (ISO), counted per hour (`YYYY-MM-DDTHH`, UTC) and outcome: the console's exchange-rate chart. */
  async perHour(db: Db, since: string): Promise<{ hour: string; outcome: string; n: number }[]> {
    const rows: Row[] = await db('hub_envelopes')
      .where('received_at', '>=', since)
      .select(db.raw('substr(received_at, 1, 13) as hour'), 'outcome')
      .count({ n: '*' })
      .groupByRaw('substr(received_at, 1, 13), outcome');
    return rows.map((r) => ({ hour: String(r.hour), outcome: String(r.outcome), n: Number(r.n) }));
  },

  /** A node's latest envelopes at the hub, newest first (no stored answers): its exchange as the hub saw it. */
  async recentOf(db: Db, nodeId: string, limit: number, o: { refusedOnly?: boolean } = {}): Promise<Omit<EnvelopeRow, 'response'>[]> {
    const q = db('hub_envelopes').where({ from_node: nodeId }).orderBy('received_at', 'desc').limit(limit).select('id', 'from_node', 'type', 'seq', 'ts', 'digest', 'received_at', 'outcome', 'code');
    if (o.refusedOnly) q.where({ outcome: 'refused' });
    const rows: Row[] = await q;
    return rows.map((r) => ({ id: String(r.id), fromNode: String(r.from_node), type: String(r.type), seq: Number(r.seq), ts: String(r.ts), digest: String(r.digest), receivedAt: String(r.received_at), outcome: String(r.outcome), code: (r.code as string | null) ?? null }));
  },
};
