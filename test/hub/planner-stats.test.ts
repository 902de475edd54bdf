/**
 * The hub keeps PostgreSQL's planner statistics current as batches add records (hub/planner-stats.ts):
 * without them PostgreSQL looked a batch's ids up by scanning every record of the node (377 ms
 * instead of 9 ms per batch at 535,000 records, and growing) when autovacuum was off or behind.
 * reltuples of hub_records is −1 until the table is first analysed (PostgreSQL ≥ 14), so it tells
 * whether the hub ran ANALYZE.
 */
import t, { type Test as Tap } from 'tap';
import { BULK_TABLES, PLANNER_STATS_LOCK_KEY, plannerStats } from '../../hub/planner-stats.js';
import { pgEngine, pgReady } from '../helpers/db.js';
import { Writable } from 'node:stream';
import type { ReceiptPayload } from '../../protocol/exchange.js';
import { hubFixture, wire, type HubFixture, type TestNode } from './fixture.js';

const push = async (f: HubFixture, node: TestNode, n: number) => {
  const res = await f.call(node.agent, 'POST', '/v1/batches', await f.sealFrom(node, 'batch', { records: Array.from({ length: n }, () => wire('XK')), withdrawals: [] }));
  if (res.status !== 200) throw new Error(`batch refused: ${res.json.code}`);
  return (await f.openAs<ReceiptPayload>(node, res.json)).payload;
};

