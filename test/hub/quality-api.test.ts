/**
 * Batches through POST /v1/batches leave their refused items in hub_rejections and their counts in
 * hub_quality_agg; GET /v1/quality answers a node its own indicators (a 市州 node also its
 * counties', ERR_QUALITY_SCOPE_DENIED otherwise) with the 市州 ranking; /metrics has the gauges.
 * The receipt still lists only { id, code, message } per rejection.
 */
import t from 'tap';
import type { ReceiptPayload } from '../../protocol/exchange.js';
import { engines } from '../helpers/db.js';
import { hubFixture, wire, type HubFixture, type TestNode } from './fixture.js';

async function push(f: HubFixture, node: TestNode, payload: unknown) {
  return f.call(node.agent, 'POST', '/v1/batches', await f.sealFrom(node, 'batch', payload));
}

for (const engine of await engines()) {
  t.test(`hub quality over the exchange (${engine.name})`, async (t) => {
    const f = await hubFixture(t, { engine });
    const ctx = f.hub.app.hubCtx;
    const cs = await f.enrol('430100', 3, { name: '长沙市' });
    const ly = await f.enrol('430181', 3, { name: '浏阳市' });
    const cd = await f.enrol('430700', 1, { name: '常德市' });

    const good = wire('CF');
    const bad = wire('CF', { fields: { uscc: '91430100MA4L00000X', decisionNo: '长市监处罚〔2026〕99号' } });
    const res = await push(f, cs, { records: [good, bad], withdrawals: [] });
    t.equal(res.status, 200);
    const receipt = await f.openAs<ReceiptPayload>(cs, res.json);
    t.equal(receipt.payload.rejected.length, 1);
    t.same(Object.keys(receipt.payload.rejected[0]!).sort(), ['code', 'id', 'message'], 'the receipt keeps its shape');
    const kept = await ctx.db('hub_rejections').where({ record_id: bad.id }).first();
    t.match(kept, { source_node: '430100', type: 'CF', source_unit: '1243010000000X019K', code: 'ERR_INVALID_USCC', field: 'uscc' });

    const refused = await push(f, cd, { records: [wire('SXBZX')], withdrawals: [] });
    t.equal(refused.json.code, 'ERR_CLASSIFICATION_DENIED');
    t.equal(Number((await ctx.db('hub_rejections').where({ source_node: '430700' }).count({ n: '*' }))[0]!.n), 1, 'the refused batch item is kept');
    t.equal((await push(f, ly, { records: [wire('XK')], withdrawals: [] })).status, 200);

    const own = await f.call(cs.agent, 'GET', '/v1/quality');
    t.equal(own.status, 200);
    const rep = own.json as { node: string; totals: { counters: Record<string, number>; indicators: Record<string, number | null> }; ranking: { city: string; rank: number }[]; interconnection: { expected: number; seen: number } };
    t.equal(rep.node, '430100');
    t.same([rep.totals.counters.submitted, rep.totals.counters.accepted, rep.totals.counters.uscc_bad], [2, 1, 1]);
    t.equal(rep.totals.indicators.complianceRate, 0.5);
    t.equal(rep.totals.indicators.exchangeSuccessRate, 1);
    t.equal(rep.ranking.length, 14);
    t.same(rep.ranking.slice(0, 2).map((r) => r.city), ['430100', '430700'], '长沙 with 浏阳 (2 of 3) before 常德 (0 of 1)');
    t.same([rep.interconnection.expected, rep.interconnection.seen], [1, 1]);

    const county = await f.call(cs.agent, 'GET', '/v1/quality?node=430181');
    t.equal(county.status, 200, 'a 市州 node reads its counties');
    t.equal((county.json as { totals: { counters: { accepted: number } } }).totals.counters.accepted, 1);
    const up = await f.call(ly.agent, 'GET', '/v1/quality?node=430100');
    t.equal(up.status, 403);
    t.equal((up.json as { code: string }).code, 'ERR_QUALITY_SCOPE_DENIED');
    const other = await f.call(cs.agent, 'GET', '/v1/quality?node=430700');
    t.equal((other.json as { code: string }).code, 'ERR_QUALITY_SCOPE_DENIED');
    const anon = await f.call(f.anonymous, 'GET', '/v1/quality');
    t.equal((anon.json as { code: string }).code, 'ERR_CLIENT_CERT_REQUIRED');

    const metrics = await f.call(f.anonymous, 'GET', '/metrics');
    const text = String(metrics.json);
    t.match(text, /credit_hub_quality_rate\{indicator="compliance",node="430000"\} 0\.5/, '2 of 4 items province-wide');
    t.match(text, /credit_hub_node_quality_rate\{peer="430700",indicator="exchange_success",node="430000"\} 0/);
    t.match(text, /credit_hub_quality_rate\{indicator="interconnection",node="430000"\} 0\.0221/, '3 of 136 nodes seen');
  });
}
