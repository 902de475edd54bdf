/**
 * SQL for the node's witness reset of the hub's log (docs/audit-format.md §10b, node/exchange/witness.ts):
 * the operator's one-shot arms (node_hub_witness_arms), the node-signed record of each break
 * (node_hub_witness_epochs) and the hub heads a reset abandoned (node_hub_witness_archive: the rows
 * audit_witnessed held, tagged with the epoch). The only place touching those tables, and the one
 * place that deletes from audit_witnessed (append-only: its guard is lifted inside the reset's
 * transaction, audit/schema.ts withGuardLifted, as pruning does for audit_log). Arms are never deleted: a used one keeps
 * consumed_at and the epoch it opened.
 */
import type { Knex } from 'knex';
import type { Db } from '../audit/knex-connect.js';
import { guardTables, unguardSql, withGuardLifted } from '../audit/schema.js';
import { auditError } from '../audit/errors.js';
import { HUB_NODE_ID } from '../certs/issue.js';

/** Append-only (UPDATE/DELETE refused by triggers, as the audit tables): the epochs and the archived heads. */
const GUARDED = ['node_hub_witness_epochs', 'node_hub_witness_archive'];

export const hubWitnessResetMigration = {
  name: '045_hub_witness_resets',
  async up(db: Knex): Promise<void> {
    await db.schema.createTable('node_hub_witness_arms', (t) => {
      t.bigIncrements('id').primary();
      t.text('reason').notNullable();
      t.string('armed_by', 200).notNullable();
      t.string('armed_at', 30).notNullable();
      t.string('expires_at', 30).notNullable();
      /** The point the hub's log went back to, as the province announced it (the hub backup's time, or the failover's). */
      t.string('restored_to', 30).notNullable();
      /** The largest tree size the operator was shown the reset would abandon: a reset abandoning other heads is refused. */
      t.bigInteger('abandon_to').notNullable();
      t.string('consumed_at', 30).nullable();
      t.integer('epoch').nullable();
      t.string('cancelled_at', 30).nullable();
    });
    await db.schema.createTable('node_hub_witness_epochs', (t) => {
      t.integer('epoch').primary();
      t.string('reset_at', 30).notNullable();
      t.text('record').notNullable();
    });
    await db.schema.createTable('node_hub_witness_archive', (t) => {
      t.integer('epoch').notNullable();
      t.bigInteger('tree_size').notNullable();
      t.string('root_hash', 64).notNullable();
      t.text('checkpoint').notNullable();
      t.text('cosignature').notNullable();
      t.string('cosigned_at', 30).notNullable();
      t.primary(['epoch', 'tree_size']);
    });
    await guardTables(db, GUARDED);
  },
  async down(db: Knex): Promise<void> {
    for (const table of GUARDED) for (const sql of unguardSql(db, table)) await db.raw(sql);
    await db.schema.dropTableIfExists('node_hub_witness_archive');
    await db.schema.dropTableIfExists('node_hub_witness_epochs');
    await db.schema.dropTableIfExists('node_hub_witness_arms');
  },
};

export interface HubWitnessArm {
  id: number;
  reason: string;
  armedBy: string;
  armedAt: string;
  expiresAt: string;
  restoredTo: string;
  /** The largest tree size the operator was shown the reset would abandon. */
  abandonTo: number;
  consumedAt: string | null;
  epoch: number | null;
  cancelledAt: string | null;
}

/** A hub head this node cosigned (a live audit_witnessed row). */
export interface WitnessedHubHead {
  treeSize: number;
  rootHash: string;
  /** When this node cosigned it (node clock). */
  cosignedAt: string;
  /** The hub's signed checkpoint time of that head (hub clock): what a restore point is compared with. */
  checkpointTime: string;
}

/** The heads kept and abandoned by a reset for the restore point `restoredTo`: kept, the last head whose hub checkpoint is older. */
export function splitAt(heads: readonly WitnessedHubHead[], restoredTo: string): { from: WitnessedHubHead | null; abandoned: WitnessedHubHead[] } {
  const from = heads.filter((h) => h.checkpointTime < restoredTo).at(-1) ?? null;
  return { from, abandoned: heads.filter((h) => h.treeSize > (from?.treeSize ?? 0)) };
}

type Row = Record<string, unknown>;

function armOf(r: Row): HubWitnessArm {
  return {
    id: Number(r.id), reason: String(r.reason), armedBy: String(r.armed_by), armedAt: String(r.armed_at), expiresAt: String(r.expires_at), restoredTo: String(r.restored_to), abandonTo: Number(r.abandon_to),
    consumedAt: r.consumed_at == null ? null : String(r.consumed_at), epoch: r.epoch == null ? null : Number(r.epoch), cancelledAt: r.cancelled_at == null ? null : String(r.cancelled_at),
  };
}

const ARMS = 'node_hub_witness_arms';

