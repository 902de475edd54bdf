/**
 * The hub's kept rejections and quality counters (issue 19) on both engines: batches applied with
 * recordBatchQuality at chosen times, then the province report read from the aggregates only.
 * Known answers: 合规率, 错码率, 及时率 across 国庆, 重复率 within and across nodes, one USCC under
 * two names, 纠正率 of a rejection later accepted, 交换成功率 and latency; rejections keep no
 * personal data; the register of expected nodes is the operator's to replace.
 */
import t from 'tap';
import { exampleRecord } from '../../protocol/catalog.js';
import { uuidv7 } from '../../protocol/crypto.js';
import { migrateHub, rollbackHub } from '../../hub/migrations.js';
import { recordBatchQuality, type BatchQualityInput } from '../../hub/quality-intake.js';
import { provinceQuality, setExpectedNodes, expectedNodes } from '../../hub/quality-service.js';
import { qualityStore } from '../../hub/quality-store.js';
import { engines } from '../helpers/db.js';

const cf = (over: Record<string, unknown> = {}) => ({ ...exampleRecord('CF').fields, ...over });
const ok = (fields: Record<string, unknown>, first = true) => ({ id: uuidv7(), type: 'CF', fields, first });

function batch(node: string, receivedAt: string, o: Partial<Omit<BatchQualityInput, 'items'>> & { items?: [string, { type: string; fields: Record<string, unknown> }][] }): BatchQualityInput {
  const items = new Map<string, { type: string; fields: Record<string, unknown> }>();
  for (const a of o.accepted ?? []) items.set(a.id, { type: a.type, fields: a.fields });
  for (const [id, v] of o.items ?? []) items.set(id, v);
  const { items: _listed, ...rest } = o;
  return { node, batchId: uuidv7(), sentAt: new Date(Date.parse(receivedAt) - 1000).toISOString(), receivedAt, ok: true, rejected: [], accepted: [], ...rest, items };
}

