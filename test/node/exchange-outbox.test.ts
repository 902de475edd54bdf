/**
 * The outbox on both engines: rows written by the record hooks in the record's own transaction
 * (and rolled back with it), only for own records of classes the grade may send, never for
 * records received from other nodes; batches cut by count, by bytes and by age with id + next seq; the
 * backfill of records written before the node was connected.
 */
import t from 'tap';
import { exampleRecord } from '../../protocol/catalog.js';
import type { Classification } from '../../protocol/classification.js';
import { uuidv7 } from '../../protocol/crypto.js';
import { sendableClasses } from '../../node/exchange/outbox-hooks.js';
import { outboxStore, ROW_OVERHEAD } from '../../node/exchange/outbox-store.js';
import { recordsService } from '../../node/records-service.js';
import { emptyHooks } from '../../node/hooks.js';
import { engines } from '../helpers/db.js';
import { codeOf, exchangeSetup } from './exchange-fixture.js';

function rec(type: string, n: number, classification?: Classification) {
  const e = exampleRecord(type);
  return { type, ...(classification ? { classification } : {}), fields: { ...e.fields, decisionNo: `测试〔2026〕${n}号` } };
}

t.test('sendable classes by grade: internal never, restricted from 3', async (t) => {
  t.same(sendableClasses(1), ['public']);
  t.same(sendableClasses(2), ['public', 'shared']);
  t.same(sendableClasses(3), ['public', 'shared', 'restricted']);
  t.same(sendableClasses(4), ['public', 'shared', 'restricted']);
});

