/**
 * Issue 13 item 2, the receiving end: what the real hub serves is applied by the real node inbox
 * (node/exchange/puller.ts apply). A grade-2 node (430181) holds a shared record of 430100; the
 * owner raises it to restricted (or withdraws another); the tombstones the hub then serves make
 * the node stop showing and serving both, and a node enrolled later stores neither.
 */
import t from 'tap';
import type { DistributionPayload, ReceiptPayload, WireRecord } from '../../protocol/exchange.js';
import { codeOf, exchangeSetup, type ExchangeSetup } from '../node/exchange-fixture.js';
import { hubFixture, wire, type HubFixture, type TestNode } from './fixture.js';

async function push(f: HubFixture, node: TestNode, payload: unknown): Promise<ReceiptPayload> {
  const res = await f.call(node.agent, 'POST', '/v1/batches', await f.sealFrom(node, 'batch', payload));
  if (res.status !== 200) throw new Error(`batch refused: ${res.json.code}`);
  return (await f.openAs<ReceiptPayload>(node, res.json)).payload;
}

/** Pulls the hub's feed as `as` from `after` and applies it with the node's own inbox. */
async function pullInto(f: HubFixture, as: TestNode, node: ExchangeSetup, after: number): Promise<number> {
  const res = await f.call(as.agent, 'GET', `/v1/distributions?after=${after}`);
  const opened = await f.openAs<DistributionPayload>(as, res.json);
  await node.exchange.puller.apply(opened.header.id, opened.payload.items, opened.payload.next);
  return opened.payload.next;
}

t.test('tombstones served by the hub are applied by the node inbox', async (t) => {
  const f = await hubFixture(t);
  const cs = await f.enrol('430100', 3);
  const ly = await f.enrol('430181', 2);
  const node = await exchangeSetup(t, { nodeId: '430181', grade: 2 });
  const officer = node.caller('officer', 'shared');
  const raised = wire('SXBZX');
  const gone = wire('SXBZX', { fields: { decisionNo: '（2026）湘0102执778号' } });
  await push(f, cs, { records: [raised, gone], withdrawals: [] });
  const cursor = await pullInto(f, ly, node, 0);
  t.equal((await node.records.get(officer, raised.id)).id, raised.id, 'the shared record is shown at the grade-2 node');

  const up: WireRecord = { ...raised, classification: 'restricted', updatedAt: new Date().toISOString() };
  await push(f, cs, { records: [up], withdrawals: [{ id: gone.id, reason: 'repair', at: new Date().toISOString() }] });
  await pullInto(f, ly, node, cursor);
  const reader = node.caller('query', 'shared');
  t.equal(await codeOf(node.records.get(reader, raised.id)), 'ERR_RECORD_NOT_FOUND', 'the raised record is no longer shown');
  t.equal(await codeOf(node.records.get(reader, gone.id)), 'ERR_RECORD_NOT_FOUND', 'the withdrawn record is no longer shown');
  const list = await node.records.bySubject(reader, String(raised.fields.uscc));
  t.notOk(list.records.some((r) => r.id === raised.id || r.id === gone.id), 'neither is listed for the subject');
  const rows = await node.db('node_records').whereIn('id', [raised.id, gone.id]);
  t.same(rows.map((r: { status: string }) => r.status), ['withdrawn', 'withdrawn']);
  t.notOk(rows.some((r: { class: string }) => r.class === 'restricted'), 'no restricted content ever reached the node');

  const late = await exchangeSetup(t, { nodeId: '431081', grade: 2 });
  const lateAs = await f.enrol('431081', 2);
  await pullInto(f, lateAs, late, 0);
  t.same(await late.db('node_records').whereIn('id', [raised.id, gone.id]), [], 'a node enrolled later stores neither');
});
