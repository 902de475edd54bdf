/**
 * Multi-row writes with a handful of bound parameters however many rows (hub_records, the feed, the
 * quality tables): knex's multi-row VALUES formats and binds every value one by one.
 */
import type { Knex } from 'knex';
import { engineOf, type Db } from '../audit/knex-connect.js';

/** Rows per statement (PostgreSQL: one array parameter per column; SQLite: one JSON parameter). */
const CHUNK = { sqlite: 5000, pg: 5000 } as const;

/**
 * Multi-row insert in chunks, with a handful of parameters however many rows. PostgreSQL: one
 * array parameter per column, `INSERT … SELECT * FROM unnest(…)`, which PostgreSQL plans far faster
 * than thousands of VALUES terms. SQLite: the rows as ONE JSON array of arrays, `INSERT … SELECT
 * value ->> 0, … FROM json_each(?)`: SQLite reads the rows in C (in array order, so autoincrement
 * keys follow it), instead of knex formatting and the driver binding 10 000+ values one by one
 * (about half the time of a 1,000-row VALUES statement).
 */
export async function chunked<T>(db: Db, items: readonly T[], cols: readonly string[], head: string, tail: string, values: (x: T) => Knex.Value[], pgTypes: Record<string, string> = {}): Promise<void> {
  const engine = engineOf(db as Knex);
  const per = CHUNK[engine];
  for (let i = 0; i < items.length; i += per) {
    const part = items.slice(i, i + per);
    if (engine === 'pg') {
      const arrays: Knex.Value[][] = cols.map(() => []);
      for (const x of part) values(x).forEach((v, c) => arrays[c]!.push(v));
      const select = cols.some((c) => pgTypes[c]) ? cols.map((c) => (pgTypes[c] ? `${c}::${pgTypes[c]}` : c)).join(',') : '*';
      await db.raw(`${head} (${cols.join(',')}) select ${select} from unnest(${cols.map(() => '?::text[]').join(',')}) as u(${cols.join(',')}) ${tail}`, arrays as unknown as Knex.Value[]);
      continue;
    }
    // `where true`: SQLite's INSERT … SELECT needs a WHERE before an ON CONFLICT clause
    await db.raw(`${head} (${cols.join(',')}) select ${cols.map((_, c) => `value ->> ${c}`).join(',')} from json_each(?) where true ${tail}`, [JSON.stringify(part.map(values))]);
  }
}

