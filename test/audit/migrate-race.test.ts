/**
 * Several hub processes starting together on a new PostgreSQL database (issue 22): each runs the
 * migrations at start, and they raced in knex's migrator ("relation knex_migrations_audit_lock
 * already exists": the loser exited, seen in test/e2e/multihub and the sim). migrateParts now holds
 * a PostgreSQL advisory lock while it migrates. Four "processes" (separate pools) on one fresh schema, five times.
 */
import t from 'tap';
import { randomBytes } from 'node:crypto';
import { connect } from '../../audit/knex-connect.js';
import { MIGRATE_LOCK_KEY, migrateParts, migrationState } from '../../audit/migration-plan.js';
import { HUB_SCHEMA } from '../../hub/migrations.js';
import { PG_URL, pgReady } from '../helpers/db.js';

const pg = await pgReady(t);

if (pg) {
  t.test('hub processes migrating one new store at the same time all succeed', async (t) => {
    for (let round = 0; round < 5; round++) {
      const schema = `t_mig_${process.pid}_${randomBytes(3).toString('hex')}`;
      const dbs = [];
      for (let i = 0; i < 4; i++) dbs.push(await connect(PG_URL, { schema, poolMax: 3 })); // connect() creates the schema: one after the other
      try {
        const results = await Promise.allSettled(dbs.map((db) => migrateParts(db, HUB_SCHEMA, 'test')));
        t.same(results.map((r) => (r.status === 'rejected' ? String((r.reason as Error).message) : 'ok')), ['ok', 'ok', 'ok', 'ok'], `round ${round}: every process migrated`);
        const state = await migrationState(dbs[0]!, HUB_SCHEMA);
        t.same(state.pending, [], 'nothing left pending');
      } finally {
        await dbs[0]!.raw('DROP SCHEMA IF EXISTS ?? CASCADE', [schema]);
        for (const db of dbs) await db.destroy();
      }
    }
  });
}

if (pg) {
  t.test("a migration longer than the sessions' lock timeout does not make the next process give up", async (t) => {
    const schema = `t_mig_${process.pid}_${randomBytes(3).toString('hex')}`;
    // sessions with a 200 ms lock timeout: before, a process waiting for another's migration failed with "canceling statement due to lock timeout"
    const a = await connect(PG_URL, { schema, poolMax: 3, timeouts: { lockMs: 200 } });
    const b = await connect(PG_URL, { schema, poolMax: 3, timeouts: { lockMs: 200 } });
    const holder = await connect(PG_URL, { schema, poolMax: 1 });
    try {
      let waiting!: Promise<PromiseSettledResult<unknown>[]>;
      let waited = false;
      await holder.transaction(async (trx) => {
        await trx.raw('select pg_advisory_xact_lock(?, hashtext(current_schema()))', [MIGRATE_LOCK_KEY]);
        waiting = Promise.allSettled([migrateParts(a, HUB_SCHEMA, 'test'), migrateParts(b, HUB_SCHEMA, 'test')]);
        // held until both have waited for it well past their lock timeout (PostgreSQL's own view; at most 10 s)
        for (let i = 0; i < 100; i++) {
          await trx.raw('select pg_stat_clear_snapshot()'); // pg_stat_activity is otherwise read once per transaction
          const r = await trx.raw("select count(*) as n from pg_stat_activity where wait_event = 'advisory' and clock_timestamp() - query_start > interval '600 milliseconds'");
          if (Number((r.rows[0] as { n: string }).n) >= 2) {
            waited = true;
            break;
          }
          await new Promise((res) => setTimeout(res, 100));
        }
      });
      const results = await waiting;
      t.ok(waited, 'both waited on the lock for longer than their lock timeout');
      t.same(results.map((r) => (r.status === 'rejected' ? String((r.reason as Error).message) : 'ok')), ['ok', 'ok'], 'both migrated once the lock was free');
    } finally {
      await a.raw('DROP SCHEMA IF EXISTS ?? CASCADE', [schema]);
      for (const db of [a, b, holder]) await db.destroy();
    }
  });
}
