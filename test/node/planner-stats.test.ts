/**
 * The node keeps PostgreSQL's planner statistics of its bulk tables current as imports and the
 * distribution feed add records (node/planner-stats.ts, server/planner-stats.ts). Without them the
 * import's look-up of 500 natural keys by (source_node, natural_key) scanned every record of the
 * node: 122 ms instead of 3.3 ms at 300,000 records (docs/scale.md "Planner statistics"), on a
 * server whose autovacuum is off or behind. reltuples of node_records is −1 until the table is
 * first analysed (PostgreSQL ≥ 14), so it tells whether the node ran ANALYZE.
 */
import t from 'tap';
import { NODE_BULK_TABLES } from '../../node/planner-stats.js';
import { pgEngine, pgReady, sqliteEngine } from '../helpers/db.js';
import { nodeFixture, record } from './app-fixture.js';

if (await pgReady(t)) {
  t.test('the node analyses its bulk tables once imports have added minRows records, not before', async (t) => {
    const f = await nodeFixture(t, { engine: pgEngine, plannerStats: { minRows: 50 } });
    const stats = f.app.nodeCtx.plannerStats;
    const admin = await f.auth('officer', 'internal');
    const reltuples = async () => Number(((await f.db.raw(`select reltuples from pg_class where oid = to_regclass('node_records')`)) as { rows: { reltuples: number }[] }).rows[0]!.reltuples);
    let n = 0;
    const importLines = async (count: number) => {
      const nd = Array.from({ length: count }, () => JSON.stringify(record('XK', { decisionNo: `PS-${++n}` }))).join('\n');
      const r = await f.app.inject({ method: 'POST', url: '/v1/records/import', headers: { ...admin, 'content-type': 'application/x-ndjson' }, payload: nd });
      t.equal(r.json().accepted, count, r.body.slice(0, 200));
    };
    t.equal(await reltuples(), -1, 'a new table has never been analysed');
    await importLines(30);
    await stats.settled();
    t.equal(stats.runs, 0, '30 records: below the threshold');
    t.equal(await reltuples(), -1);
    await importLines(30);
    await stats.settled();
    t.equal(stats.runs, 1, '60 records: one ANALYZE');
    t.equal(await reltuples(), 60, 'the planner now knows node_records holds 60 rows');
    const analysed = (await f.db('pg_stat_user_tables').whereIn('relname', [...NODE_BULK_TABLES]).whereNotNull('last_analyze').pluck('relname')) as string[];
    t.same(analysed.sort(), [...NODE_BULK_TABLES].sort(), 'every bulk table of the node was analysed');
    await importLines(10);
    await stats.settled();
    t.equal(stats.runs, 1, 'the next one waits for another minRows (or 10 % of the table)');
  });
}

t.test('on SQLite the node runs no ANALYZE of its own (its plans use the keys)', async (t) => {
  const f = await nodeFixture(t, { engine: sqliteEngine, plannerStats: { minRows: 1 } });
  const admin = await f.auth('officer', 'internal');
  const r = await f.app.inject({ method: 'POST', url: '/v1/records/import', headers: { ...admin, 'content-type': 'application/x-ndjson' }, payload: JSON.stringify(record('XK', { decisionNo: 'S-1' })) });
  t.equal(r.json().accepted, 1);
  await f.app.nodeCtx.plannerStats.settled();
  t.equal(f.app.nodeCtx.plannerStats.runs, 0);
});
