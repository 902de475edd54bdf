/**
 * Issue 13 item 2, on both engines: the distribution feed decides every item on the record's
 * CURRENT class and status when it is served, whatever the class was when the item was queued and
 * whatever cursor the node asks from. A record raised above the reader's grade, or withdrawn, is
 * served only as a tombstone (no content); a node enrolled later that reads from cursor 0 gets
 * nothing it may not hold today (nor a negative record past its disclosure window). Also: a class
 * is never lowered at the hub, and province queries answer on the current class and status.
 */
import { readFileSync } from 'node:fs';
import t, { type Test } from 'tap';
import type { DistributionItem, DistributionPayload, QueryAnswerPayload, ReceiptPayload, WireRecord } from '../../protocol/exchange.js';
import { engines } from '../helpers/db.js';
import { hubFixture, wire, type HubFixture, type TestNode } from './fixture.js';

async function push(f: HubFixture, node: TestNode, payload: unknown): Promise<ReceiptPayload> {
  const res = await f.call(node.agent, 'POST', '/v1/batches', await f.sealFrom(node, 'batch', payload));
  if (res.status !== 200) throw new Error(`batch refused: ${res.json.code}`);
  return (await f.openAs<ReceiptPayload>(node, res.json)).payload;
}

async function feedAll(f: HubFixture, node: TestNode, after = 0): Promise<DistributionItem[]> {
  const items: DistributionItem[] = [];
  for (;;) {
    const res = await f.call(node.agent, 'GET', `/v1/distributions?after=${after}&limit=2`);
    if (res.status !== 200) throw new Error(`feed refused: ${res.json.code}`);
    const p = (await f.openAs<DistributionPayload>(node, res.json)).payload;
    items.push(...p.items);
    if (!p.more) return items;
    after = p.next;
  }
}

const idOf = (i: DistributionItem) => (i.kind === 'record' ? i.record.id : i.id);
const contentOf = (items: DistributionItem[], id: string) => items.filter((i) => i.kind === 'record' && i.record.id === id);
const tombstonesOf = (items: DistributionItem[], id: string) => items.filter((i) => i.kind === 'withdrawal' && i.id === id);
const raise = (r: WireRecord, classification: WireRecord['classification']): WireRecord => ({ ...r, classification, updatedAt: new Date().toISOString() });

/** Nothing above `grade` and nothing withdrawn travels with content; tombstones carry no content. */
function assertNothingAbove(t: Test, items: DistributionItem[], grade: number, withdrawn: readonly string[]) {
  const allowed = grade >= 2 ? ['public', 'shared'] : ['public'];
  for (const i of items) {
    if (i.kind === 'record') {
      t.ok(allowed.includes(i.record.classification), `record ${i.record.id} is ${i.record.classification}: a grade-${grade} node may hold it`);
      t.notOk(withdrawn.includes(i.record.id), `withdrawn record ${i.record.id} never travels with content`);
    } else {
      t.same(Object.keys(i).sort(), ['at', 'cursor', 'id', 'kind', 'reason', 'sourceNode', 'status', 'type'], 'a tombstone carries no content');
    }
  }
}

