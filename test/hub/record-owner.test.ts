/**
 * Issue 13 item 3 (hub side), on both engines: a node speaks only for its own records. A record
 * claiming another source node is refused in the receipt (ERR_NOT_RECORD_OWNER); the hub keys
 * records by (source node, id), so 常德 (430700) publishing 浏阳's (430181) decision number,
 * source unit and even its record id first can neither block nor shadow 浏阳's genuine record:
 * it is accepted, distributed and answered with 430181 as its source node and jurisdiction.
 */
import t from 'tap';
import { hubRecordContext } from '../../hub/at-rest.js';
import { openRecord } from '../../server/at-rest-store.js';
import type { DistributionItem, DistributionPayload, QueryAnswerPayload, ReceiptPayload } from '../../protocol/exchange.js';
import { uuidv7 } from '../../protocol/crypto.js';
import { engines } from '../helpers/db.js';
import { hubFixture, wire, type HubFixture, type TestNode } from './fixture.js';

async function push(f: HubFixture, node: TestNode, payload: unknown): Promise<ReceiptPayload> {
  const res = await f.call(node.agent, 'POST', '/v1/batches', await f.sealFrom(node, 'batch', payload));
  if (res.status !== 200) throw new Error(`batch refused: ${res.json.code}`);
  return (await f.openAs<ReceiptPayload>(node, res.json)).payload;
}

async function feed(f: HubFixture, node: TestNode): Promise<DistributionItem[]> {
  const res = await f.call(node.agent, 'GET', '/v1/distributions?after=0');
  if (res.status !== 200) throw new Error(`feed refused: ${res.json.code}`);
  return (await f.openAs<DistributionPayload>(node, res.json)).payload.items;
}

for (const engine of await engines()) {
  t.test(`a node speaks only for its own records (${engine.name})`, async (t) => {
    const f = await hubFixture(t, { engine });
    const ctx = f.hub.app.hubCtx;
    const ly = await f.enrol('430181', 2, { name: '浏阳市' });
    const cd = await f.enrol('430700', 2, { name: '常德市' });
    const cs = await f.enrol('430100', 3, { name: '长沙市' });
    const lyFields = { decisionNo: '浏市监处罚〔2026〕8号' };
    const genuineId = uuidv7();

    t.test('a record naming another source node is refused in the receipt: ERR_NOT_RECORD_OWNER', async (t) => {
      const claimed = { ...wire('CF', { fields: lyFields }), sourceNode: '430181' };
      const own = { ...wire('XK'), sourceNode: '430700' };
      const p = await push(f, cd, { records: [claimed, own], withdrawals: [] });
      t.equal(p.outcome, 'accepted');
      t.same(p.accepted, [own.id], 'its own record, naming itself, is accepted');
      t.same(p.rejected.map((r) => [r.id, r.code]), [[claimed.id, 'ERR_NOT_RECORD_OWNER']]);
      t.equal(await ctx.db('hub_records').where({ id: claimed.id }).first(), undefined, 'nothing stored');
    });

    t.test("常德 publishing 浏阳's decision number, source unit and record id first blocks nothing", async (t) => {
      const spoof = wire('CF', { id: genuineId, fields: lyFields });
      const p1 = await push(f, cd, { records: [spoof], withdrawals: [] });
      t.same(p1.accepted, [genuineId], "常德's record is stored as 常德's");
      const genuine = wire('CF', { id: genuineId, fields: { ...lyFields, content: '浏阳的真实处罚内容' } });
      const p2 = await push(f, ly, { records: [genuine], withdrawals: [] });
      t.same(p2.accepted, [genuineId], "浏阳's genuine record is accepted");
      t.same(p2.rejected, []);
      const rows = await ctx.db('hub_records').where({ id: genuineId }).orderBy('source_node');
      t.same(rows.map((r: { source_node: string }) => r.source_node), ['430181', '430700'], 'two records: one per source node');
      t.equal(openRecord(ctx.db, hubRecordContext(rows[0].source_node, rows[0].id), rows[0]).fields.content, '浏阳的真实处罚内容', "浏阳's content is 浏阳's (sealed at rest: opened with the hub's key)");

      const w = await push(f, cd, { records: [], withdrawals: [{ id: genuineId, reason: 'correction', at: new Date().toISOString() }] });
      t.same(w.withdrawn, [genuineId], '常德 withdraws its own copy');
      const after = await ctx.db('hub_records').where({ id: genuineId, source_node: '430181' }).first();
      t.equal(after.status, 'active', "浏阳's record is untouched");
    });

    t.test("浏阳's genuine record is distributed and answered, carrying 430181 as its jurisdiction", async (t) => {
      const items = await feed(f, cs);
      const genuine = items.filter((i) => i.kind === 'record' && i.record.id === genuineId);
      t.equal(genuine.length, 1, 'one record with that id travels with content');
      const g = genuine[0]!;
      t.equal(g.sourceNode, '430181');
      t.ok(g.kind === 'record' && g.record.sourceNode === '430181' && g.record.fields.content === '浏阳的真实处罚内容');
      t.match(items.find((i) => i.kind === 'withdrawal' && i.id === genuineId), { sourceNode: '430700', status: 'withdrawn' }, "常德's withdrawn copy is a tombstone under 430700");
      const env = await f.sealFrom(cs, 'query', { subject: String(wire('CF').fields.uscc), actor: 'user:bob', clearance: 'shared' });
      const res = await f.call(cs.agent, 'POST', '/v1/queries', env);
      const a = (await f.openAs<QueryAnswerPayload>(cs, res.json)).payload;
      const answered = a.records.filter((r) => r.id === genuineId);
      t.same(answered.map((r) => [r.sourceNode, r.fields.content]), [['430181', '浏阳的真实处罚内容']]);
    });

    t.test('withdrawing a record the sender never published: ERR_RECORD_UNKNOWN, and nothing about its owner', async (t) => {
      const mine = wire('XK');
      await push(f, ly, { records: [mine], withdrawals: [] });
      const p = await push(f, cd, { records: [], withdrawals: [{ id: mine.id, reason: 'repair', at: new Date().toISOString() }] });
      t.same(p.rejected.map((r) => r.code), ['ERR_RECORD_UNKNOWN']);
      t.notOk(p.rejected[0]!.message.includes('430181'), 'the owner is not revealed');
      t.equal((await ctx.db('hub_records').where({ id: mine.id }).first()).status, 'active');
    });
  });
}
