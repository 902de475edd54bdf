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
