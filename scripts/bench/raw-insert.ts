/**
 * The store's raw write limit: the same records the import bench uploads (bench/cf-data.ts),
 * already parsed, validated and built, inserted into the node's own table (same schema, same
 * indexes, same engine) with the node's knex multi-row insert, 1,000 rows a transaction. Only the
 * transactions are timed. The import and the naive exchange are reported against this rate.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { migrateNode } from '../../node/migrations.js';
import { recordsStore } from '../../node/records-store.js';
import { closeStore, openStore, storeTarget } from './bench-store.js';
import { cfStoredBatches } from './cf-data.js';
import type { BenchResult, Scenario } from './scenario.js';

/** CSV lines of the import bench, and rows of this one: 1,000,000, or 20,000 with --quick. */
export function importLines(quick: boolean): number {
  return quick ? 20_000 : 1_000_000;
}

export const rawInsertScenario: Scenario = {
  name: 'raw-insert',
  async run({ quick, log }): Promise<BenchResult[]> {
    const lines = importLines(quick);
    const dir = mkdtempSync(join(tmpdir(), 'cf-bench-raw-'));
    const target = storeTarget(dir, 'raw');
    const db = await openStore(target);
    try {
      await migrateNode(db);
      log(`${lines.toLocaleString('en-US')} import lines' valid records into node_records on ${target.engine}, 1,000-line transactions`);
      let ns = 0n;
      let rows = 0;
      for await (const batch of cfStoredBatches(lines, 1000)) {
        const t0 = process.hrtime.bigint();
        const ids = await db.transaction((trx) => recordsStore.insertMany(trx, batch));
        ns += process.hrtime.bigint() - t0;
        rows += ids.size;
      }
      if (rows !== lines - Math.floor(lines / 100)) throw new Error(`raw insert stored ${rows} rows`);
      return [
        {
          label: `raw knex multi-row insert (${target.engine})`, key: 'raw_insert_rps', value: rows / (Number(ns) / 1e9), unit: 'rows/s',
          note: `${rows.toLocaleString('en-US')} prebuilt rows of the import's records, recordsStore.insertMany, 1,000 a transaction; one run, rows / time in the transactions`,
        },
      ];
    } finally {
      await closeStore(db, target);
      rmSync(dir, { recursive: true, force: true });
    }
  },
};
