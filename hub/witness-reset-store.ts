/**
 * SQL for the witness reset after a node restore (hub/witness-service.ts, docs/audit-format.md
 * "Witness reset"): the operator's one-shot arms (hub_witness_arms) and the archived epochs
 * (hub_witness_epochs: the hub-signed record of each break, audit/witness-reset.ts). The only place
 * touching those tables; the reset's moves in hub_witness are here too, so they run in the caller's
 * transaction. Arms are never deleted: a used one keeps consumed_at and the epoch it produced.
 */
import type { Knex } from 'knex';
import { engineOf, type Db } from '../audit/knex-connect.js';
import { guardTables, unguardSql } from '../audit/schema.js';
import { auditError } from '../audit/errors.js';

/** Append-only (UPDATE/DELETE refused by triggers, as the audit tables): the epochs and the archived heads. */
const GUARDED = ['hub_witness_epochs', 'hub_witness_archive'];

export const witnessResetMigration = {
  name: '032_hub_witness_resets',
  async up(db: Knex): Promise<void> {
    await db.schema.createTable('hub_witness_arms', (t) => {
      t.bigIncrements('id').primary();
      t.string('node_id', 6).notNullable().index('hub_witness_arms_node_idx');
      t.text('reason').notNullable();
      t.string('armed_by', 200).notNullable();
      t.string('armed_at', 30).notNullable();
      t.string('expires_at', 30).notNullable();
      t.string('backup_created_at', 30).notNullable();
      t.string('consumed_at', 30).nullable();
      t.integer('epoch').nullable();
      // set when a later arm for the node replaced this unused one, or a reset consumed another arm
      t.string('cancelled_at', 30).nullable();
    });
    await db.schema.createTable('hub_witness_epochs', (t) => {
      t.string('node_id', 6).notNullable();
      t.integer('epoch').notNullable();
      t.string('reset_at', 30).notNullable();
      t.text('record').notNullable();
      t.primary(['node_id', 'epoch']);
    });
    // the heads a reset abandoned, as hub_witness held them (checkpoint and cosignature JSON), by epoch
    await db.schema.createTable('hub_witness_archive', (t) => {
      t.string('node_id', 6).notNullable();
      t.integer('epoch').notNullable();
      t.bigInteger('tree_size').notNullable();
      t.string('root_hash', 64).notNullable();
      t.text('checkpoint').notNullable();
      t.text('cosignature').notNullable();
      t.string('cosigned_at', 30).notNullable();
      t.primary(['node_id', 'epoch', 'tree_size']);
    });
    await guardTables(db, GUARDED);
  },
  async down(db: Knex): Promise<void> {
    for (const table of GUARDED) for (const sql of unguardSql(db, table)) await db.raw(sql);
    await db.schema.dropTableIfExists('hub_witness_archive');
    await db.schema.dropTableIfExists('hub_witness_epochs');
    await db.schema.dropTableIfExists('hub_witness_arms');
  },
};

export interface WitnessArm {
  id: number;
  nodeId: string;
  reason: string;
  armedBy: string;
  armedAt: string;
  expiresAt: string;
  backupCreatedAt: string;
  consumedAt: string | null;
  epoch: number | null;
  cancelledAt: string | null;
}

export interface CosignedHead {
  treeSize: number;
  rootHash: string;
  cosignedAt: string;
}

type Row = Record<string, unknown>;

function armOf(r: Row): WitnessArm {
  return {
    id: Number(r.id), nodeId: String(r.node_id), reason: String(r.reason), armedBy: String(r.armed_by), armedAt: String(r.armed_at), expiresAt: String(r.expires_at),
    backupCreatedAt: String(r.backup_created_at), consumedAt: r.consumed_at == null ? null : String(r.consumed_at), epoch: r.epoch == null ? null : Number(r.epoch),
    cancelledAt: r.cancelled_at == null ? null : String(r.cancelled_at),
  };
}