for (const engine of await engines()) {
  t.test(`${engine.name}: outbox rows commit with their record; only own, sendable classes`, async (t) => {
    const s = await exchangeSetup(t, { engine, grade: 2 });
    const submitter = s.caller('submitter', 'internal');
    const r = await s.records.create(submitter, [rec('CF', 1), rec('XK', 2, 'shared'), rec('XK', 3, 'restricted'), rec('XK', 4, 'internal')]);
    t.equal(r.accepted, 4);
    const rows = await s.db('node_outbox').orderBy('id');
    t.same(rows.map((x: { record_id: string }) => x.record_id), [r.records[0]!.id, r.records[1]!.id], 'public and shared queued; restricted (grade 2) and internal not');
    t.ok(rows.every((x: { kind: string; batch_id: unknown }) => x.kind === 'record' && x.batch_id === null));

    const again = await s.records.create(submitter, [rec('CF', 1)]);
    t.equal(again.duplicates, 1);
    t.equal((await s.db('node_outbox')).length, 2, 'a duplicate submission queues nothing');

    const officer = s.caller('officer', 'internal');
    await s.repair.withdraw(officer, r.records[0]!.id, 'correction');
    await s.repair.withdraw(officer, r.records[3]!.id, 'correction');
    const w = await s.db('node_outbox').where({ kind: 'withdrawal' });
    t.same(w.map((x: { record_id: string }) => x.record_id), [r.records[0]!.id], 'the withdrawal of a sent record is queued; of an internal one not');
  });

  t.test(`${engine.name}: a failing later hook rolls the outbox row back with the record`, async (t) => {
    let fail = true;
    const s = await exchangeSetup(t, {
      engine,
      extraHooks: { ...emptyHooks(), onRecordsWritten: [async () => { if (fail) throw new Error('later hook failed'); }] },
    });
    await t.rejects(s.records.create(s.caller('submitter', 'public'), [rec('CF', 10)]), /later hook failed/);
    t.equal((await s.db('node_records')).length, 0, 'no record');
    t.equal((await s.db('node_outbox')).length, 0, 'no outbox row');
    fail = false;
    await s.records.create(s.caller('submitter', 'public'), [rec('CF', 10)]);
    t.equal((await s.db('node_outbox')).length, 1, 'committed together');
  });

  t.test(`${engine.name}: records received from other nodes never enter the outbox`, async (t) => {
    const s = await exchangeSetup(t, { engine });
    const e = exampleRecord('CF');
    const wire = { id: uuidv7(), type: 'CF', classification: 'public' as const, fields: { ...e.fields, decisionNo: '常德〔2026〕1号' }, createdAt: new Date().toISOString(), updatedAt: new Date().toISOString() };
    const applied = await s.exchange.puller.apply(uuidv7(), [{ cursor: 1, kind: 'record', sourceNode: '430700', record: wire }], 1);
    t.equal(applied.records, 1);
    t.equal((await s.db('node_records').where({ id: wire.id }).first()).source_node, '430700');
    // A local officer may not withdraw it (only its source node may: issue 13); the disclosure job
    // still stops showing it when its window ends, and that is not sent back either.
    t.equal(await codeOf(s.repair.withdraw(s.caller('officer', 'internal'), wire.id, 'correction')), 'ERR_NOT_RECORD_OWNER');
    s.advance(4 * 366 * 86400_000);
    t.ok((await s.repair.expireDue()) >= 1);
    t.equal((await s.db('node_records').where({ id: wire.id }).first()).withdrawn_reason, 'expired');
    t.equal((await s.db('node_outbox')).length, 0, 'nothing queued for a foreign record');
  });

  t.test(`${engine.name}: batches are cut by count (id + next seq) and by age`, async (t) => {
    const s = await exchangeSetup(t, { engine, hub: { batchMaxRecords: 3, batchMaxAgeMs: 60_000 } });
    const sub = s.caller('submitter', 'public');
    await s.records.create(sub, [1, 2, 3, 4, 5, 6, 7].map((n) => rec('CF', 100 + n)));
    const b1 = await s.exchange.sender.cutIfDue();
    const b2 = await s.exchange.sender.cutIfDue();
    t.ok('id' in b1 && 'id' in b2);
    if (!('id' in b1) || !('id' in b2)) return;
    t.same([b1.seq, b1.records, b2.seq, b2.records], [1, 3, 2, 3], 'two full batches, seq 1 and 2');
    t.match(b1.id, /^[0-9a-f]{8}-[0-9a-f]{4}-7/, 'a UUIDv7 id');
    t.not(b1.id, b2.id);
    const wait = await s.exchange.sender.cutIfDue();
    t.ok('waitMs' in wait && wait.waitMs > 0, 'one row left, younger than batchMaxAgeMs: not cut yet');
    t.equal((await s.db('node_outbox').whereNull('batch_id')).length, 1);
    s.advance(61_000);
    const b3 = await s.exchange.sender.cutIfDue();
    t.ok('id' in b3 && b3.seq === 3 && b3.records === 1, 'cut once it is old enough');
    t.same(await outboxStore.pending(s.db, 3), null, 'nothing left');
    const rows = await s.db('node_outbox').select('batch_id').count({ n: '*' }).groupBy('batch_id');
    t.equal(rows.length, 3, 'each row in exactly one batch');
    const batches = await s.db('node_batches').orderBy('seq');
    t.same(batches.map((b: { status: string }) => b.status), ['open', 'open', 'open']);
    const may = { nodeId: s.config.nodeId, classes: sendableClasses(3) };
    const items = await outboxStore.items(s.db, b1.id, may);
    t.equal(items.records.length, 3);
    t.same(Object.keys(items.records[0]!).sort(), ['catalogVersion', 'classification', 'createdAt', 'fields', 'id', 'type', 'updatedAt'], 'wire records');
    t.equal(items.records[0]!.catalogVersion, '2027.1', 'stamped with the catalog version the record was validated against (issue 14)');

    // what may leave the node is decided when the batch is sealed, not when the row was queued (a
    // retry, or a resend to a hub that lost the batch: hostile review of the resync)
    const ids = items.records.map((r) => r.id);
    await s.db('node_records').where({ id: ids[0] }).update({ class: 'internal' }); // raised after it was queued
    await s.db('node_records').where({ id: ids[1] }).update({ status: 'withdrawn', withdrawn_reason: 'repair', withdrawn_at: new Date().toISOString() });
    await s.db('node_records').where({ id: ids[2] }).update({ source_node: '430700' }); // not this node's (a received record's id)
    t.same((await outboxStore.items(s.db, b1.id, may)).records, [], 'an internal, a withdrawn and another node\'s record: no content leaves');
    await s.db('node_records').where({ id: ids[0] }).update({ class: 'restricted' });
    t.same((await outboxStore.items(s.db, b1.id, { ...may, classes: sendableClasses(2) })).records, [], 'nor a class above the node\'s grade now');
    t.same((await outboxStore.items(s.db, b1.id, may)).records.map((r) => r.id), [ids[0]], 'a sendable one still goes');
  });

  t.test(`${engine.name}: batches are cut by bytes too: long records make smaller batches, cut at once, none over the bound`, async (t) => {
    const maxBytes = 65_536;
    const s = await exchangeSetup(t, { engine, hub: { batchMaxRecords: 100, batchMaxBytes: maxBytes, batchMaxAgeMs: 60_000 } });
    const facts = '当事人未按规定办理相关手续擅自从事经营活动。'.repeat(180); // ≈ 3,800 characters, ≈ 11 KB of UTF-8
    const long = (n: number) => ({ ...rec('CF', 400 + n), fields: { ...rec('CF', 400 + n).fields, violationFacts: facts } });
    await s.records.create(s.caller('submitter', 'public'), Array.from({ length: 12 }, (_, i) => long(i)));
    const size = async (batchId: string | null) => {
      const rows = await s.db('node_outbox as o').join('node_records as r', 'r.id', 'o.record_id').where('o.batch_id', batchId).orderBy('o.id').select('r.fields');
      return rows.map((r: { fields: string }) => Buffer.byteLength(r.fields) + ROW_OVERHEAD);
    };
    const one = (await size(null))[0]!;
    t.ok(one > 10_000 && one < maxBytes / 2, `a long record's stored text: ${one} bytes`);
    const cut: number[] = [];
    for (;;) {
      const b = await s.exchange.sender.cutIfDue();
      if (!('id' in b)) break;
      const sizes = await size(b.id);
      t.equal(sizes.length, b.records);
      const total = sizes.reduce((a, x) => a + x, 0);
      t.ok(total <= maxBytes, `batch ${b.seq}: ${b.records} records, ${total} bytes within ${maxBytes}`);
      const next = (await size(null))[0];
      if (next !== undefined) t.ok(total + next > maxBytes, 'the next row would have passed the bound: the batch is as full as it may be');
      cut.push(b.records);
    }
    t.ok(cut.length >= 2 && cut.every((n) => n < 100), `cut by bytes, not by count (${cut.join(', ')}), without waiting for batchMaxAgeMs`);
    const left = 12 - cut.reduce((a, n) => a + n, 0);
    t.ok(left > 0 && left < cut[0]!, `${left} rows left, fewer than a full batch`);
    t.equal((await outboxStore.pending(s.db, 100, maxBytes))?.full, false, 'not full by count nor by bytes: they wait for batchMaxAgeMs');
    s.advance(61_000);
    const last = await s.exchange.sender.cutIfDue();
    t.ok('id' in last && last.records === left, 'cut once old enough');
    t.same(await outboxStore.pending(s.db, 100, maxBytes), null, 'every row in one batch');

    // one record larger than the bound still travels, alone
    await s.records.create(s.caller('submitter', 'public'), [long(50), long(51)]);
    const alone = await s.db.transaction((trx) => outboxStore.cut(trx, { id: uuidv7(), max: 100, maxBytes: 1, at: new Date().toISOString() }));
    t.equal(alone?.records, 1, 'the first row goes whatever its size');
    t.same(await outboxStore.pending(s.db, 100, 1), { oldestAt: (await s.db('node_outbox').whereNull('batch_id').first()).created_at, full: true }, 'full by bytes with one row waiting');
    const rest = await s.db.transaction((trx) => outboxStore.cut(trx, { id: uuidv7(), max: 100, maxBytes, at: new Date().toISOString() }));
    t.equal(rest?.records, 1, 'the other one');
  });

  t.test(`${engine.name}: a record corrected to internal after it was sent is withdrawn at the hub (reason correction)`, async (t) => {
    const s = await exchangeSetup(t, { engine, hub: { batchMaxRecords: 1, batchMaxAgeMs: 60_000 } });
    const sub = s.caller('submitter', 'internal');
    const input = rec('XK', 301);
    const [made] = (await s.records.create(sub, [input])).records as Array<{ id: string }>;
    const b1 = await s.exchange.sender.cutIfDue();
    t.ok('id' in b1 && b1.records === 1, 'the public record is cut into batch 1');
    await s.records.correct(sub, made!.id, { classification: 'internal', fields: input.fields });
    const b2 = await s.exchange.sender.cutIfDue();
    t.ok('id' in b2 && b2.withdrawals === 1, 'the correction queued a withdrawal');
    if (!('id' in b2)) return;
    const items = await outboxStore.items(s.db, b2.id, { nodeId: s.config.nodeId, classes: sendableClasses(3) });
    t.same(items.withdrawals.map((w) => [w.id, w.reason]), [[made!.id, 'correction']], 'it travels: the hub withdraws its public copy');
    t.same([items.records, items.versions], [[], []], 'no content of the internal record leaves');
  });

  t.test(`${engine.name}: backfill queues own records from before the connection, once per grade`, async (t) => {
    const s = await exchangeSetup(t, { engine, grade: 2 });
    const plain = recordsService({ db: s.db, audit: s.audit, hooks: emptyHooks(), nodeId: '430100', clock: () => new Date(), subjectKey: s.config.subjectKey });
    const r = await plain.create(s.caller('submitter', 'internal'), [rec('CF', 201), rec('XK', 202, 'shared'), rec('XK', 203, 'restricted'), rec('XK', 204, 'internal'), rec('CF', 205)]);
    await s.repair.withdraw(s.caller('officer', 'internal'), r.records[4]!.id, 'correction');
    t.equal(await s.exchange.backfill(), 2, 'public + shared, active only');
    t.equal(await s.exchange.backfill(), 0, 'not again at the same grade');
    const queued = (await s.db('node_outbox').where({ kind: 'record' })).map((x: { record_id: string }) => x.record_id).sort();
    t.same(queued, [r.records[0]!.id, r.records[1]!.id].sort());
    // A higher grade after renewal: restricted records are queued too, nothing twice.
    await s.exchange.identity.swap({ enrolment: { ...s.exchange.identity.current().enrolment, grade: 3 } });
    t.equal(await s.exchange.backfill(), 1, 'the restricted record, once the grade allows it');
    t.equal((await s.db('node_outbox').where({ kind: 'record' })).length, 3);
  });
}
