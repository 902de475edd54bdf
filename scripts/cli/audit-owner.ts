/**
 * Whose audit log a store holds, so `credit audit checkpoint|export|prune --key --cert` sign only
 * with that node's certificate: a checkpoint signed for another node id makes every later export
 * of the log fail verification (ERR_AUDIT_UNTRUSTED_SIGNER), for good, since checkpoints are
 * append-only. The owner is the node id of the log's checkpoints; before the first one, a hub
 * store (hub tables) is the hub's (430000) log, and a node's store never takes the hub's key.
 * Read-only: it runs before anything is written.
 */
import type { Knex } from 'knex';
import { auditError, type AuditSigner } from '../../audit/index.js';

const HUB_NODE_ID = '430000';

/** The node id the log of `db` is signed for, or, with no checkpoint yet, what the store tells. */
export async function logOwner(db: Knex): Promise<{ nodeId: string; from: 'checkpoints' | 'hub store' } | { notNodeId: string; from: 'node store' } | null> {
  if (await db.schema.hasTable('audit_checkpoints')) {
    const row = (await db('audit_checkpoints').orderBy('tree_size', 'desc').first('node_id')) as { node_id: string } | undefined;
    if (row) return { nodeId: row.node_id, from: 'checkpoints' };
  }
  if (await db.schema.hasTable('hub_nodes')) return { nodeId: HUB_NODE_ID, from: 'hub store' };
  if (await db.schema.hasTable('node_records')) return { notNodeId: HUB_NODE_ID, from: 'node store' };
  return null;
}

/** ERR_AUDIT_SIGNER_INVALID unless `signer` (its certificate's CN) may sign the log of `db`. */
export async function assertSignerOwnsLog(db: Knex, signer: AuditSigner, target: string): Promise<void> {
  const owner = await logOwner(db);
  if (owner === null) return;
  if ('nodeId' in owner && signer.nodeId !== owner.nodeId) {
    const why = owner.from === 'checkpoints' ? `its checkpoints are signed for node ${owner.nodeId}` : `it is the hub's store (node ${owner.nodeId})`;
    throw auditError('ERR_AUDIT_SIGNER_INVALID', `--cert is for node ${signer.nodeId}, but the audit log in ${target} belongs to node ${owner.nodeId} (${why}); give that node's key and certificate — nothing was written`, { logNodeId: owner.nodeId, certNodeId: signer.nodeId });
  }
  if ('notNodeId' in owner && signer.nodeId === owner.notNodeId) {
    throw auditError('ERR_AUDIT_SIGNER_INVALID', `--cert is the hub's (node ${signer.nodeId}), but ${target} is a city node's store; give that node's key and certificate — nothing was written`, { certNodeId: signer.nodeId });
  }
}
