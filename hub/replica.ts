/**
 * The hub's optional read replica (config `databaseReadUrl`, docs/scale.md): a PostgreSQL streaming
 * standby of the primary that serves the reads allowed to lag — the province queries' record
 * lookups and the quality reports. Before it is used, the start checks it is a copy of this store:
 * the same hub migrations applied and the same data keys registered (its sealed rows open with the
 * hub's data key); otherwise ERR_REPLICA_SCHEMA and the hub does not start.
 */
import type { Knex } from 'knex';
import { serviceError } from '../protocol/service-errors.js';
import { HUB_MIGRATIONS_TABLE } from './migrations.js';
import { recordsStore, type StoredHubRecord } from './records-store.js';

async function rows(db: Knex, table: string, column: string): Promise<string[] | null> {
  if (!(await db.schema.hasTable(table))) return null;
  return ((await db(table).select(column).orderBy(column)) as Array<Record<string, unknown>>).map((r) => String(r[column]));
}

/** ERR_REPLICA_SCHEMA unless `replica` holds the primary's hub migrations and data key ids. */
export async function assertSameSchema(primary: Knex, replica: Knex): Promise<void> {
  for (const [table, column, what] of [[HUB_MIGRATIONS_TABLE, 'name', 'hub migrations'], ['hub_at_rest_keys', 'kid', 'data keys']] as const) {
    const want = await rows(primary, table, column);
    const got = await rows(replica, table, column);
    if (got === null || JSON.stringify(got) !== JSON.stringify(want)) {
      const missing = want?.filter((x) => !got?.includes(x)) ?? [];
      throw serviceError(
        'ERR_REPLICA_SCHEMA',
        `config key databaseReadUrl: the read replica is not a copy of this hub's store (its ${what} differ${missing.length ? `: missing ${missing.slice(0, 3).join(', ')}${missing.length > 3 ? ' …' : ''}` : ''}); point it at a streaming standby of databaseUrl that has caught up, or remove databaseReadUrl`,
        { key: 'databaseReadUrl', table },
      );
    }
  }
}

/**
 * A province query's records read on the replica, confirmed on the primary (`trx`): each must still
 * be active there with the same class and version. A withdrawal (信用修复), a class raised after
 * distribution or a correction that the standby has not replayed yet would otherwise be answered
 * as it was; when any row differs, the query reads the primary instead. (A record newer than the
 * standby is simply not in the answer yet: the replication delay, docs/scale.md.) The check is a
 * primary-key read of the few rows found, not the subject scan the replica saved.
 */
export async function bySubjectOnReplica(replica: Knex, trx: Knex.Transaction, subject: string): Promise<StoredHubRecord[]> {
  const rows = await recordsStore.bySubject(replica, subject);
  const byNode = new Map<string, string[]>();
  for (const r of rows) byNode.set(r.sourceNode, [...(byNode.get(r.sourceNode) ?? []), r.id]);
  for (const [node, ids] of byNode) {
    const now = await recordsStore.held(trx, node, ids);
    for (const r of rows.filter((x) => x.sourceNode === node)) {
      const cur = now.get(r.id);
      if (!cur || cur.status !== 'active' || cur.classification !== r.classification || cur.version !== (r.version ?? 1)) return recordsStore.bySubject(trx, subject);
    }
  }
  return rows;
}