export const hubWitnessResetStore = {
  /** Arms a reset; an earlier unused arm is cancelled (one pending arm at a time; one transaction, so two concurrent arms leave one). */
  async arm(db: Knex, a: Omit<HubWitnessArm, 'id' | 'consumedAt' | 'epoch' | 'cancelledAt'>): Promise<number> {
    return db.transaction(async (trx) => {
      await trx(ARMS).whereNull('consumed_at').whereNull('cancelled_at').update({ cancelled_at: a.armedAt });
      const out = (await trx(ARMS).insert({ reason: a.reason, armed_by: a.armedBy, armed_at: a.armedAt, expires_at: a.expiresAt, restored_to: a.restoredTo, abandon_to: a.abandonTo }).returning('id')) as (Row | number)[];
      const first = out[0]!;
      return Number(typeof first === 'object' ? first.id : first);
    });
  },

  /** The newest unused arm, or undefined (also before the migration). */
  async pending(db: Db): Promise<HubWitnessArm | undefined> {
    if (!(await db.schema.hasTable(ARMS))) return undefined;
    const r = (await db(ARMS).whereNull('consumed_at').whereNull('cancelled_at').orderBy('id', 'desc').first()) as Row | undefined;
    return r ? armOf(r) : undefined;
  },

  async arms(db: Db): Promise<HubWitnessArm[]> {
    return ((await db(ARMS).orderBy('id')) as Row[]).map(armOf);
  },

  /** Consumes arm `id` (it opened `epoch`) and cancels any other pending arm; false when `id` was no longer pending (used or cancelled meanwhile). */
  async consume(db: Db, id: number, at: string, epoch: number): Promise<boolean> {
    if ((await db(ARMS).where({ id }).whereNull('consumed_at').whereNull('cancelled_at').update({ consumed_at: at, epoch })) !== 1) return false;
    await db(ARMS).whereNull('consumed_at').whereNull('cancelled_at').update({ cancelled_at: at });
    return true;
  },

  /** Cancels every pending arm (`armedBefore`: those armed before that time only); the ids cancelled. */
  async cancelPending(db: Db, at: string, armedBefore?: string): Promise<number[]> {
    if (!(await db.schema.hasTable(ARMS))) return [];
    const q = db(ARMS).whereNull('consumed_at').whereNull('cancelled_at').select('id');
    if (armedBefore !== undefined) q.where('armed_at', '<', armedBefore);
    const ids = ((await q) as Row[]).map((r) => Number(r.id));
    if (ids.length > 0) await db(ARMS).whereIn('id', ids).whereNull('consumed_at').whereNull('cancelled_at').update({ cancelled_at: at });
    return ids;
  },

  /** Every live head of the hub's log this node cosigned, by tree size. */
  async heads(db: Db): Promise<WitnessedHubHead[]> {
    const rows = (await db('audit_witnessed').select('tree_size', 'root_hash', 'cosigned_at', 'checkpoint').where({ node_id: HUB_NODE_ID }).orderBy('tree_size')) as Row[];
    return rows.map((r) => ({ treeSize: Number(r.tree_size), rootHash: String(r.root_hash), cosignedAt: String(r.cosigned_at), checkpointTime: String((JSON.parse(String(r.checkpoint)) as { time?: unknown }).time ?? '') }));
  },

  /** The current epoch of the node's witness of the hub's log: the number of resets (0 when none, or before the migration). */
  async epoch(db: Db): Promise<number> {
    if (!(await db.schema.hasTable('node_hub_witness_epochs'))) return 0;
    const r = (await db('node_hub_witness_epochs').max({ n: 'epoch' }).first()) as { n: number | string | null } | undefined;
    return Number(r?.n ?? 0);
  },

  /**
   * Inside the reset's transaction: copies exactly the abandoned heads (tree size and root) from
   * audit_witnessed into node_hub_witness_archive under `epoch`, then deletes them from audit_witnessed
   * with its guard lifted for that one statement; ERR_AUDIT_INCONSISTENT (the transaction rolls back)
   * when the rows are not exactly those.
   */
  async abandon(trx: Knex.Transaction, epoch: number, heads: readonly { treeSize: number; rootHash: string }[]): Promise<void> {
    for (const h of heads) {
      const r = (await trx('audit_witnessed').where({ node_id: HUB_NODE_ID, tree_size: h.treeSize, root_hash: h.rootHash }).first()) as Row | undefined;
      if (!r) throw auditError('ERR_AUDIT_INCONSISTENT', `the hub head at tree size ${h.treeSize} this node cosigned changed during the reset`, { treeSize: h.treeSize });
      await trx('node_hub_witness_archive').insert({ epoch, tree_size: h.treeSize, root_hash: h.rootHash, checkpoint: r.checkpoint, cosignature: r.cosignature, cosigned_at: r.cosigned_at });
    }
    const moved = await withGuardLifted(trx, 'audit_witnessed', async () => {
      let n = 0;
      for (const h of heads) n += await trx('audit_witnessed').where({ node_id: HUB_NODE_ID, tree_size: h.treeSize, root_hash: h.rootHash }).delete();
      return n;
    });
    if (moved !== heads.length) throw auditError('ERR_AUDIT_INCONSISTENT', `the reset was to abandon ${heads.length} hub head(s), ${moved} were there`);
  },

  async archive(db: Db, epoch: number, resetAt: string, record: string): Promise<void> {
    await db('node_hub_witness_epochs').insert({ epoch, reset_at: resetAt, record });
  },

  /** The signed reset records (JSON), by epoch. None before the migration (or on a hub store). */
  async records(db: Db): Promise<string[]> {
    if (!(await db.schema.hasTable('node_hub_witness_epochs'))) return [];
    return ((await db('node_hub_witness_epochs').select('record').orderBy('epoch')) as Row[]).map((r) => String(r.record));
  },

  /** The archived (abandoned) cosignatures, JSON, with their epoch. None before the migration (or on a hub store). */
  async archived(db: Db): Promise<{ epoch: number; cosignature: string }[]> {
    if (!(await db.schema.hasTable('node_hub_witness_archive'))) return [];
    const rows = (await db('node_hub_witness_archive').select('epoch', 'cosignature').orderBy([{ column: 'epoch' }, { column: 'tree_size' }])) as Row[];
    return rows.map((r) => ({ epoch: Number(r.epoch), cosignature: String(r.cosignature) }));
  },
};
