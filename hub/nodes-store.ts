/**
 * SQL for the node registry (hub_nodes) and the per-request certificate lookup: the only place
 * in hub/ that reads or writes hub_nodes. Every function takes a `Db`, so it runs inside a
 * caller's transaction when given one.
 */
import type { Db } from '../audit/knex-connect.js';

export type NodeStatus = 'pending' | 'active' | 'revoked';

export interface HubNode {
  nodeId: string;
  name: string | null;
  grade: number;
  status: NodeStatus;
  enrolledAt: string | null;
  lastSeenAt: string | null;
  batchesIn: number;
  recordsIn: number;
  recordsOut: number;
  queries: number;
  /** notAfter of the node's newest active certificate, if any. */
  certNotAfter: string | null;
}

/** What the hub knows about the certificate a request arrives with. */
export interface PeerRecord {
  serial: string;
  nodeId: string;
  certStatus: 'active' | 'revoked';
  /** Null when the certificate is registered but its node is not (never enrolled through this hub). */
  node: { grade: number; status: NodeStatus; lastSeenAt: string | null } | null;
}

export interface Counters {
  batchesIn?: number;
  recordsIn?: number;
  recordsOut?: number;
  queries?: number;
}

type Row = Record<string, unknown>;
const T = 'hub_nodes';
const str = (v: unknown): string | null => (v === null || v === undefined ? null : String(v));

export const nodesStore = {
  /** A node a token was made for: created as pending, or its name updated; grade and status change only at enrolment. */
  async announce(db: Db, o: { nodeId: string; name: string | null; grade: number; now: string }): Promise<void> {
    await db(T)
      .insert({ node_id: o.nodeId, name: o.name, grade: o.grade, status: 'pending', created_at: o.now, updated_at: o.now })
      .onConflict('node_id')
      .merge(o.name === null ? { updated_at: o.now } : { name: o.name, updated_at: o.now });
  },

  /** Enrolment (or re-enrolment after revocation): active at the token's grade. */
  async enrolled(db: Db, o: { nodeId: string; grade: number; now: string }): Promise<void> {
    await db(T)
      .insert({ node_id: o.nodeId, grade: o.grade, status: 'active', enrolled_at: o.now, created_at: o.now, updated_at: o.now })
      .onConflict('node_id')
      .merge({ grade: o.grade, status: 'active', enrolled_at: o.now, updated_at: o.now });
  },

  async setStatus(db: Db, nodeId: string, status: NodeStatus, now: string): Promise<number> {
    return db(T).where({ node_id: nodeId }).update({ status, updated_at: now });
  },

  /** The certificate `serial` and its node; revoked when its revocation time (which may lie ahead, for a superseded one) has come by `now`. */
  async peer(db: Db, serial: string, now: Date = new Date()): Promise<PeerRecord | undefined> {
    const r: Row | undefined = await db('hub_certs as c')
      .leftJoin(`${T} as n`, 'n.node_id', 'c.node_id')
      .where('c.serial', serial)
      .first('c.serial', 'c.node_id', 'c.status as cert_status', 'c.revoked_at', 'n.grade', 'n.status as node_status', 'n.last_seen_at');
    if (!r) return undefined;
    const revoked = r.cert_status === 'revoked' && (r.revoked_at === null || r.revoked_at === undefined || Date.parse(String(r.revoked_at)) <= now.getTime());
    return {
      serial: String(r.serial),
      nodeId: String(r.node_id),
      certStatus: revoked ? 'revoked' : 'active',
      node: r.node_status === null || r.node_status === undefined ? null : { grade: Number(r.grade), status: r.node_status as NodeStatus, lastSeenAt: str(r.last_seen_at) },
    };
  },

  /**
   * The per-node renewal rate limit, safe across hub processes: one conditional UPDATE claims the
   * slot when the node's last renewal is at least `minIntervalMs` old. False when it is not.
   */
  async claimRenewal(db: Db, nodeId: string, now: Date, minIntervalMs: number): Promise<boolean> {
    const cutoff = new Date(now.getTime() - minIntervalMs).toISOString();
    const n = await db(T)
      .where({ node_id: nodeId })
      .andWhere((q) => void q.whereNull('last_renewed_at').orWhere('last_renewed_at', '<=', cutoff))
      .update({ last_renewed_at: now.toISOString() });
    return n === 1;
  },

  /** Adds to the node's counters and sets last_seen_at. */
  async count(db: Db, nodeId: string, now: string, c: Counters): Promise<void> {
    const inc = (col: string, n: number | undefined) => (n ? { [col]: db.raw('?? + ?', [col, n]) } : {});
    await db(T)
      .where({ node_id: nodeId })
      .update({ last_seen_at: now, ...inc('batches_in', c.batchesIn), ...inc('records_in', c.recordsIn), ...inc('records_out', c.recordsOut), ...inc('queries', c.queries) });
  },

  async get(db: Db, nodeId: string): Promise<HubNode | undefined> {
    return (await this.list(db, nodeId))[0];
  },

  /** Every node (or one), with the expiry of its newest active certificate. */
  async list(db: Db, nodeId?: string): Promise<HubNode[]> {
    const expiry = db('hub_certs').where('status', 'active').groupBy('node_id').select('node_id').max({ not_after: 'not_after' }).as('c');
    const q = db(`${T} as n`).leftJoin(expiry, 'c.node_id', 'n.node_id').select('n.*', 'c.not_after as cert_not_after').orderBy('n.node_id');
    if (nodeId !== undefined) q.where('n.node_id', nodeId);
    const rows: Row[] = await q;
    return rows.map((r) => ({
      nodeId: String(r.node_id),
      name: str(r.name),
      grade: Number(r.grade),
      status: r.status as NodeStatus,
      enrolledAt: str(r.enrolled_at),
      lastSeenAt: str(r.last_seen_at),
      batchesIn: Number(r.batches_in),
      recordsIn: Number(r.records_in),
      recordsOut: Number(r.records_out),
      queries: Number(r.queries),
      certNotAfter: str(r.cert_not_after),
    }));
  },

  async countByStatus(db: Db): Promise<Record<string, number>> {
    const rows: Row[] = await db(T).select('status').count({ n: '*' }).groupBy('status');
    return Object.fromEntries(rows.map((r) => [String(r.status), Number(r.n)]));
  },
};
