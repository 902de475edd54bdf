/**
 * Filler rows for the hub's `hub_records` on PostgreSQL, written by SQL (generate_series) in the
 * schema given: subjects no query asks for (32 hex, the blind index's shape) and ≈ 400 bytes of
 * sealed-looking fields, from 136 source nodes; then ANALYZE. Used by hub-scale.ts (the scan at
 * 10,000,000 rows) and by e2e-pg (`BENCH_PG_QUERY_ROWS`: the province query end to end against a
 * hub holding that many rows). No real record is ever opened from them. Ends with ANALYZE, a
 * CHECKPOINT and sync(1), so what is timed next does not compete with the write-back of the fill.
 */
import { execFileSync } from 'node:child_process';
import type { Knex } from 'knex';

export async function unbounded<T>(db: Knex, fn: (trx: Knex.Transaction) => Promise<T>): Promise<T> {
  return db.transaction(async (trx) => {
    await trx.raw('SET LOCAL statement_timeout = 0');
    return fn(trx);
  });
}

export async function fill(db: Knex, schema: string, total: number, log: (l: string) => void): Promise<number> {
  const chunk = 1_000_000;
  const t0 = process.hrtime.bigint();
  for (let from = 1; from <= total; from += chunk) {
    const to = Math.min(total, from + chunk - 1);
    // subjects no query asks for (32 hex, the blind index's shape); ≈ 400 bytes of sealed-looking fields
    await unbounded(db, (trx) => trx.raw(`INSERT INTO ??.hub_records (id, source_node, type, class, subject, fields, status, created_at, updated_at, received_at, batch_id, catalog_version, version)
        SELECT substr(md5(g::text), 1, 8) || '-7d1e-7000-8000-' || lpad(g::text, 12, '0'), (430100 + (g % 136) * 100)::text, 'penalty', 'public',
               md5('s' || (g / 3)::text), 'CFE1.k1.' || repeat(md5(g::text), 12), 'active', '2026-03-01T00:00:00.000Z', '2026-03-01T00:00:00.000Z',
               '2026-03-01T00:00:00.000Z', '0190f3c2-7d1e-7000-8000-' || lpad((g / 1000)::text, 12, '0'), '2026.1', 1
        FROM generate_series(?::bigint, ?::bigint) AS g`, [schema, from, to]));
    log(`filler: ${to.toLocaleString('en-US')} / ${total.toLocaleString('en-US')} filler rows`);
  }
  const rps = total / (Number(process.hrtime.bigint() - t0) / 1e9);
  await unbounded(db, (trx) => trx.raw('ANALYZE ??.hub_records', [schema]));
  // the gigabytes just written out of the way (a superuser's CHECKPOINT; skipped otherwise), so what
  // is timed next is not competing with their write-back
  await db.raw('CHECKPOINT').catch(() => log('filler: CHECKPOINT not allowed for this role; timing right after the fill'));
  const t1 = Date.now();
  try {
    execFileSync('sync'); // and the operating system's dirty pages (a server on this machine)
  } catch {
    // no sync(1): timing right after the checkpoint
  }
  log(`filler: CHECKPOINT and sync done (sync ${((Date.now() - t1) / 1000).toFixed(0)} s)`);
  return rps;
}

