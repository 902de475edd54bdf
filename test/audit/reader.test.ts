/**
 * readerFor(): a second SQLite connection for reads that must not queue behind the one writing
 * connection (the hub's per-request client check). It reads the last commit while a write
 * transaction is open, refuses writes, and is `db` itself on PostgreSQL.
 */
import t from 'tap';
import { engineOf, readerFor } from '../../audit/knex-connect.js';
import { engines } from '../helpers/db.js';

for (const engine of await engines()) {
  t.test(`${engine.name}: the reader`, async (t) => {
    const store = await engine.open();
    t.teardown(() => store.close());
    const { db } = store;
    await db.schema.createTable('kv', (tb) => {
      tb.string('k').primary();
      tb.string('v');
    });
    await db('kv').insert({ k: 'a', v: 'committed' });
    const { reader, close } = await readerFor(db);
    t.teardown(close);
    if (engineOf(db) === 'pg') {
      t.equal(reader, db, 'PostgreSQL: the pool itself');
      return;
    }
    t.not(reader, db, 'SQLite: a connection of its own');
    let release!: () => void;
    let writing!: () => void;
    const isWriting = new Promise<void>((r) => (writing = r));
    const tx = db.transaction(async (trx) => {
      await trx('kv').where({ k: 'a' }).update({ v: 'uncommitted' });
      writing();
      await new Promise<void>((r) => (release = r));
    });
    await isWriting;
    const seen = await Promise.race([
      reader('kv').where({ k: 'a' }).first().then((r: { v: string }) => r.v),
      new Promise((r) => setTimeout(() => r('blocked'), 10_000).unref()),
    ]);
    t.equal(seen, 'committed', 'reads the last commit while the writer holds an open write transaction');
    release();
    await tx;
    t.equal((await reader('kv').where({ k: 'a' }).first()).v, 'uncommitted', 'sees the commit once it is made');
    await t.rejects(reader('kv').insert({ k: 'b', v: 'x' }), /readonly|query_only|attempt to write/i, 'refuses writes');
  });
}

t.test('in-memory SQLite: the store itself (a second connection would open another database)', async (t) => {
  const { connect } = await import('../../audit/knex-connect.js');
  const db = await connect(':memory:');
  t.teardown(() => db.destroy());
  t.equal((await readerFor(db)).reader, db);
});
