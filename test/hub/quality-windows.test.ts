/**
 * 超期公示数 at the hub: a negative record the hub holds active after its 公示截止期 counts once, in
 * its node × 数据来源单位 × type and the month of that date; a positive record never; the source
 * node's withdrawal (reason expired) ends it; a date before the end counts nothing.
 */
import t from 'tap';
import { addMonths, todayInChina } from '../../protocol/catalog-calendar.js';
import { provinceQuality } from '../../hub/quality-service.js';
import { engines } from '../helpers/db.js';
import { hubFixture, wire, type HubFixture, type TestNode } from './fixture.js';

async function push(f: HubFixture, node: TestNode, payload: unknown) {
  return f.call(node.agent, 'POST', '/v1/batches', await f.sealFrom(node, 'batch', payload));
}

const DAY = 86_400_000;
const day = (d: Date) => todayInChina(d);

for (const engine of await engines()) {
  t.test(`hub 超期公示数 (${engine.name})`, async (t) => {
    const f = await hubFixture(t, { engine });
    const db = f.hub.app.hubCtx.db;
    const cs = await f.enrol('430100', 3, { name: '长沙市' });
    const now = new Date();
    const decision = day(new Date(now.getTime() - 80 * DAY));
    const end = addMonths(decision, 3); // ordinary: at least 3 months — about 12 days from now
    const cf = wire('CF', { fields: { decisionNo: 'W-1', decisionDate: decision, disclosureEnd: end, severity: 'ordinary', penaltyValidTo: end } });
    const res = await push(f, cs, { records: [cf, wire('XK', { fields: { decisionNo: 'W-2' } })], withdrawals: [] });
    t.equal(res.status, 200);

    const month = end.slice(0, 7);
    const before = await provinceQuality(db, { now, month });
    t.equal(before.totals.indicators.overduePublic, 0, 'within its window');
    const later = new Date(Date.parse(`${end}T12:00:00+08:00`) + 2 * DAY);
    const after = await provinceQuality(db, { now: later, month });
    t.equal(after.totals.indicators.overduePublic, 1, 'past its 公示截止期 and still held active');
    t.match(after.units.find((u) => u.counters.overdue_public > 0), { node: '430100', unit: '1243010000000X019K', type: 'CF' });
    t.equal((await provinceQuality(db, { now: later, month: '2020-01' })).totals.indicators.overduePublic, 0, 'another month');
    t.equal((await provinceQuality(db, { now: later, node: '430700' })).totals.indicators.overduePublic, 0, 'another node');
    t.equal((await provinceQuality(db, { now: new Date(Date.parse(`${end}T12:00:00+08:00`)) })).totals.indicators.overduePublic, 0, 'shown on its last day: not overdue');

    // The migration's refill (031) reads record rows in clear: on an upgraded store it runs before 040
    // seals them (docs/at-rest.md). Run again by hand on a sealed store it finds no clear row and
    // rebuilds nothing; it is not tested here (it was, before records were sealed at rest).

    const w = await push(f, cs, { records: [], withdrawals: [{ id: cf.id, reason: 'expired', at: new Date().toISOString() }] });
    t.equal(w.status, 200);
    t.equal((await provinceQuality(db, { now: later, month })).totals.indicators.overduePublic, 0, 'withdrawn by its node: no longer counted');
  });
}
