/**
 * Several hub processes starting together on a new PostgreSQL database (issue 22): each runs the
 * migrations at start, and they raced in knex's migrator ("relation knex_migrations_audit_lock
 * already exists": the loser exited, seen in test/e2e/multihub and the sim). migrateParts now holds
 * a PostgreSQL advisory lock while it migrates. Four "processes" (separate pools) on one fresh schema, five times.
 */
import t from 'tap';
import { randomBytes } from 'node:crypto';
import { connect } from '../../audit/knex-connect.js';
import { migrateParts, migrationState } from '../../audit/migration-plan.js';
import { HUB_SCHEMA } from '../../hub/migrations.js';
import { PG_URL, pgProblem } from '../helpers/db.js';

const problem = await pgProblem();
if (problem !== null) {
  if (process.env.CI === 'true') t.fail(`PostgreSQL unreachable under CI: ${problem}`);
  else t.comment(`SKIPPED: PostgreSQL unreachable: ${problem}`);
} else {
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
