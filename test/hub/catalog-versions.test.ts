/**
 * Issue 14 item 1, the hub's side of a catalog migration: records stamped 2026.1 and 2027.1 are
 * both accepted, each checked against its own version's field sets, stored with their stamp and
 * served with it; an unstamped record is read as 2026.1, or 2027.1 when only that fits; an unknown
 * version is rejected per record (ERR_CATALOG_VERSION).
 */
import t from 'tap';
import { exampleRecord } from '../../protocol/catalog.js';
import type { DistributionItem, DistributionPayload, ReceiptPayload, WireRecord } from '../../protocol/exchange.js';
import { engines } from '../helpers/db.js';
import { hubFixture, wire, type HubFixture, type TestNode } from './fixture.js';

async function push(f: HubFixture, node: TestNode, payload: unknown): Promise<ReceiptPayload> {
  const res = await f.call(node.agent, 'POST', '/v1/batches', await f.sealFrom(node, 'batch', payload));
  if (res.status !== 200) throw new Error(`batch refused: ${res.json.code}`);
  return (await f.openAs<ReceiptPayload>(node, res.json)).payload;
}

/** A CF record in the 2026.1 shape (free-text 处罚类别, none of the national columns 2027.1 added). */
function cf2026(decisionNo: string): Record<string, unknown> {
  const fields: Record<string, unknown> = { ...exampleRecord('CF').fields, decisionNo, category: '罚款' };
  for (const k of ['violationType', 'violationFacts', 'basis', 'penaltyValidTo']) delete fields[k];
  return fields;
}

for (const engine of await engines()) {
  t.test(`${engine.name}: both catalog versions travel with their stamps`, async (t) => {
    const f = await hubFixture(t, { engine });
    const cs = await f.enrol('430100', 2);
    const ly = await f.enrol('430181', 2);
    // wire() merges the current example's fields in: 2026.1 shapes replace `fields` whole.
    const old: WireRecord = { ...wire('CF'), fields: cf2026('旧〔2026〕1号'), catalogVersion: '2026.1' };
    const current: WireRecord = { ...wire('CF', { fields: { decisionNo: '新〔2027〕1号' } }), catalogVersion: '2027.1' };
    const unstampedOld: WireRecord = { ...wire('CF'), fields: cf2026('旧〔2026〕2号') };
    const unstampedNew = wire('CF', { fields: { decisionNo: '新〔2027〕2号' } });
    const future: WireRecord = { ...wire('CF', { fields: { decisionNo: '未〔2099〕1号' } }), catalogVersion: '2099.1' };
    const mislabelled: WireRecord = { ...wire('CF', { fields: { decisionNo: '错〔2027〕1号' } }), catalogVersion: '2026.1' };
    const r = await push(f, cs, { records: [old, current, unstampedOld, unstampedNew, future, mislabelled], withdrawals: [] });
    t.same(r.accepted.sort(), [old.id, current.id, unstampedOld.id, unstampedNew.id].sort());
    t.match(r.rejected.find((x) => x.id === future.id), { code: 'ERR_CATALOG_VERSION' });
    t.match(r.rejected.find((x) => x.id === mislabelled.id), { code: 'ERR_FIELD_UNKNOWN' }, 'a 2027.1 record stamped 2026.1 is checked as 2026.1');

    const res = await f.call(ly.agent, 'GET', '/v1/distributions?after=0&limit=100');
    const items = (await f.openAs<DistributionPayload>(ly, res.json)).payload.items;
    const stampOf = (id: string) => items.flatMap((i: DistributionItem) => (i.kind === 'record' && i.record.id === id ? [i.record.catalogVersion] : []));
    t.same(stampOf(old.id), ['2026.1'], 'served with its stamp');
    t.same(stampOf(current.id), ['2027.1']);
    t.same(stampOf(unstampedOld.id), ['2026.1'], 'unstamped, 2026.1 shape → 2026.1');
    t.same(stampOf(unstampedNew.id), ['2027.1'], 'unstamped, only 2027.1 fits → 2027.1');
  });
}