for (const engine of await engines()) {
  t.test(`hub quality counters (${engine.name})`, async (t) => {
    const store = await engine.open();
    t.teardown(() => store.close());
    const db = store.db;
    await migrateHub(db);

    const a = ok(cf({ decisionNo: '长市监处罚〔2026〕12号', decisionDate: '2026-09-24' })); // 7 working days to 10-12: on time
    const b = ok(cf({ decisionNo: '长市监处罚〔2026〕13号', decisionDate: '2026-09-30' })); // 4
    const badId = uuidv7();
    const bad = cf({ decisionNo: '长市监处罚〔2026〕14号', uscc: '91430100MA4L00000X' });
    await db.transaction((trx) => recordBatchQuality(trx, batch('430100', '2026-10-12T02:00:00.000Z', {
      accepted: [a, b], items: [[badId, { type: 'CF', fields: bad }]],
      rejected: [{ id: badId, code: 'ERR_INVALID_USCC', field: 'uscc', codes: ['ERR_INVALID_USCC'] }],
    })));
    // 浏阳 sends the same decision (another node: across) and 长沙's USCC under another name
    const c = ok(cf({ decisionNo: '长市监处罚[2026]12 号', decisionDate: '2026-09-24' })); // 8 working days to 10-13: late
    const d = ok(cf({ decisionNo: '浏市监处罚〔2026〕1号', subjectName: '长沙示例餐饮（另一名称）有限公司', decisionDate: '2026-10-09' })); // 2 to 10-13
    await db.transaction((trx) => recordBatchQuality(trx, batch('430181', '2026-10-13T02:00:00.000Z', { accepted: [c, d] })));
    // 长沙 again: the rejected decision corrected and taken, the first one again under a new id (within), and a re-send of b
    const fixed = ok(cf({ decisionNo: '长市监处罚〔2026〕14号', decisionDate: '2026-10-09' }));
    const again = ok(cf({ decisionNo: '长市监处罚〔2026〕12号', decisionDate: '2026-09-24' }));
    await db.transaction((trx) => recordBatchQuality(trx, batch('430100', '2026-10-13T03:00:00.000Z', { accepted: [fixed, again, { ...b, first: false }] })));
    // 常德: a refused batch of two items
    const r1 = uuidv7();
    const r2 = uuidv7();
    await db.transaction((trx) => recordBatchQuality(trx, batch('430700', '2026-10-13T04:00:00.000Z', {
      ok: false, items: [[r1, { type: 'CF', fields: cf() }], [r2, { type: 'XK', fields: {} }]], rejected: [{ id: r1, code: 'ERR_CLASSIFICATION_DENIED' }, { id: r2, code: 'ERR_CLASSIFICATION_DENIED' }],
    })));
    // November: another month
    await db.transaction((trx) => recordBatchQuality(trx, batch('430100', '2026-11-02T02:00:00.000Z', { accepted: [ok(cf({ decisionNo: 'N-1', decisionDate: '2026-10-30' }))] })));

    const rep = await provinceQuality(db, { now: new Date('2026-10-13T05:00:00.000Z'), month: '2026-10' });
    const cs = rep.nodes.find((n) => n.node === '430100')!;
    t.same([cs.counters.submitted, cs.counters.accepted, cs.counters.rejected], [6, 5, 1], '长沙: 3 + 3 items, one rejected');
    t.equal(cs.indicators.complianceRate, 0.8333);
    t.equal(cs.indicators.usccErrorRate, 0.1667);
    t.equal(cs.counters.timed, 4, 'a, b, fixed, again; the re-send of b is not timed again');
    t.equal(cs.indicators.timelyRate, 0.75, 'again: 09-24 → 10-13 is 8 working days');
    // a 7; b 09-30 → 10-12: 10-08, 10-09, 10-10 (调休 Saturday), 10-12 = 4; fixed 10-09 → 10-13: 10-10, 10-12, 10-13 = 3; again 8
    t.equal(cs.indicators.meanWorkingDays, 5.5);
    t.equal(cs.counters.dup_within, 1);
    t.equal(cs.counters.corrected, 1);
    t.equal(cs.indicators.correctionRate, 1);
    t.equal(cs.indicators.exchangeSuccessRate, 1);
    t.equal(cs.indicators.meanReceiptLatencyMs, 1000);
    const ly = rep.nodes.find((n) => n.node === '430181')!;
    t.equal(ly.counters.dup_across, 1, '浏阳 repeats 长沙 decision 12');
    t.equal(ly.counters.multi_name, 1, "长沙's USCC under another name");
    t.equal(ly.indicators.accuracyFailures, 1);
    const cd = rep.nodes.find((n) => n.node === '430700')!;
    t.same([cd.counters.submitted, cd.counters.rejected, cd.counters.batches, cd.counters.batches_ok], [2, 2, 1, 0]);
    t.equal(cd.indicators.exchangeSuccessRate, 0);
    t.equal(rep.totals.counters.submitted, 10, 'October only: 6 + 2 + 2');
    t.same(rep.ranking!.slice(0, 2).map((r) => r.city), ['430100', '430700'], '长沙 (with 浏阳) 10/12 before 常德 0/2');
    t.equal(rep.ranking!.length, 14, 'every 市州 of the register ranks');
    t.equal(rep.interconnection!.expected, 136);
    t.equal(rep.interconnection!.seen, 0, 'no node enrolled here');

    const nov = await provinceQuality(db, { now: new Date(), month: '2026-11' });
    t.equal(nov.totals.counters.submitted, 1);
    const one = await provinceQuality(db, { now: new Date(), node: '430181' });
    t.same(one.nodes.map((n) => n.node), ['430181']);

    const rows = await qualityStore.rejections(db, { month: '2026-10', limit: 10 });
    t.equal(rows.length, 3);
    const first = rows.find((r) => r.recordId === badId)!;
    t.same([first.type, first.sourceUnit, first.code, first.field], ['CF', '1243010000000X019K', 'ERR_INVALID_USCC', 'uscc']);
    t.ok(first.correctedAt, 'marked corrected');
    const raw = JSON.stringify(await db('hub_rejections').select('*'));
    for (const pii of ['长沙示例餐饮有限公司', '91430100MA4L00000X', '长市监处罚']) t.notMatch(raw, pii, `no ${pii} in hub_rejections`);

    t.equal((await expectedNodes(db)).source, 'default');
    await setExpectedNodes(db, [{ code: '430100', name: '长沙市' }, { code: '430181', name: '浏阳市' }]);
    t.same((await provinceQuality(db, { now: new Date() })).interconnection!.expected, 2);
    await t.rejects(setExpectedNodes(db, [{ code: '4301', name: '长沙市' }]), { code: 'ERR_QUALITY_REGISTER_INVALID' });
    await setExpectedNodes(db, null);
    t.equal((await expectedNodes(db)).source, 'default');

    await rollbackHub(db);
    t.notOk(await db.schema.hasTable('hub_quality_agg'), 'down drops the tables');
  });
}
