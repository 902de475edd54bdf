/**
 * The node's own 报送及时率 (decision → import), 重复率 and one USCC under several names, and the
 * state indicators read at report time — 超期公示数, 异议 and 信用修复 handling — on a crafted data
 * set whose answers are worked out by hand below (working days of the 2026 calendar: 09-25…09-27
 * 中秋 and 10-01…10-07 国庆 off, Saturday 10-10 a 调休 working day).
 */
import t from 'tap';
import { nodeFields } from '../helpers/at-rest.js';
import { engines } from '../helpers/db.js';
import { nodeFixture, record } from './app-fixture.js';

const ndjson = (lines: unknown[]) => lines.map((l) => JSON.stringify(l)).join('\n') + '\n';
const OTHER_SOURCE = '9143010200000A1B4J';

for (const engine of await engines()) {
  t.test(`node quality: timeliness, duplicates, state indicators (${engine.name})`, async (t) => {
    const f = await nodeFixture(t, { engine, now: '2026-10-12T02:00:00.000Z' });
    const submitter = await f.auth('submitter', 'shared');
    const officer = await f.auth('officer', 'internal');
    const auditor = await f.auth('auditor', 'shared');
    const post = (rows: unknown[]) => f.app.inject({ method: 'POST', url: '/v1/records/import?type=CF', headers: { ...submitter, 'content-type': 'application/x-ndjson' }, payload: ndjson(rows) });

    // 10-12: decided 09-24 → 7 working days (09-28, 09-29, 09-30, 10-08, 10-09, 10-10, 10-12): on time
    t.match((await post([record('CF', { decisionNo: 'S-1', decisionDate: '2026-09-24' })])).json(), { accepted: 1 });
    f.setNow('2026-10-13T02:00:00.000Z');
    t.match((await post([
      record('CF', { decisionNo: 'S-2', decisionDate: '2026-09-24' }), // 8 working days: late
      record('CF', { decisionNo: 'S-3', decisionDate: '2026-10-13' }), // 0: on time
      record('CF', { decisionNo: 'S-3', decisionDate: '2026-10-13', sourceUscc: OTHER_SOURCE }), // same 文书号 + authority, another id: a duplicate
      record('CF', { decisionNo: 'S-5', decisionDate: '2026-10-13', subjectName: '另一个名称有限公司' }), // the USCC under a second name
    ])).json(), { accepted: 4, rejected: 0 });
    // a negative record outside imports, disclosed through 10-31 (ordinary: 3 months – 1 year from 06-01)
    const late = await f.app.inject({ method: 'POST', url: '/v1/records', headers: officer, payload: [record('CF', { decisionNo: 'S-6', decisionDate: '2026-06-01', disclosureEnd: '2026-10-31' })] });
    t.equal(late.statusCode, 201);

    const s1 = (await f.db('node_records').select('id', 'fields')).find((r: { id: string; fields: string }) => nodeFields(f.db, r).decisionNo === 'S-1').id as string;
    const obj = (id: string, o: Record<string, unknown>) => ({ id, record_id: s1, grounds: 'g', filed_by: 'user:x', owner_node: '430100', filed_node: null, resolved_by: null, resolved_at: null, resolution_note: null, ...o });
    await f.db('node_objections').insert([
      obj('o1', { status: 'upheld', filed_at: '2026-10-09T02:00:00.000Z', due_date: '2026-10-23', resolved_at: '2026-10-12T03:00:00.000Z', resolved_by: 'user:y' }), // 2 working days (10-10, 10-12), on time
      obj('o2', { status: 'rejected', filed_at: '2026-10-09T02:00:00.000Z', due_date: '2026-10-23', resolved_at: '2026-10-26T03:00:00.000Z', resolved_by: 'user:y' }), // 12 (10-10, 10-12…16, 10-19…23, 10-26), late
      obj('o3', { status: 'open', filed_at: '2026-10-20T02:00:00.000Z', due_date: '2026-11-03' }), // open past its due date on 11-05
      obj('o4', { status: 'open', filed_at: '2026-10-20T02:00:00.000Z', due_date: '2026-11-03', owner_node: '430700' }), // decided elsewhere: not this node's
    ]);
    const rep = (id: string, o: Record<string, unknown>) => ({ id, record_id: s1, origin: 'application', evidence: '[]', commitment: null, applied_by: 'user:x', applied_at: '2026-10-12T01:00:00.000Z', due_date: '2026-10-26', decided_by: null, decided_at: null, reason: null, upstream: null, ...o });
    await f.db('node_repairs').insert([
      rep('r1', { status: 'accepted', decided_at: '2026-10-14T01:00:00.000Z', decided_by: 'user:y' }), // 2 working days, on time
      rep('r2', { status: 'pending' }), // pending past its due date on 11-05
      rep('r3', { status: 'accepted', origin: 'upstream', decided_at: '2026-12-01T00:00:00.000Z' }), // decided upstream: no handling time here
    ]);

    f.setNow('2026-11-05T02:00:00.000Z');
    const q = await f.app.inject({ method: 'GET', url: '/v1/quality?month=2026-10', headers: auditor });
    t.equal(q.statusCode, 200);
    const r = q.json();
    const c = r.totals.counters;
    const i = r.totals.indicators;
    t.same([c.accepted, c.timed, c.timely, c.wd_sum], [5, 5, 4, 15], 'timed once per record: 7 + 8 + 0 + 0 + 0 working days');
    t.equal(i.timelyRate, 0.8);
    t.equal(i.meanWorkingDays, 3);
    t.same([c.dup_within, i.duplicateRate], [1, 0.2], 'one duplicate of five accepted');
    t.equal(c.multi_name, 1);
    t.equal(i.accuracyFailures, 1);
    t.equal(i.overduePublic, 1, 'S-6 still active after its 公示截止期 10-31 (the disclosure job has not run)');
    t.same([c.obj_filed, c.obj_handled, c.obj_judged, c.obj_upheld, c.obj_timely, c.obj_days_sum, c.obj_overdue], [3, 2, 2, 1, 1, 14, 1]);
    t.same([i.objectionHandledRate, i.objectionTimelyRate, i.objectionMeanDays, i.objectionUpheldRate, i.objectionsOverdue], [0.6667, 0.5, 7, 0.5, 1]);
    t.same([c.rep_applied, c.rep_decided, i.repairMeanDays, i.repairTimelyRate, i.repairsOverdue], [2, 1, 2, 1, 1]);
    const dupUnit = r.units.find((u: { unit: string }) => u.unit === OTHER_SOURCE);
    t.equal(dupUnit.counters.dup_within, 1, 'the duplicate counts under its own 数据来源单位');

    const nov = (await f.app.inject({ method: 'GET', url: '/v1/quality?month=2026-11', headers: auditor })).json();
    t.same([nov.totals.indicators.overduePublic, nov.totals.counters.obj_filed, nov.totals.indicators.objectionHandledRate], [0, 0, null], 'another month: none of them');

    await f.app.nodeCtx.job.runNow();
    const after = (await f.app.inject({ method: 'GET', url: '/v1/quality?month=2026-10', headers: auditor })).json();
    t.equal(after.totals.indicators.overduePublic, 0, 'withdrawn by the disclosure job: no longer overdue');
  });
}
