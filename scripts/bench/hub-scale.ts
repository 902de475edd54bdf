/**
 * The hub's record store at province scale on PostgreSQL (issue 22 item 3): `hub_records` made by the
 * hub's own migrations in a throwaway schema, with encryption at rest (a fresh keyring), filled to
 * 10,000,000 rows (200,000 with --quick; `BENCH_HUB_RECORDS` sets it) and measured:
 *  - the province query's scan, `recordsStore.bySubject` (blind index, rows opened), over subjects
 *    that hold 3 sealed records each among the filler: p50/p99 of 2,000 lookups;
 *  - the same on a copy partitioned by HASH (source_node) in 16 partitions (indexes built after the
 *    copy), to decide whether partitioning pays (a subject lookup then probes every partition);
 *  - an upsert of 1,000 sealed records (one batch's write) into the full table and into the empty one;
 *  - the table's size with its indexes.
 * Filler rows are written by SQL (generate_series) with subjects no query asks for, so only the real
 * records are ever opened. Runs only with PostgreSQL (`BENCH_PG_URL`, or a postgres:// DATABASE_URL);
 * otherwise, or without `BENCH_HUB_RECORDS` (it is opt-in), the scenario is reported unavailable.
 * Needs ≈ 16 GB of disk at 10,000,000 rows.
 */
import type { Knex } from 'knex';
import { connect } from '../../audit/knex-connect.js';
import { migrateHub } from '../../hub/migrations.js';
import { recordsStore, type HubRecordRow } from '../../hub/records-store.js';
import { attachKeyring } from '../../server/at-rest-store.js';
import { keyringOf, newAtRestKey } from '../../protocol/at-rest.js';
import { randomUscc, seededRng } from '../../protocol/identifiers.js';
import { median, type BenchResult, type Scenario } from './scenario.js';
import { benchPgUrl, pgUnavailable } from './bench-pg.js';
import { percentile, timeEach } from './exchange.js';
import { fill, unbounded } from './hub-fill.js';

/** `count` sealed records of a real shape: 3 per subject, from 136 source nodes. */
function realRows(count: number, rng: () => number): { rows: HubRecordRow[]; subjects: string[] } {
  const subjects: string[] = [];
  const rows: HubRecordRow[] = [];
  const now = new Date().toISOString();
  for (let i = 0; i < count; i++) {
    if (i % 3 === 0) subjects.push(randomUscc(rng));
    const n = String(i).padStart(12, '0');
    rows.push({
      id: `0190f3c2-7d1e-7000-8000-${n}`, sourceNode: String(430100 + (i % 136) * 100), type: 'penalty', classification: 'public',
      subject: subjects.at(-1)!, fields: { 行政相对人名称: `某某公司${i}`, 处罚事由: '未按规定公示年度报告', 处罚决定日期: '2026-03-01', 罚款金额: 5000 },
      catalogVersion: '2026.1', createdAt: now, updatedAt: now, receivedAt: now, batchId: `0190f3c2-7d1e-7000-8001-${n}`, version: 1,
    });
  }
  return { rows, subjects };
}

