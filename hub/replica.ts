/**
 * The hub's optional read replica (config `databaseReadUrl`, docs/scale.md): a PostgreSQL streaming
 * standby of the primary that does the province queries' subject scan and serves the quality
 * reports. It is never trusted for content: a query asks it only which rows (source node, id) match
 * the subject's blind index, and reads those rows whole on the primary, inside the query's
 * transaction, where they are opened and their subject checked. So a lagging standby can only leave
 * out records newer than its lag, and a hostile or wrong one can only leave records out — bounded:
 *  - at start it must be a copy of this store (same hub migrations, same data keys with the same
 *    check values, same subject HMAC key), else ERR_REPLICA_SCHEMA;
 *  - per query, its lag is measured on the distribution cursor (every record and withdrawal the hub
 *    accepts takes one): when it has not reached a cursor the primary had `databaseReadMaxLagMs` ago,
 *    or it fails or does not answer within `databaseReadTimeoutMs`, the query scans the primary.
 */
import type { Knex } from 'knex';
import { createHash } from 'node:crypto';
import { serviceError } from '../protocol/service-errors.js';
import { HUB_MIGRATIONS_TABLE } from './migrations.js';
import { recordsStore } from './records-store.js';

async function rows(db: Knex, table: string, columns: readonly string[], where?: Record<string, string>): Promise<string[] | null> {
  if (!(await db.schema.hasTable(table))) return null;
  const q = db(table).select(...columns).orderBy(columns[0]!);
  if (where) q.where(where);
  // values compared as digests: the subject HMAC key is not held in memory longer than this
  return ((await q) as Array<Record<string, unknown>>).map((r) => createHash('sha256').update(columns.map((c) => String(r[c])).join('\0')).digest('hex'));
}

const CHECKS = [
  { table: HUB_MIGRATIONS_TABLE, columns: ['name'], what: 'hub migrations' },
  { table: 'hub_at_rest_keys', columns: ['kid', 'kcv'], what: 'data keys' },
  { table: 'hub_settings', columns: ['name', 'value'], what: 'subject HMAC key (another hub\'s store)', where: { name: 'subject_hmac_key' } },
] as const;

/** ERR_REPLICA_SCHEMA unless `replica` holds the primary's hub migrations, data keys and subject HMAC key. */
export async function assertSameSchema(primary: Knex, replica: Knex): Promise<void> {
  for (const c of CHECKS) {
    const want = await rows(primary, c.table, c.columns, 'where' in c ? c.where : undefined);
    const got = await rows(replica, c.table, c.columns, 'where' in c ? c.where : undefined);
    if (got === null || JSON.stringify(got) !== JSON.stringify(want)) {
      throw serviceError(
        'ERR_REPLICA_SCHEMA',
        `config key databaseReadUrl: the read replica is not a copy of this hub's store (its ${c.what} differ); point it at a streaming standby of databaseUrl that has caught up, or remove databaseReadUrl`,
        { key: 'databaseReadUrl', table: c.table },
      );
    }
  }
}

const maxCursor = async (db: Knex): Promise<number> => Number(((await db('hub_distributions').max({ m: 'cursor' }).first()) as { m: number | string | null } | undefined)?.m ?? 0);

/** A quality report on the replica when there is one (on the primary if it fails), else on the reader. */
export function quality<T>(ctx: { replica: ReplicaReader | null; reader: Knex }, run: (db: Knex) => Promise<T>): Promise<T> {
  return ctx.replica ? ctx.replica.report(run) : run(ctx.reader);
}

export interface ReplicaReader {
  /** The keys of the rows matching `subject` on the replica, or null: read the primary (replica lagging, failing or slow). */
  keys(subject: string): Promise<Array<{ sourceNode: string; id: string }> | null>;
  /** Runs a report on the replica, or on the primary when the replica fails. */
  report<T>(run: (db: Knex) => Promise<T>): Promise<T>;
}

export function replicaReader(o: { primary: Knex; replica: Knex; clock: () => Date; maxLagMs: number; timeoutMs: number; onFallback?: (reason: string) => void }): ReplicaReader {
  let checked = { at: -Infinity, fresh: false };
  const within = <T>(p: Promise<T>): Promise<T> =>
    Promise.race([p, new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`no answer within ${o.timeoutMs} ms`)), o.timeoutMs).unref())]);
  /**
   * Fresh when the replica holds every distribution row the primary wrote more than maxLagMs ago:
   * the lag is the age, by the primary's own `created_at`, of the first row the replica lacks — so it
   * is right after an idle spell or a restart too. Checked at most once a second; a replica that
   * fails or does not answer is taken as stale for that second (no query waits on it again).
   */
  const fresh = async (): Promise<boolean> => {
    const now = o.clock().getTime();
    if (now - checked.at < 1000) return checked.fresh;
    checked = { at: now, fresh: false };
    const r = await within(maxCursor(o.replica));
    const first = (await o.primary('hub_distributions').where('cursor', '>', r).orderBy('cursor').first('created_at')) as { created_at: string } | undefined;
    checked = { at: now, fresh: first === undefined || now - Date.parse(first.created_at) <= o.maxLagMs };
    return checked.fresh;
  };
  return {
    async keys(subject) {
      try {
        if (!(await fresh())) {
          o.onFallback?.('lag');
          return null;
        }
        return await within(recordsStore.keysBySubject(o.replica, subject));
      } catch (e) {
        o.onFallback?.((e as Error).message);
        return null;
      }
    },
    async report(run) {
      try {
        return await within(run(o.replica));
      } catch (e) {
        o.onFallback?.((e as Error).message);
        return run(o.primary);
      }
    },
  };
}
