/**
 * The node keeps every rejected import row (type, 数据来源单位, code, field, time; no names or
 * identifiers) and counts per 数据来源单位 × type × month; GET /v1/quality and the gauges read the
 * counts, on both engines: 合规率, 错码率, 必填完整率 and 纠正率 with answers worked out by hand.
 */
import t from 'tap';
import { engines } from '../helpers/db.js';
import { metricValue, nodeFixture, record } from './app-fixture.js';

const ndjson = (lines: unknown[]) => lines.map((l) => JSON.stringify(l)).join('\n') + '\n';

for (const engine of await engines()) {
  t.test(`node quality (${engine.name})`, async (t) => {
    const f = await nodeFixture(t, { engine, now: '2026-11-28T08:00:00.000Z' });
    const submitter = await f.auth('submitter', 'shared');
    const auditor = await f.auth('auditor', 'shared');
    const post = (body: string) => f.app.inject({ method: 'POST', url: '/v1/records/import?type=CF', headers: { ...submitter, 'content-type': 'application/x-ndjson' }, payload: body });

    // 5 rows: 2 good, a bad USCC (its own 文书号), a missing required field, a 处罚有效期 before …? (an invalid date)
    const r1 = await post(ndjson([
      record('CF', { decisionNo: 'Q-1' }),
      record('CF', { decisionNo: 'Q-2' }),
      record('CF', { decisionNo: 'Q-3', uscc: '91430100MA4L00000X', subjectName: '不应留存的名称有限公司' }),
      record('CF', { decisionNo: 'Q-4', basis: '' }),
      record('CF', { decisionNo: 'Q-5', decisionDate: '2026-13-01' }),
    ]));
    t.match(r1.json(), { accepted: 2, rejected: 3 });
    const kept = await f.db('node_import_rejections').orderBy('line');
    t.same(kept.map((r: Record<string, unknown>) => [r.line, r.type, r.source_unit, r.code, r.field, r.month]), [
      [3, 'CF', '1243010000000X019K', 'ERR_INVALID_USCC', 'uscc', '2026-11'],
      [4, 'CF', '1243010000000X019K', 'ERR_FIELD_REQUIRED', 'basis', '2026-11'],
      [5, 'CF', '1243010000000X019K', 'ERR_INVALID_DATE', 'decisionDate', '2026-11'],
    ]);
    const raw = JSON.stringify(kept);
    for (const pii of ['不应留存的名称有限公司', '91430100MA4L00000X', 'Q-3']) t.notMatch(raw, pii, `no ${pii} kept`);

    const q = await f.app.inject({ method: 'GET', url: '/v1/quality?month=2026-11', headers: auditor });
    t.equal(q.statusCode, 200);
    const rep = q.json();
    t.equal(rep.scope, 'node');
    t.equal(rep.issuer, '430100');
    t.same([rep.totals.counters.submitted, rep.totals.counters.accepted, rep.totals.counters.rejected], [5, 2, 3]);
    t.equal(rep.totals.indicators.complianceRate, 0.4);
    t.equal(rep.totals.indicators.usccErrorRate, 0.2);
    t.equal(rep.totals.indicators.requiredFillRate, 0.9857, '69 of 70 required slots (14 per row)');
    t.same([rep.totals.counters.timed, rep.totals.counters.timely], [2, 0], 'decided 2026-04-15, imported 2026-11-28: late, timed at the node as at the hub');
    t.same(rep.units.map((u: { unit: string; type: string }) => [u.unit, u.type]), [['1243010000000X019K', 'CF']]);

    // the bad USCC row corrected and sent again: one of three rejections corrected
    const r2 = await post(ndjson([record('CF', { decisionNo: 'Q-3' })]));
    t.match(r2.json(), { accepted: 1, rejected: 0 });
    const after = (await f.app.inject({ method: 'GET', url: '/v1/quality', headers: auditor })).json();
    t.equal(after.totals.counters.corrected, 1);
    t.equal(after.totals.indicators.correctionRate, 0.3333);
    t.ok((await f.db('node_import_rejections').where({ line: 3 }).first()).corrected_at, 'the rejection is marked corrected');

    const none = await f.app.inject({ method: 'GET', url: '/v1/quality?month=2026-10', headers: auditor });
    t.equal(none.json().totals.indicators.complianceRate, null, 'a month without imports: no rate');
    const bad = await f.app.inject({ method: 'GET', url: '/v1/quality?month=2026-13', headers: auditor });
    t.equal(bad.statusCode, 400);
    const denied = await f.app.inject({ method: 'GET', url: '/v1/quality', headers: submitter });
    t.equal(denied.statusCode, 403);
    t.equal(denied.json().code, 'ERR_ROLE_DENIED');

    const metrics = await f.app.inject({ method: 'GET', url: '/metrics' });
    t.equal(metricValue(metrics.body, 'credit_node_quality_rate', { indicator: 'compliance' }), 0.5, '3 of 6 rows this month');
  });
}
