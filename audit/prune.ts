/**
 * Pruning: the one deliberate, privileged path that removes audit entries. Refused when any entry
 * to be removed is younger than 180 days (ERR_AUDIT_RETENTION; the Cybersecurity Law asks for at
 * least six months). Entries 1..K with time < `before` are removed in ONE transaction that lifts
 * the delete guard (SQLite: drop + re-create the trigger; PostgreSQL: DISABLE/ENABLE TRIGGER under
 * the table lock), keeps the compact Merkle range of 1..K in `audit_prunes` (so later checkpoints,
 * exports and proofs still work), and records an `audit.prune` event carrying the archive root.
 * Export the range first (`credit audit export --to K`) to keep an offline archive.
 */
import type { Knex } from 'knex';
import { auditError } from './errors.js';
import { engineOf } from './knex-connect.js';
import type { AuditLog } from './log.js';
import { withGuardLifted } from './schema.js';
import { leafHashes, pruneBase } from './store.js';

export const RETENTION_DAYS = 180;
const DAY_MS = 86_400_000;

export interface PruneOptions {
  before: Date;
  /** Who prunes (recorded as the event's actor). */
  actor: string;
  now?: Date;
}

export interface PruneResult {
  pruned: number;
  /** First seq still stored afterwards. */
  firstKept: number;
  /** Merkle root of entries 1..firstKept-1 (the archive root), hex; null when nothing was pruned. */
  archiveRoot: string | null;
  /** Seq of the audit.prune event. */
  eventSeq: number | null;
}

export async function pruneAudit(db: Knex, log: AuditLog, opts: PruneOptions): Promise<PruneResult> {
  const now = opts.now ?? new Date();
  const cutoff = new Date(now.getTime() - RETENTION_DAYS * DAY_MS);
  if (Number.isNaN(opts.before.getTime())) throw auditError('ERR_AUDIT_RETENTION', 'the prune date is not a date');
  if (opts.before.getTime() > cutoff.getTime()) {
    throw auditError('ERR_AUDIT_RETENTION', `entries before ${opts.before.toISOString()} may be younger than ${RETENTION_DAYS} days (oldest prunable date: ${cutoff.toISOString()})`);
  }
  const base = await pruneBase(db);
  // Entries are removed as a prefix: up to the first entry at or after `before`.
  const firstYoung = (await db('audit_log').where('time', '>=', opts.before.toISOString()).min({ m: 'seq' }).first()) as { m: number | string | null } | undefined;
  const lastRow = (await db('audit_log').max({ m: 'seq' }).first()) as { m: number | string | null } | undefined;
  const k = firstYoung?.m != null ? Number(firstYoung.m) - 1 : lastRow?.m != null ? Number(lastRow.m) : base.firstKept - 1;
  if (k < base.firstKept) return { pruned: 0, firstKept: base.firstKept, archiveRoot: null, eventSeq: null };

  const leaves = await leafHashes(db, base.firstKept, k);
  const range = base.range.clone();
  for (const l of leaves) range.append(l);
  const archiveRoot = range.root().toString('hex');
  const pg = engineOf(db) === 'pg';

  let eventSeq = 0;
  await db.transaction(async (trx) => {
    // an operator's one-off delete of a large prefix may take longer than the sessions' statement_timeout (knex-connect.ts)
    if (pg) await trx.raw('SET LOCAL statement_timeout = 0');
    const removed = await withGuardLifted(trx, 'audit_log', () => trx('audit_log').where('seq', '<=', k).del());
    if (removed !== k - base.firstKept + 1) throw auditError('ERR_AUDIT_RANGE', `expected to prune ${k - base.firstKept + 1} entries, found ${removed}`);
    await trx('audit_prunes').insert({
      first_kept: k + 1, frontier: JSON.stringify(range.toHex()), prev_hash: leaves[leaves.length - 1]!.toString('hex'), root_hash: archiveRoot, time: now.toISOString(),
    });
    eventSeq = await log.recordIn(trx, { actor: opts.actor, action: 'audit.prune', object: `seq ${base.firstKept}..${k}`, outcome: 'success', reason: `archive root ${archiveRoot}; before ${opts.before.toISOString()}` });
  });
  return { pruned: k - base.firstKept + 1, firstKept: k + 1, archiveRoot, eventSeq };
}
