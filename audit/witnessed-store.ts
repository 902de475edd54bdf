/**
 * `audit_witnessed` (migration 003): the heads this store's owner cosigned for another log — a
 * node's cosignatures of the hub's checkpoints (mutual witnessing). They are the node's memory of
 * the hub's log (the `prev` its next check of the hub's checkpoint starts from) and its witness
 * records for `credit audit witness-export`. Append-only; one per log and tree size.
 */
import type { Cosignature } from './cosign.js';
import type { Checkpoint } from './entry.js';
import type { Db } from './knex-connect.js';

const TABLE = 'audit_witnessed';

/** The largest head of `nodeId`'s log this store cosigned, or null. */
export async function lastWitnessed(db: Db, nodeId: string): Promise<{ treeSize: number; rootHash: string } | null> {
  if (!(await db.schema.hasTable(TABLE))) return null;
  const r = (await db(TABLE).where({ node_id: nodeId }).orderBy('tree_size', 'desc').first()) as { tree_size: number | string; root_hash: string } | undefined;
  return r ? { treeSize: Number(r.tree_size), rootHash: r.root_hash } : null;
}

/** Remembers a cosignature this store's owner made of `checkpoint`; false when that size was stored already. */
export async function storeWitnessed(db: Db, checkpoint: Checkpoint, c: Cosignature): Promise<boolean> {
  const out: unknown[] = await db(TABLE)
    .insert({ node_id: c.nodeId, tree_size: c.treeSize, root_hash: c.rootHash, checkpoint: JSON.stringify(checkpoint), cosignature: JSON.stringify(c), cosigned_at: c.cosignedAt })
    .onConflict(['node_id', 'tree_size'])
    .ignore()
    .returning('tree_size');
  return out.length === 1;
}

/** Every cosignature this store's owner made of another log, by log and tree size (none before migration 003). */
export async function witnessedByThisStore(db: Db): Promise<Cosignature[]> {
  if (!(await db.schema.hasTable(TABLE))) return [];
  const rows = (await db(TABLE).select('cosignature').orderBy([{ column: 'node_id' }, { column: 'tree_size' }])) as { cosignature: string }[];
  return rows.map((r) => JSON.parse(r.cosignature) as Cosignature);
}
