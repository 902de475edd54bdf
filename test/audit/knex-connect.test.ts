/**
 * Issue 13 item 4: every PostgreSQL session of hub and node runs with a statement, lock and
 * idle-in-transaction timeout (audit/knex-connect.ts), so a lock cycle the database cannot see
 * (it involves the in-process audit lock) fails instead of wedging the store; SQLite has a busy timeout.
 */
import t from 'tap';
import { randomBytes } from 'node:crypto';
import { connect, PG_TIMEOUTS } from '../../audit/knex-connect.js';
import { PG_URL, pgProblem, sqliteEngine } from '../helpers/db.js';

t.test('SQLite: a busy timeout', async (t) => {
  const s = await sqliteEngine.open();
  t.teardown(() => s.close());
  const [row] = (await s.db.raw('PRAGMA busy_timeout')) as { timeout: number }[];
  t.equal(Number(row!.timeout), 5000);
});

const problem = await pgProblem();
t.test('PostgreSQL: statement, lock and idle-in-transaction timeouts on every session', { skip: problem ?? false }, async (t) => {
  const schema = `t_${process.pid}_${randomBytes(4).toString('hex')}`;
  const db = await connect(PG_URL, { schema, poolMax: 2 });
  t.teardown(async () => {
    await db.raw('DROP SCHEMA IF EXISTS ?? CASCADE', [schema]);
    await db.destroy();
  });
  const show = async (name: string) => ((await db.raw(`SHOW ${name}`)) as { rows: Record<string, string>[] }).rows[0]![name];
  t.equal(await show('statement_timeout'), `${PG_TIMEOUTS.statementMs / 1000}s`);
  t.equal(await show('lock_timeout'), `${PG_TIMEOUTS.lockMs / 1000}s`);
  t.equal(await show('idle_in_transaction_session_timeout'), `${PG_TIMEOUTS.idleInTransactionMs / 60_000}min`);

  // a lock wait beyond lock_timeout fails with lock_not_available (55P03) and releases what it held
  const short = await connect(PG_URL, { schema, poolMax: 1, timeouts: { lockMs: 200 } });
  t.teardown(() => short.destroy());
  await db.schema.createTable('lock_probe', (tb) => {
    tb.integer('id').primary();
    tb.integer('n');
  });
  await db('lock_probe').insert({ id: 1, n: 0 });
  let release!: () => void;
  const held = new Promise<void>((r) => (release = r));
  let locked!: () => void;
  const isLocked = new Promise<void>((r) => (locked = r));
  const holder = db.transaction(async (trx) => {
    await trx('lock_probe').where({ id: 1 }).update({ n: 1 });
    locked();
    await held;
  });
  await isLocked;
  const waiter = await short.transaction((trx) => trx('lock_probe').where({ id: 1 }).update({ n: 2 })).then(() => null, (e: { code?: string }) => e.code);
  release();
  await holder;
  t.equal(waiter, '55P03', 'the waiting update is cancelled by lock_timeout');
  t.equal(Number((await db('lock_probe').where({ id: 1 }).first()).n), 1);

  // a session left idle inside a transaction is ended by the server (the transaction rolls back)
  const idle = await connect(PG_URL, { schema, poolMax: 1, timeouts: { idleInTransactionMs: 200 } });
  t.teardown(() => idle.destroy());
  const code = await idle
    .transaction(async (trx) => {
      await trx('lock_probe').where({ id: 1 }).update({ n: 3 });
      const pid = Number(((await trx.raw('select pg_backend_pid() as pid')) as { rows: { pid: number }[] }).rows[0]!.pid);
      // idle in transaction until the server has ended the session
      while (Number(((await db.raw('select count(*)::int as n from pg_stat_activity where pid = ?', [pid])) as { rows: { n: number }[] }).rows[0]!.n) > 0) {
        await new Promise((r) => setTimeout(r, 50));
      }
      await trx('lock_probe').where({ id: 1 }).update({ n: 4 });
    })
    .then(() => null, (e: { code?: string; message?: string }) => e.code ?? e.message);
  t.ok(code !== null, `the idle transaction failed (${code})`);
  t.equal(Number((await db('lock_probe').where({ id: 1 }).first()).n), 1, 'and its write was rolled back');
});