export const hubScaleScenario: Scenario = {
  name: 'hub-scale',
  // opt-in: the 10,000,000-row run takes ≈ 20 minutes and ≈ 16 GB of disk
  unavailable: () => pgUnavailable() ?? (process.env.BENCH_HUB_RECORDS ? undefined : 'opt-in: set BENCH_HUB_RECORDS=10000000 (≈ 20 min, 16 GB of disk) or a smaller count'),
  async run({ quick, log }): Promise<BenchResult[]> {
    const url = benchPgUrl()!;
    const total = Number(process.env.BENCH_HUB_RECORDS) || (quick ? 200_000 : 10_000_000);
    const stamp = `${process.pid}_${Date.now()}`;
    const plain = `bench_hubscale_${stamp}`;
    const parted = `bench_hubscale_part_${stamp}`;
    const ring = keyringOf([newAtRestKey('k1')], 'k1');
    const open = async (schema: string) => {
      const db = await connect(url, { schema });
      attachKeyring(db, ring);
      return db;
    };
    const db = await open(plain);
    let pdb: Knex | undefined;
    try {
      await migrateHub(db);
      const real = realRows(6_000, seededRng(22));
      const batch = (k: number) => real.rows.slice(k * 1000, (k + 1) * 1000);
      const emptyUpserts = await timeEach(3, (k) => db.transaction((trx) => recordsStore.upsert(trx, batch(k))));
      log(`hub-scale: filling ${plain}.hub_records with ${total.toLocaleString('en-US')} rows`);
      const fillRps = await fill(db, plain, total, log);
      const fullUpserts = await timeEach(3, (k) => db.transaction((trx) => recordsStore.upsert(trx, batch(k + 3))));
      const lookups = async (d: Knex) => {
        for (let i = 0; i < 100; i++) await recordsStore.bySubject(d, real.subjects[i % real.subjects.length]!);
        return timeEach(2000, async (i) => {
          const got = await recordsStore.bySubject(d, real.subjects[(i * 7919) % real.subjects.length]!);
          if (got.length !== 3) throw new Error(`bySubject found ${got.length} records, expected 3`);
        });
      };
      const plainTimes = await lookups(db);
      log(`hub-scale: lookups p50 ${median(plainTimes).toFixed(2)} ms, p99 ${percentile(plainTimes, 99).toFixed(2)} ms (plain)`);
      const size = Number(((await db.raw('SELECT pg_total_relation_size(?) AS s', [`${plain}.hub_records`])).rows[0] as { s: string }).s) / 2 ** 20;

      log(`hub-scale: copying into ${parted}.hub_records, PARTITION BY HASH (source_node), 16 partitions; indexes after the copy`);
      await unbounded(db, async (trx) => {
        await trx.raw('CREATE SCHEMA ??', [parted]);
        await trx.raw('CREATE TABLE ??.hub_records (LIKE ??.hub_records INCLUDING DEFAULTS) PARTITION BY HASH (source_node)', [parted, plain]);
        for (let i = 0; i < 16; i++) await trx.raw(`CREATE TABLE ??.?? PARTITION OF ??.hub_records FOR VALUES WITH (MODULUS 16, REMAINDER ${i})`, [parted, `hub_records_p${i}`, parted]);
        await trx.raw('INSERT INTO ??.hub_records SELECT * FROM ??.hub_records', [parted, plain]);
        await trx.raw('ALTER TABLE ??.hub_records ADD PRIMARY KEY (source_node, id)', [parted]);
        await trx.raw('CREATE INDEX ON ??.hub_records (subject)', [parted]);
        await trx.raw('ANALYZE ??.hub_records', [parted]);
      });
      pdb = await open(parted);
      const partTimes = await lookups(pdb);
      const n = `${total.toLocaleString('en-US')} rows`;
      return [
        { label: `hub store: bySubject p50 (${n}, PostgreSQL)`, key: 'hub_scale_lookup_p50_ms', value: median(plainTimes), unit: 'ms', note: '2,000 lookups of subjects holding 3 sealed records each; blind index, rows opened' },
        { label: 'hub store: bySubject p99', key: 'hub_scale_lookup_p99_ms', value: percentile(plainTimes, 99), unit: 'ms' },
        { label: 'the same, HASH (source_node) partitioned ×16: p50', key: 'hub_scale_part_lookup_p50_ms', value: median(partTimes), unit: 'ms', note: 'a subject lookup probes every partition' },
        { label: 'the same, partitioned: p99', key: 'hub_scale_part_lookup_p99_ms', value: percentile(partTimes, 99), unit: 'ms' },
        { label: 'upsert of a 1,000-record batch into the full table', key: 'hub_scale_upsert_ms', value: median(fullUpserts), unit: 'ms', note: `median of 3; ${median(emptyUpserts).toFixed(1)} ms into the empty table` },
        { label: 'hub_records with its indexes', key: 'hub_scale_size_mb', value: size, unit: 'MiB', note: n },
        { label: 'filler rows written by SQL', key: 'hub_scale_fill_rps', value: fillRps, unit: 'rows/s', note: 'INSERT … SELECT generate_series, 1,000,000 a transaction (setup, not an intake figure)' },
      ];
    } finally {
      if (pdb) await pdb.destroy();
      try {
        await db.raw('DROP SCHEMA IF EXISTS ?? CASCADE', [plain]);
        await db.raw('DROP SCHEMA IF EXISTS ?? CASCADE', [parted]);
      } finally {
        await db.destroy();
      }
    }
  },
};
