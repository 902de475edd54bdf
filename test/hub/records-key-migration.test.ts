/**
 * Migration 002 on both engines: hub_records keyed by (source_node, id). A hub holding rows from
 * 001 keeps them; afterwards two nodes may hold the same id; down refuses while they do, and
 * rolls back once they do not.
 */
import t from 'tap';
import { HUB_MIGRATIONS_TABLE, hubMigrationSource } from '../../hub/migrations.js';
import { engines } from '../helpers/db.js';

const config = { migrationSource: hubMigrationSource, tableName: HUB_MIGRATIONS_TABLE };
const row = (sourceNode: string, id: string) => ({
  id, source_node: sourceNode, type: 'XK', class: 'public', subject: '91430102000000A1BX', fields: '{}', status: 'active',
  created_at: '2026-12-01T00:00:00.000Z', updated_at: '2026-12-01T00:00:00.000Z', received_at: '2026-12-01T00:00:00.000Z', batch_id: '01a23b41-997b-7059-866b-41c69a2f3a0c',
});
const UNIQUE = /UNIQUE constraint failed|duplicate key value violates unique constraint/;
const ID = '01a23b41-997b-7059-866b-41c69a2f3a0d';

for (const engine of await engines()) {
  t.test(`003_hub_records_by_node up and down (${engine.name})`, async (t) => {
    const store = await engine.open();
    t.teardown(() => store.close());
    const db = store.db;
    await db.migrate.up({ ...config, name: '001_hub' });
    await db('hub_records').insert(row('430181', ID));
    await t.rejects(db('hub_records').insert(row('430700', ID)), UNIQUE, '001: one id, one node');
    await db.migrate.up({ ...config, name: '002_hub_tokens_cancelled' });
    await db.migrate.up({ ...config, name: '003_hub_records_by_node' });
    t.equal((await db('hub_records').where({ id: ID }).first()).source_node, '430181', 'rows kept');
    await db('hub_records').insert(row('430700', ID));
    t.equal((await db('hub_records').where({ id: ID })).length, 2, 'two nodes, one id');
    await t.rejects(db('hub_records').insert(row('430700', ID)), UNIQUE, 'still one row per (node, id)');
    await t.rejects(db.migrate.down(config), /record id .* is held by more than one node/, 'down refuses while two nodes hold one id');
    await db('hub_records').where({ source_node: '430700' }).delete();
    await db.migrate.down(config);
    await t.rejects(db('hub_records').insert(row('430700', ID)), UNIQUE, 'keyed by id again');
    await db.migrate.down(config);
    await db.migrate.down(config);
    t.notOk(await db.schema.hasTable('hub_records'));
  });
}