for (const engine of await engines()) {
  t.test(`the feed serves the current class and status (${engine.name})`, async (t) => {
    const f = await hubFixture(t, { engine });
    const cs = await f.enrol('430100', 3);
    const ly = await f.enrol('430181', 2);
    const cd = await f.enrol('430700', 1);
    const raised = wire('SXBZX'); // shared, raised to restricted below
    const publicRaised = wire('XK', { fields: { decisionNo: '长市监食许〔2026〕201号' } }); // public, raised to shared
    const gone = wire('SXBZX', { fields: { decisionNo: '（2026）湘0102执777号' } }); // shared, withdrawn
    const stays = wire('XK', { fields: { decisionNo: '长市监食许〔2026〕202号' } });
    // ordinary penalty decided 2025-06-01: disclosed for at most a year, so past its window now
    const expired = wire('CF', { fields: { decisionNo: '长市监处罚〔2025〕99号', decisionDate: '2025-06-01', severity: 'ordinary' } });
    const first = await push(f, cs, { records: [raised, publicRaised, gone, stays, expired], withdrawals: [] });
    t.same(first.rejected, [], 'all five stored');

    // a grade-2 node that read the feed before the changes holds `raised` and `gone`
    const before = await feedAll(f, ly);
    t.equal(contentOf(before, raised.id).length, 1, 'before the raise, the shared record reached the grade-2 node');
    // a grade-1 node that has read everything so far holds the public version of `publicRaised`
    const cdBefore = await feedAll(f, cd);
    const cdCursor = Math.max(...cdBefore.map((i) => i.cursor));
    t.equal(contentOf(cdBefore, publicRaised.id).length, 1);

    const r = await push(f, cs, { records: [raise(raised, 'restricted'), raise(publicRaised, 'shared')], withdrawals: [{ id: gone.id, reason: 'repair', at: new Date().toISOString() }] });
    t.same(r.accepted.sort(), [raised.id, publicRaised.id].sort());
    t.same(r.withdrawn, [gone.id]);

    t.test('grade 2 reading from cursor 0: no restricted content, withdrawn and raised records only as tombstones', async (t) => {
      const items = await feedAll(f, ly);
      assertNothingAbove(t, items, 2, [gone.id]);
      t.same(contentOf(items, raised.id), [], 'the raised record never travels with its content');
      t.ok(tombstonesOf(items, raised.id).length > 0, 'a tombstone tells the node to stop showing it');
      const stone = tombstonesOf(items, raised.id)[0]!;
      t.match(stone, { kind: 'withdrawal', sourceNode: '430100', id: raised.id, type: 'SXBZX', status: 'withheld', reason: 'reclassified' });
      const doc = readFileSync(new URL('../../docs/protocol.md', import.meta.url), 'utf8');
      const example = JSON.parse(/```json\n(\{ "cursor"[^`]*"reclassified"[^`]*)```/.exec(doc)![1]!) as Record<string, unknown>;
      t.same(Object.keys(stone).sort(), Object.keys(example).sort(), 'docs/protocol.md shows the tombstone the hub serves');
      t.same(contentOf(items, gone.id), [], 'the withdrawn record never travels with its content');
      t.match(tombstonesOf(items, gone.id)[0], { status: 'withdrawn', reason: 'repair', type: 'SXBZX' });
      t.ok(contentOf(items, publicRaised.id).every((i) => i.kind === 'record' && i.record.classification === 'shared'), 'public → shared: the current (shared) content for grade 2');
      t.ok(contentOf(items, stays.id).length > 0);
      t.same(contentOf(items, expired.id), [], 'a negative record past its disclosure window never travels with content');
      t.match(tombstonesOf(items, expired.id)[0], { status: 'withheld', reason: 'expired', type: 'CF' });
    });

    t.test('grade 1 reading from cursor 0: a record raised to shared is a tombstone, never content', async (t) => {
      const items = await feedAll(f, cd);
      assertNothingAbove(t, items, 1, [gone.id]);
      t.same(contentOf(items, publicRaised.id), []);
      t.match(tombstonesOf(items, publicRaised.id)[0], { status: 'withheld', type: 'XK' });
      t.same(items.filter((i) => idOf(i) === raised.id || idOf(i) === gone.id), [], 'nothing at all about records it could never hold');
      t.same(items.filter((i) => i.kind === 'record').map(idOf), [stays.id]);
      const since = await feedAll(f, cd, cdCursor);
      t.match(tombstonesOf(since, publicRaised.id)[0], { status: 'withheld', reason: 'reclassified' }, 'a node past the cursor of the public version still learns to stop showing it');
      t.same(since.filter((i) => i.kind === 'record'), [], 'and gets no content');
    });

    t.test('a node enrolled later, reading from cursor 0, stores nothing it may not hold today', async (t) => {
      const late = await f.enrol('431081', 2);
      const items = await feedAll(f, late);
      assertNothingAbove(t, items, 2, [gone.id]);
      t.same([...new Set(items.filter((i) => i.kind === 'record').map(idOf))].sort(), [publicRaised.id, stays.id].sort(), 'content only of what it may hold now (each version once per queued item)');
    });

    t.test('a class is never lowered at the hub: ERR_CLASSIFICATION_LOWERED, the stored class stays', async (t) => {
      const p = await push(f, cs, { records: [raise(raised, 'shared')], withdrawals: [] });
      t.same(p.accepted, []);
      t.same(p.rejected.map((x) => [x.id, x.code]), [[raised.id, 'ERR_CLASSIFICATION_LOWERED']]);
      const items = await feedAll(f, ly);
      t.same(contentOf(items, raised.id), [], 'still no content for the grade-2 node');
    });

    t.test('a province query answers on the current class and status', async (t) => {
      const env = await f.sealFrom(ly, 'query', { subject: String(raised.fields.uscc), actor: 'user:alice', clearance: 'restricted', purpose: '核查' });
      const res = await f.call(ly.agent, 'POST', '/v1/queries', env);
      t.equal(res.status, 200);
      const a = (await f.openAs<QueryAnswerPayload>(ly, res.json)).payload;
      const ids = a.records.map((x) => x.id);
      t.notOk(ids.includes(raised.id), 'raised to restricted: withheld from grade 2');
      t.notOk(ids.includes(gone.id), 'withdrawn: not answered');
      t.notOk(ids.includes(expired.id), 'past its disclosure window: not answered');
      t.ok(a.withheld.some((w) => w.classification === 'restricted' && w.code === 'ERR_CLASSIFICATION_DENIED'));
      t.ok(a.records.every((x) => x.classification === 'public' || x.classification === 'shared'));
    });
  });
}
