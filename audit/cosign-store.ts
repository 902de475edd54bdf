/**
 * A store keeps the witnesses' cosignatures of its checkpoints in `audit_cosignatures` (append-only,
 * migration 002): a node the hub's, the hub every node's (mutual witnessing, migration 003), so
 * export bundles carry them. One per tree size and witness: the first stored is kept.
 * The SQL of that table lives here (store.ts holds the other audit tables').
 */
import type { Db } from './knex-connect.js';
import { cosignatureMismatch, verifyCosignature, type Cosignature, type VerifyCosignatureOptions } from './cosign.js';
import { auditError } from './errors.js';
import { checkpointAt } from './store.js';

const TABLE = 'audit_cosignatures';

interface CosignatureRow {
  tree_size: number | string;
  root_hash: string;
  checkpoint_time: string;
  node_id: string;
  witness: string;
  cosigned_at: string;
  signature: string;
  signer_fingerprint: string;
  cert_pem: string;
  epoch?: number | string | null;
}

function fromRow(r: CosignatureRow): Cosignature {
  return {
    type: 'cosignature', nodeId: r.node_id, treeSize: Number(r.tree_size), rootHash: r.root_hash, checkpointTime: r.checkpoint_time,
    witness: r.witness, cosignedAt: r.cosigned_at, signature: r.signature, signerFingerprint: r.signer_fingerprint, certPem: r.cert_pem,
    ...(r.epoch != null && Number(r.epoch) > 0 ? { epoch: Number(r.epoch) } : {}),
  };
}

/**
 * Stores the hub's cosignature of one of this store's checkpoints. It must verify (verifyCosignature,
 * with `caCertPem` also the hub certificate chain) and match the checkpoint stored at its tree size
 * (node, root, time), else ERR_AUDIT_COSIGNATURE / ERR_AUDIT_UNTRUSTED_SIGNER. Idempotent: resolves
 * true when stored, false when a cosignature of that tree size was already there (kept as it was).
 */
export async function storeCosignature(db: Db, c: Cosignature, opts: Pick<VerifyCosignatureOptions, 'caCertPem'> = {}): Promise<boolean> {
  verifyCosignature(c, opts);
  const cp = await checkpointAt(db, c.treeSize);
  if (!cp) throw auditError('ERR_AUDIT_COSIGNATURE', `no checkpoint is stored at tree size ${c.treeSize}: the cosignature is of another log`, { treeSize: c.treeSize });
  const mismatch = cosignatureMismatch(c, cp);
  if (mismatch) throw auditError('ERR_AUDIT_COSIGNATURE', `${mismatch}: the cosignature is of another log`, { treeSize: c.treeSize });
  if (await db(TABLE).where({ tree_size: c.treeSize, witness: c.witness }).first()) return false;
  await db(TABLE)
    .insert({
      tree_size: c.treeSize, root_hash: c.rootHash, checkpoint_time: c.checkpointTime, node_id: c.nodeId, witness: c.witness,
      cosigned_at: c.cosignedAt, signature: c.signature, signer_fingerprint: c.signerFingerprint, cert_pem: c.certPem,
      ...(c.epoch !== undefined ? { epoch: c.epoch } : {}),
    })
    .onConflict(['tree_size', 'witness'])
    .ignore(); // a concurrent store of the same tree size
  return true;
}

/** The cosignature of the largest tree size (by `witness` when given), or null when none (or the table is not migrated). */
export async function latestCosignature(db: Db, witness?: string): Promise<Cosignature | null> {
  if (!(await db.schema.hasTable(TABLE))) return null;
  const q = db(TABLE).orderBy('tree_size', 'desc');
  if (witness) q.where({ witness });
  const row = (await q.first()) as CosignatureRow | undefined;
  return row ? fromRow(row) : null;
}

/** Cosignatures of tree sizes from..to, in order (none when the table is not migrated). */
export async function cosignaturesBetween(db: Db, from: number, to: number): Promise<Cosignature[]> {
  if (!(await db.schema.hasTable(TABLE))) return [];
  const rows = (await db(TABLE).where('tree_size', '>=', from).andWhere('tree_size', '<=', to).orderBy('tree_size')) as CosignatureRow[];
  return rows.map(fromRow);
}

/** The largest tree size from..to that a witness cosigned, or null (none, or the table is not migrated). */
export async function lastCosignedSize(db: Db, from: number, to: number): Promise<number | null> {
  if (!(await db.schema.hasTable(TABLE))) return null;
  const row = (await db(TABLE).where('tree_size', '>=', from).andWhere('tree_size', '<=', to).max({ size: 'tree_size' }).first()) as { size: number | string | null } | undefined;
  return row?.size == null ? null : Number(row.size);
}
