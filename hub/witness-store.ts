/** SQL for hub_witness: the checkpoints the hub has cosigned, per node. The only place touching that table. */
import { engineOf, type Db } from '../audit/knex-connect.js';
import type { Knex } from 'knex';

export interface WitnessRow {
  nodeId: string;
  treeSize: number;
  rootHash: string;
  /** The node's signed checkpoint, JSON. */
  checkpoint: string;
  /** The hub's cosignature, JSON. */
  cosignature: string;
  cosignedAt: string;
}

type Row = Record<string, unknown>;

export const witnessStore = {
  /** The largest cosigned checkpoint of a node, if any; with `lock` on PostgreSQL, SELECT … FOR UPDATE. */
  async latest(db: Db, nodeId: string, lock = false): Promise<WitnessRow | undefined> {
    const q = db('hub_witness').where({ node_id: nodeId }).orderBy('tree_size', 'desc');
    if (lock && engineOf(db as Knex) === 'pg') q.forUpdate();
    const r: Row | undefined = await q.first();
    if (!r) return undefined;
    return { nodeId: String(r.node_id), treeSize: Number(r.tree_size), rootHash: String(r.root_hash), checkpoint: String(r.checkpoint), cosignature: String(r.cosignature), cosignedAt: String(r.cosigned_at) };
  },

  /** The hub's cosignatures of node checkpoints (JSON, as answered), by node and tree size; one node's with `nodeId`. */
  async cosignatures(db: Db, nodeId?: string): Promise<string[]> {
    const q = db('hub_witness').select('cosignature').orderBy([{ column: 'node_id' }, { column: 'tree_size' }]);
    if (nodeId) q.where({ node_id: nodeId });
    return ((await q) as Row[]).map((r) => String(r.cosignature));
  },

  /** Stores a cosigned checkpoint; false when one of this size was stored already. */
  async insert(db: Db, w: WitnessRow): Promise<boolean> {
    const out: unknown[] = await db('hub_witness')
      .insert({ node_id: w.nodeId, tree_size: w.treeSize, root_hash: w.rootHash, checkpoint: w.checkpoint, cosignature: w.cosignature, cosigned_at: w.cosignedAt })
      .onConflict(['node_id', 'tree_size'])
      .ignore()
      .returning('node_id');
    return out.length === 1;
  },
};