if (await pgReady(t)) {
  const reltuples = async (f: HubFixture) => {
    const r = (await f.hub.app.hubCtx.db.raw(`select reltuples from pg_class where oid = to_regclass('hub_records')`)) as { rows: { reltuples: number }[] };
    return Number(r.rows[0]!.reltuples);
  };

  t.test('the hub analyses its bulk tables once batches have added minRows records, not before', async (t) => {
    const lines: string[] = [];
    const logStream = new Writable({
      write(chunk: Buffer, _enc, done) {
        lines.push(...chunk.toString('utf8').split('\n').filter((l) => /ANALYZE/.test(l)));
        done();
      },
    });
    const f = await hubFixture(t, { engine: pgEngine, plannerStats: { minRows: 50 }, config: { logLevel: 'debug' }, logStream });
    const stats = f.hub.app.hubCtx.plannerStats!;
    const node = await f.enrol('430100', 3);
    t.equal(await reltuples(f), -1, 'a new table has never been analysed');
    t.equal((await push(f, node, 30)).accepted.length, 30);
    await stats.settled();
    t.equal(stats.runs, 0, '30 records: below the threshold');
    t.equal(await reltuples(f), -1);
    await push(f, node, 30);
    await stats.settled();
    t.equal(stats.runs, 1, `60 records: one ANALYZE (the hub's log: ${lines.join(' | ')})`);
    t.match(lines.map((l) => JSON.parse(l) as object), [{ outcome: 'analysed', tableRows: 60 }], 'logged at debug');
    t.equal(await reltuples(f), 60, 'the planner now knows the table holds 60 rows');
    await push(f, node, 10);
    await stats.settled();
    t.equal(stats.runs, 1, 'the next one waits for another minRows (or 10 % of the table)');
  });

  /** A schema of its own; `tables` makes empty hub bulk tables in it (else ANALYZE fails: 42P01). */
  const scratch = async (t: Tap, tables: boolean) => {
    const { db, close } = await pgEngine.open();
    t.teardown(close);
    if (tables) for (const name of BULK_TABLES) await db.raw(`create table ${name} (id text primary key)`);
    return db;
  };
  const logger = () => {
    const warned: object[] = [];
    const debug: Array<Record<string, unknown>> = [];
    return { warned, debug, log: { warn: (o: object) => warned.push(o), debug: (o: object) => debug.push(o as Record<string, unknown>) } };
  };

  t.test('an ANALYZE that fails is logged with its code and tried again only after minRows more records', async (t) => {
    const db = await scratch(t, false);
    const l = logger();
    const stats = plannerStats(db, { minRows: 5, log: l.log });
    stats.grew(4);
    stats.grew(0);
    await stats.settled();
    t.same(l.warned, [], 'below the threshold nothing runs');
    stats.grew(1);
    await stats.settled();
    t.same(l.warned, [{ code: '42P01' }], 'undefined table: warned with the database code, no personal data');
    t.equal(stats.runs, 0);
    stats.grew(4);
    await stats.settled();
    t.equal(l.warned.length, 1, 'no retry at every batch after a failure');
    stats.grew(1);
    await stats.settled();
    t.equal(l.warned.length, 2, 'tried again after another minRows');
  });

  t.test('another hub process analysing (its advisory lock held): skipped, counted from zero again', async (t) => {
    const db = await scratch(t, true);
    const other = await db.client.acquireConnection();
    t.teardown(() => db.client.releaseConnection(other));
    const hold = (sql: string) => new Promise<void>((resolve, reject) => other.query(sql, [PLANNER_STATS_LOCK_KEY], (e: Error | null) => (e ? reject(e) : resolve())));
    await hold('select pg_advisory_lock($1, hashtext(current_schema()))');
    const l = logger();
    const stats = plannerStats(db, { minRows: 5, log: l.log });
    stats.grew(5);
    await stats.settled();
    t.equal(stats.runs, 0);
    t.match(l.debug, [{ outcome: 'skipped' }]);
    stats.grew(4);
    await stats.settled();
    t.equal(l.debug.length, 1, 'the skipped records no longer count');
    await hold('select pg_advisory_unlock($1, hashtext(current_schema()))');
    stats.grew(1);
    await stats.settled();
    t.equal(stats.runs, 1, 'the lock free: analysed');
    t.match(l.debug[1], { outcome: 'analysed' });
  });

  t.test('close() cancels an ANALYZE waiting for its lock instead of waiting for it', async (t) => {
    const db = await scratch(t, true);
    const other = await db.client.acquireConnection();
    t.teardown(() => db.client.releaseConnection(other));
    const run = (sql: string) => new Promise<void>((resolve, reject) => other.query(sql, (e: Error | null) => (e ? reject(e) : resolve())));
    // a conflicting lock (as a manual ANALYZE or autovacuum would hold) keeps the ANALYZE waiting
    await run('begin');
    await run('lock table hub_records in share update exclusive mode');
    const l = logger();
    const stats = plannerStats(db, { minRows: 1, lockTimeoutMs: 600_000, log: l.log }); // waits for close(), not for its lock timeout
    stats.grew(1);
    // wait (on the database, not the clock) until the ANALYZE is queued behind that lock
    const waiting = async () =>
      Number(((await db.raw(`select count(*)::int as n from pg_locks where not granted and relation = to_regclass('hub_records') and database = (select oid from pg_database where datname = current_database())`)) as { rows: { n: number }[] }).rows[0]!.n);
    let ended = false;
    void stats.settled().then(() => (ended = true)); // an ANALYZE that ended without waiting fails the assertions below instead of hanging here
    while (!ended && (await waiting()) === 0) await new Promise((r) => setImmediate(r));
    await stats.close();
    await run('rollback');
    t.equal(stats.runs, 0);
    t.same(l.warned, [], 'no warning for an ANALYZE ended by close()');
    t.match(l.debug, [{ code: '57014' }], 'cancelled (query_canceled), not timed out on its lock (55P03)');
    stats.grew(10);
    await stats.settled();
    t.equal(l.debug.length, 1, 'closed: later growth starts none');
  });
}

t.test('SQLite: nothing to do', async (t) => {
  const f = await hubFixture(t);
  const node = await f.enrol('430100', 3);
  await push(f, node, 20);
  t.equal(f.hub.app.hubCtx.plannerStats!.runs, 0);
});
