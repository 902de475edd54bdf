/**
 * Issue 15 at the hub, on both engines: a batch's `versions` (protocol 1.1) replace the hub's copy
 * and are distributed again; a stale version is rejected (ERR_RECORD_CONFLICT); a correction makes
 * a record withdrawn for correction active again; a decision date after today is rejected
 * (ERR_DECISION_DATE_FUTURE); a minor record or a minor's record is not taken (Order No. 36).
 */
import t from 'tap';
import type { DistributionItem, DistributionPayload, ReceiptPayload } from '../../protocol/exchange.js';
import { makeResidentId } from '../../protocol/identifiers.js';
import { engines } from '../helpers/db.js';
import { hubFixture, wire, type HubFixture, type TestNode } from './fixture.js';

async function push(f: HubFixture, node: TestNode, payload: unknown): Promise<ReceiptPayload> {
  const res = await f.call(node.agent, 'POST', '/v1/batches', await f.sealFrom(node, 'batch', payload));
  if (res.status !== 200) throw new Error(`batch refused: ${res.json.code} ${res.json.message}`);
  return (await f.openAs<ReceiptPayload>(node, res.json)).payload;
}

async function feed(f: HubFixture, node: TestNode): Promise<DistributionItem[]> {
  const res = await f.call(node.agent, 'GET', '/v1/distributions?after=0');
  return (await f.openAs<DistributionPayload>(node, res.json)).payload.items;
}

for (const engine of await engines()) {
  t.test(`versions at the hub (${engine.name})`, async (t) => {
    const f = await hubFixture(t, { engine });
    const cs = await f.enrol('430100', 3, { name: '长沙市' });
    const cd = await f.enrol('430700', 2, { name: '常德市' });
    const r = wire('CF', { fields: { decisionNo: '长市监处罚〔2026〕77号' } });

    const first = await push(f, cs, { records: [r], withdrawals: [{ id: r.id, reason: 'correction', at: new Date().toISOString() }] });
    t.same([first.accepted, first.withdrawn], [[r.id], [r.id]]);
    const v2 = { ...r, fields: { ...r.fields, fineAmount: 0.3 }, version: 2, status: 'active', at: new Date().toISOString() };
    const second = await push(f, cs, { records: [], withdrawals: [], versions: [v2] });
    t.same([second.versioned, second.rejected], [[r.id], []], 'version 2 applied');
    const held = await f.hub.app.hubCtx.db('hub_records').where({ source_node: '430100', id: r.id }).first();
    t.same([held.status, Number(held.version), held.withdrawn_reason], ['active', 2, null], 'active again, the withdrawal forgotten');
    const items = (await feed(f, cd)).filter((i) => i.kind === 'record' && i.record.id === r.id);
    t.ok(items.length > 0 && items.every((i) => i.kind === 'record' && i.record.version === 2 && i.record.fields.fineAmount === 0.3), '常德 is served version 2');

    const stale = await push(f, cs, { records: [], withdrawals: [], versions: [{ ...v2, fields: { ...r.fields, fineAmount: 9 } }] });
    t.match(stale.rejected, [{ id: r.id, code: 'ERR_RECORD_CONFLICT' }], 'a version not above the one held');

    const future = new Date(Date.now() + 3 * 86_400_000 + 8 * 3_600_000).toISOString().slice(0, 10);
    const child = makeResidentId({ division: '430102', birth: '2012-03-01', seq: 5 });
    const late = wire('CF', { fields: { decisionNo: '长市监处罚〔2026〕78号', decisionDate: future, penaltyValidTo: future } });
    const minor = wire('CF', { fields: { decisionNo: '长市监处罚〔2026〕79号', severity: 'minor', decisionDate: '2026-10-20', penaltyValidTo: '2026-11-20' } });
    const minors = wire('CF', { fields: { decisionNo: '长市监处罚〔2026〕80号', subjectCategory: '自然人', subjectName: '李小明', uscc: undefined, legalRep: undefined, idType: '身份证', idNumber: child } });
    const p = await push(f, cs, { records: [late, minor, minors], withdrawals: [] });
    t.same(p.accepted, []);
    t.match(p.rejected, [{ id: late.id, code: 'ERR_DECISION_DATE_FUTURE' }, { id: minor.id, code: 'ERR_CLASSIFICATION_DENIED' }, { id: minors.id, code: 'ERR_CLASSIFICATION_DENIED' }]);
  });
}
