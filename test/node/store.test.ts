import t from 'tap';
import { engines } from '../helpers/db.js';
import { exampleRecord, validateRecord, type ValidRecord } from '../../protocol/catalog.js';
import { migrateNode, rollbackNode, NODE_MIGRATIONS_TABLE } from '../../node/migrations.js';
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
      const ids = await recordsStore.idsByNaturalKey(db, [a2.naturalKey]);
      t.equal(ids.get(a2.naturalKey), a.id, 'the duplicate maps to the stored id');
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
  });
}