/** SELECT … FOR UPDATE on PostgreSQL (row locks until the transaction ends); SQLite serialises writers anyway. */
function locked<Q extends Knex.QueryBuilder>(db: Db, q: Q, lock: boolean): Q {
  return lock && engineOf(db as Knex) === 'pg' ? (q.forUpdate() as Q) : q;
}

export const witnessResetStore = {
  /** Arms a reset for the node; its earlier unused arms are cancelled (one pending arm per node). */
  async arm(db: Db, a: Omit<WitnessArm, 'id' | 'consumedAt' | 'epoch' | 'cancelledAt'>): Promise<number> {
    if (typeof a.backupCreatedAt !== 'string' || a.backupCreatedAt === '') throw auditError('ERR_AUDIT_RESET_NOT_ARMED', `a witness reset is armed for one backup only: its createdAt is required (node ${a.nodeId})`, { nodeId: a.nodeId });
    await db('hub_witness_arms').where({ node_id: a.nodeId }).whereNull('consumed_at').whereNull('cancelled_at').update({ cancelled_at: a.armedAt });
    const out = (await db('hub_witness_arms')
      .insert({ node_id: a.nodeId, reason: a.reason, armed_by: a.armedBy, armed_at: a.armedAt, expires_at: a.expiresAt, backup_created_at: a.backupCreatedAt })
      .returning('id')) as (Row | number)[];
    const first = out[0]!;
    return Number(typeof first === 'object' ? first.id : first);
  },

  /** The node's newest unused arm (locked with `lock` on PostgreSQL), or undefined. */
  async pending(db: Db, nodeId: string, lock = false): Promise<WitnessArm | undefined> {
    const r = (await locked(db, db('hub_witness_arms').where({ node_id: nodeId }).whereNull('consumed_at').whereNull('cancelled_at').orderBy('id', 'desc'), lock).first()) as Row | undefined;
    return r ? armOf(r) : undefined;
  },

  async arms(db: Db, nodeId?: string): Promise<WitnessArm[]> {
    const q = db('hub_witness_arms').orderBy('id');
    if (nodeId) q.where({ node_id: nodeId });
    return ((await q) as Row[]).map(armOf);
  },

  /** Consumes arm `id` (it produced `epoch`) and cancels every other pending arm of the node; false when `id` was not pending. */
  async consume(db: Db, id: number, nodeId: string, at: string, epoch: number): Promise<boolean> {
    if ((await db('hub_witness_arms').where({ id, node_id: nodeId }).whereNull('consumed_at').whereNull('cancelled_at').update({ consumed_at: at, epoch })) !== 1) return false;
    await db('hub_witness_arms').where({ node_id: nodeId }).whereNull('consumed_at').whereNull('cancelled_at').update({ cancelled_at: at });
    return true;
  },

  /** Takes the node's row lock in hub_nodes (PostgreSQL: SELECT … FOR UPDATE), serialising a reset and an ordinary cosign of the same node. */
  async lockNode(db: Db, nodeId: string): Promise<void> {
    if (engineOf(db as Knex) === 'pg') await db('hub_nodes').select('node_id').where({ node_id: nodeId }).forUpdate();
  },

  /** Every head the hub cosigned for the node, by tree size (locked with `lock` on PostgreSQL: the node's witness rows). */
  async heads(db: Db, nodeId: string, lock = false): Promise<CosignedHead[]> {
    const rows = (await locked(db, db('hub_witness').select('tree_size', 'root_hash', 'cosigned_at').where({ node_id: nodeId }).orderBy('tree_size'), lock)) as Row[];
    return rows.map((r) => ({ treeSize: Number(r.tree_size), rootHash: String(r.root_hash), cosignedAt: String(r.cosigned_at) }));
  },

  /** The largest head cosigned strictly before `before` (ISO, compared as hub-time strings), or null. */
  async lastBefore(db: Db, nodeId: string, before: string): Promise<CosignedHead | null> {
    const r = (await db('hub_witness').select('tree_size', 'root_hash', 'cosigned_at').where({ node_id: nodeId }).andWhere('cosigned_at', '<', before).orderBy('tree_size', 'desc').first()) as Row | undefined;
    return r ? { treeSize: Number(r.tree_size), rootHash: String(r.root_hash), cosignedAt: String(r.cosigned_at) } : null;
  },

  /**
   * Moves exactly the abandoned heads (`heads`: tree size and root) out of the node's live witness rows
   * into hub_witness_archive under `epoch`; ERR_AUDIT_INCONSISTENT (the transaction rolls back) when the
   * rows are not exactly those (a concurrent change). Returns how many were moved.
   */
  async abandon(db: Db, nodeId: string, epoch: number, heads: readonly { treeSize: number; rootHash: string }[]): Promise<number> {
    for (const h of heads) {
      const r = (await db('hub_witness').where({ node_id: nodeId, tree_size: h.treeSize, root_hash: h.rootHash }).first()) as Row | undefined;
      if (!r) throw auditError('ERR_AUDIT_INCONSISTENT', `the head at tree size ${h.treeSize} of node ${nodeId} changed during the reset`, { nodeId, treeSize: h.treeSize });
      await db('hub_witness_archive').insert({ node_id: nodeId, epoch, tree_size: h.treeSize, root_hash: h.rootHash, checkpoint: r.checkpoint, cosignature: r.cosignature, cosigned_at: r.cosigned_at });
    }
    let moved = 0;
    for (const h of heads) moved += await db('hub_witness').where({ node_id: nodeId, tree_size: h.treeSize, root_hash: h.rootHash }).delete();
    if (moved !== heads.length) throw auditError('ERR_AUDIT_INCONSISTENT', `the reset of node ${nodeId} was to abandon ${heads.length} head(s), ${moved} were there`, { nodeId });
    return moved;
  },

  /** The archived (abandoned) cosignatures, JSON, with their epoch, by node, epoch and tree size. None before migration 032. */
  async archived(db: Db, nodeId?: string): Promise<{ nodeId: string; epoch: number; cosignature: string }[]> {
    if (!(await db.schema.hasTable('hub_witness_archive'))) return [];
    const q = db('hub_witness_archive').select('node_id', 'epoch', 'cosignature').orderBy([{ column: 'node_id' }, { column: 'epoch' }, { column: 'tree_size' }]);
    if (nodeId) q.where({ node_id: nodeId });
    return ((await q) as Row[]).map((r) => ({ nodeId: String(r.node_id), epoch: Number(r.epoch), cosignature: String(r.cosignature) }));
  },

  /** The node's current witness epoch: the largest archived epoch (0 when none, or before migration 032). */
  async epochs(db: Db, nodeId: string): Promise<number> {
    if (!(await db.schema.hasTable('hub_witness_epochs'))) return 0;
    const r = (await db('hub_witness_epochs').where({ node_id: nodeId }).max({ n: 'epoch' }).first()) as { n: number | string | null } | undefined;
    return Number(r?.n ?? 0);
  },

  async archive(db: Db, nodeId: string, epoch: number, resetAt: string, record: string): Promise<void> {
    await db('hub_witness_epochs').insert({ node_id: nodeId, epoch, reset_at: resetAt, record });
  },

  /** The signed reset records (JSON), by node and epoch; one node's with `nodeId`. None before migration 031. */
  async records(db: Db, nodeId?: string): Promise<string[]> {
    if (!(await db.schema.hasTable('hub_witness_epochs'))) return [];
    const q = db('hub_witness_epochs').select('record').orderBy([{ column: 'node_id' }, { column: 'epoch' }]);
    if (nodeId) q.where({ node_id: nodeId });
    return ((await q) as Row[]).map((r) => String(r.record));
  },
};
