import t from 'tap';
import { engines } from '../helpers/db.js';
import { exampleRecord, validateRecord, type ValidRecord } from '../../protocol/catalog.js';
import { migrateNode, nodeMigrationSource, rollbackNode, NODE_MIGRATIONS_TABLE } from '../../node/migrations.js';
import { recordsStore } from '../../node/records-store.js';
import { toStoredRecord } from '../../node/record-model.js';

function valid(type: string, fields: Record<string, unknown> = {}): ValidRecord {
  const e = exampleRecord(type);
  const r = validateRecord({ ...e, fields: { ...e.fields, ...fields } }, { today: '2026-06-01' });
  if (!r.ok) throw new Error(JSON.stringify(r.errors));
  return r.record;
}

const ctx = { nodeId: '430100', actor: 'user:test', now: '2026-06-01T00:00:00.000Z' };

for (const engine of await engines()) {
  t.test(`records store on ${engine.name}`, async (t) => {
    const { db, close } = await engine.open();
    t.teardown(close);

    await t.test('migrations go up and down, and up again', async (t) => {
      await migrateNode(db);
      t.ok(await db.schema.hasTable('node_records'));
      t.ok(await db.schema.hasTable('node_objections'));
      t.ok(await db.schema.hasTable(NODE_MIGRATIONS_TABLE), 'own bookkeeping table');
      await rollbackNode(db);
      t.notOk(await db.schema.hasTable('node_records'), 'down drops records');
      t.notOk(await db.schema.hasTable('node_objections'), 'down drops objections');
      await migrateNode(db);
      await migrateNode(db);
      t.ok(await db.schema.hasTable('node_records'), 'latest twice is a no-op');
    });

    await t.test('multi-row insert is idempotent on the natural key', async (t) => {
      const a = toStoredRecord(valid('CF', { decisionNo: 'S-1' }), ctx);
      const b = toStoredRecord(valid('CF', { decisionNo: 'S-2' }), ctx);
      const ins = await recordsStore.insertMany(db, [a, b]);
      t.same([...ins].sort(), [a.id, b.id].sort());
      const a2 = toStoredRecord(valid('CF', { decisionNo: 'S-1' }), ctx);
      const c = toStoredRecord(valid('CF', { decisionNo: 'S-3' }), ctx);
      const c2 = toStoredRecord(valid('CF', { decisionNo: 'S-3' }), ctx);
      const again = await recordsStore.insertMany(db, [a2, c, c2]);
      t.same([...again], [c.id], 'only the new key is inserted, once, even when repeated in one batch');
      const ids = await recordsStore.idsByNaturalKey(db, ctx.nodeId, [a2.naturalKey]);
      t.equal(ids.get(a2.naturalKey)?.id, a.id, 'the duplicate maps to the stored id');
      t.same(await recordsStore.insertMany(db, []), new Set());
    });

    await t.test('stored rows round-trip, with the disclosure window', async (t) => {
      const r = toStoredRecord(valid('CF', { decisionNo: 'S-10', severity: 'ordinary', decisionDate: '2026-04-15' }), ctx);
      await recordsStore.insertMany(db, [r]);
      const back = await recordsStore.findById(db, r.id);
      t.same(back, r);
      t.equal(back?.repairFrom, '2026-07-15');
      t.equal(back?.disclosureEnd, '2027-04-15');
      t.equal(back?.negative, true);
      t.equal(await recordsStore.findById(db, 'nope'), undefined);
      const bySubject = await recordsStore.listBySubject(db, r.subject);
      t.ok(bySubject.some((x) => x.id === r.id));
    });

    await t.test('withdraw keeps the row; objections open and resolve', async (t) => {
      const r = toStoredRecord(valid('CF', { decisionNo: 'S-20' }), ctx);
      await recordsStore.insertMany(db, [r]);
      await recordsStore.insertObjection(db, { id: 'o-1', recordId: r.id, status: 'open', grounds: 'wrong subject', filedBy: 'user:x', filedAt: ctx.now, resolvedBy: null, resolvedAt: null, resolutionNote: null });
      await recordsStore.setDisputed(db, r.id, true, ctx.now);
      t.equal(await recordsStore.countOpenObjections(db, r.id), 1);
      t.equal((await recordsStore.findById(db, r.id))?.disputed, true);
      t.equal(await recordsStore.resolveObjections(db, { recordId: r.id }, 'upheld', 'user:y', ctx.now, null), 1);
      t.equal((await recordsStore.findObjection(db, 'o-1'))?.status, 'upheld');
      t.equal((await recordsStore.listObjections(db, r.id)).length, 1);
      t.equal(await recordsStore.withdraw(db, r.id, 'objection-upheld', ctx.now), true);
      t.equal(await recordsStore.withdraw(db, r.id, 'correction', ctx.now), false, 'a withdrawn record is not withdrawn twice');
      const back = await recordsStore.findById(db, r.id);
      t.equal(back?.status, 'withdrawn');
      t.equal(back?.withdrawnReason, 'objection-upheld');
      const counts = await recordsStore.countByStatus(db);
      t.ok(counts.withdrawn! >= 1 && counts.active! >= 1);
    });

    await t.test('findExpired lists active negative records past their window only', async (t) => {
      const old = toStoredRecord(valid('CF', { decisionNo: 'S-30', severity: 'minor', decisionDate: '2026-04-01' }), ctx);
      const positive = toStoredRecord(valid('XK', { decisionNo: 'S-31' }), ctx);
      await recordsStore.insertMany(db, [old, positive]);
      const due = await recordsStore.findExpired(db, '2026-07-02', 1000);
      t.ok(due.some((r) => r.id === old.id), 'minor record from 2026-04-01 ended 2026-07-01');
      t.notOk(due.some((r) => r.id === positive.id));
      t.notOk((await recordsStore.findExpired(db, '2026-07-01', 1000)).some((r) => r.id === old.id), 'still disclosed on its last day');
    });

    await t.test('migration 003 keeps existing records and goes down again while keys are single', async (t) => {
      const cfg = { migrationSource: nodeMigrationSource, tableName: NODE_MIGRATIONS_TABLE };
      await rollbackNode(db);
      await db.migrate.up({ ...cfg, name: '001_records' });
      await db.migrate.up({ ...cfg, name: '002_exchange' });
      const a = toStoredRecord(valid('CF', { decisionNo: 'M-1' }), ctx);
      const received = toStoredRecord(valid('CF', { decisionNo: 'M-2' }), { ...ctx, nodeId: '430700' });
      const rowOf = (r: typeof a) => ({ id: r.id, type: r.type, class: r.classification, subject: r.subject, natural_key: r.naturalKey, fields: JSON.stringify(r.fields), negative: r.negative, decision_date: r.decisionDate, repair_from: r.repairFrom, disclosure_end: r.disclosureEnd, source_node: r.sourceNode, created_by: r.createdBy, created_at: r.createdAt, updated_at: r.updatedAt });
      for (const r of [a, received]) await db('node_records').insert(rowOf(r));
      await migrateNode(db);
      t.same(await recordsStore.findById(db, a.id), { ...a, catalogVersion: '2026.1' }, 'existing rows kept as they were, read as catalog 2026.1 (migration 004)');
      const local2 = toStoredRecord(valid('CF', { decisionNo: 'M-2' }), ctx);
      t.same([...(await recordsStore.insertMany(db, [local2]))], [local2.id], 'a local record with a received record\'s key now goes in');
      t.equal((await recordsStore.findById(db, local2.id))?.catalogVersion, '2027.1', 'new rows name their catalog version');
      await db.migrate.down({ ...cfg, name: '004_records_catalog_version' });
      t.equal((await db('node_records').where({ id: a.id }).first()).catalog_version, undefined, '004 down drops the column');
      await t.rejects(db.migrate.down({ ...cfg, name: '003_records_source_key' }), { message: /1 natural key\(s\) are held by more than one source node/ }, 'down refuses to fold two sources back into one key');
      await db('node_records').where({ id: received.id }).update({ natural_key: 'moved' });
      await db.migrate.down({ ...cfg, name: '003_records_source_key' }); // by name: later migrations (008 …) stay
      await t.rejects(db('node_records').insert(rowOf(toStoredRecord(valid('CF', { decisionNo: 'M-1' }), { ...ctx, nodeId: '430600' }))), 'after down: one key space again');
      await migrateNode(db);
    });

    await t.test('the natural key is unique per source node: received records never collide with local ones', async (t) => {
      const local = toStoredRecord(valid('CF', { decisionNo: 'S-40' }), ctx);
      const fromA = { ...toStoredRecord(valid('CF', { decisionNo: 'S-40' }), { ...ctx, nodeId: '430700' }) };
      const fromB = { ...toStoredRecord(valid('CF', { decisionNo: 'S-40' }), { ...ctx, nodeId: '430600' }) };
      const fromA2 = toStoredRecord(valid('CF', { decisionNo: 'S-40' }), { ...ctx, nodeId: '430700' });
      t.same([...(await recordsStore.insertMany(db, [fromA, fromB]))].sort(), [fromA.id, fromB.id].sort(), 'two senders, one key: both kept');
      t.same([...(await recordsStore.insertMany(db, [local, fromA2]))], [local.id], 'the local record is stored; the sender\'s second claim is not');
      const ids = await recordsStore.idsByNaturalKey(db, ctx.nodeId, [local.naturalKey]);
      t.same([...ids], [[local.naturalKey, { id: local.id, classification: 'public' }]], 'duplicates are looked up among this node\'s records only');
      t.same((await recordsStore.idsByNaturalKey(db, '430700', [local.naturalKey])).get(local.naturalKey)?.id, fromA.id);
    });
  });
}
