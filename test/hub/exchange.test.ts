/**
 * What leaves the hub, on both engines: the distribution feed (filtered by the receiving node's
 * grade, never its own records, withdrawals included, cursor paging) and province-wide queries
 * (released by grade, clearance and purpose; the rest listed as withheld; audited with an HMAC).
 */
import t from 'tap';
import type { DistributionPayload, QueryAnswerPayload, ReceiptPayload } from '../../protocol/exchange.js';
import { engines } from '../helpers/db.js';
import { hubFixture, wire, type HubFixture, type TestNode } from './fixture.js';

async function push(f: HubFixture, node: TestNode, payload: unknown): Promise<ReceiptPayload> {
  const res = await f.call(node.agent, 'POST', '/v1/batches', await f.sealFrom(node, 'batch', payload));
  if (res.status !== 200) throw new Error(`batch refused: ${res.json.code}`);
  return (await f.openAs<ReceiptPayload>(node, res.json)).payload;
}

async function feed(f: HubFixture, node: TestNode, query: string): Promise<DistributionPayload> {
  const res = await f.call(node.agent, 'GET', `/v1/distributions${query}`);
  if (res.status !== 200) throw new Error(`feed refused: ${res.json.code}`);
  const opened = await f.openAs<DistributionPayload>(node, res.json);
  if (opened.header.type !== 'distribution' || opened.signer.nodeId !== '430000') throw new Error('not a hub distribution');
  return opened.payload;
}

for (const engine of await engines()) {
  t.test(`distributions and queries (${engine.name})`, async (t) => {
    const f = await hubFixture(t, { engine });
    const ctx = f.hub.app.hubCtx;
    const cs = await f.enrol('430100', 3);
    const cd = await f.enrol('430700', 1);
    const ly = await f.enrol('430181', 2);
    const pub = wire('XK');
    const shared = wire('SXBZX');
    const restricted = wire('CF', { classification: 'restricted' });
    const uscc = String(pub.fields.uscc);
    await push(f, cs, { records: [pub, shared, restricted], withdrawals: [] });
    const fromCd = wire('XK', { fields: { decisionNo: '常市监食许〔2026〕9号' } });
    await push(f, cd, { records: [fromCd], withdrawals: [] });

    t.test('the feed carries what the grade may receive, never the node\'s own records', async (t) => {
      const toCd = await feed(f, cd, '?after=0');
      t.same(toCd.items.map((i) => (i.kind === 'record' ? i.record.id : i.id)), [pub.id], 'grade 1: public only, not its own');
      t.equal(toCd.items[0]!.sourceNode, '430100');
      t.equal(toCd.more, false);
      const toLy = await feed(f, ly, '?after=0');
      t.same(toLy.items.map((i) => (i.kind === 'record' ? i.record.id : '')), [pub.id, shared.id, fromCd.id], 'grade 2: public and shared, never restricted');
      const toCs = await feed(f, cs, '?after=0');
      t.same(toCs.items.map((i) => (i.kind === 'record' ? i.record.id : '')), [fromCd.id], 'grade 3: still nothing restricted, nothing of its own');
      const item = toLy.items[1]!;
      t.ok(item.kind === 'record' && item.record.classification === 'shared' && item.record.fields.uscc === shared.fields.uscc, 'the record travels whole');
      const empty = await feed(f, ly, `?after=${toLy.next}`);
      t.same(empty, { items: [], next: toLy.next, more: false }, 'nothing after the last cursor');
      const node = await ctx.db('hub_nodes').where({ node_id: '430181' }).first();
      t.equal(Number(node.records_out), 3);
    });

    t.test('paging with limit, and a withdrawal is distributed after its record', async (t) => {
      const page1 = await feed(f, ly, '?after=0&limit=2');
      t.equal(page1.items.length, 2);
      t.equal(page1.more, true);
      const page2 = await feed(f, ly, `?after=${page1.next}&limit=2`);
      t.equal(page2.items.length, 1);
      t.equal(page2.more, false);
      await push(f, cs, { records: [], withdrawals: [{ id: pub.id, reason: 'repair', at: '2026-11-28T08:00:00.000Z' }] });
      const after = await feed(f, cd, `?after=${page2.next}`);
      t.same(after.items.map((i) => ({ kind: i.kind, id: i.kind === 'withdrawal' ? i.id : i.record.id, reason: i.kind === 'withdrawal' ? i.reason : null })), [{ kind: 'withdrawal', id: pub.id, reason: 'repair' }]);
      for (const q of ['after=-1', 'limit=99999', 'after=1e30', 'after=x', 'cursor=3']) {
        const bad = await f.call(ly.agent, 'GET', `/v1/distributions?${q}`);
        t.equal(bad.status, 400, q);
        t.equal(bad.json.code, 'ERR_REQUEST_INVALID', q);
      }
    });

    const ask = async (node: TestNode, q: Record<string, unknown>) => {
      const env = await f.sealFrom(node, 'query', { subject: uscc, actor: 'user:alice', ...q });
      const res = await f.call(node.agent, 'POST', '/v1/queries', env);
      return { env, res, answer: res.status === 200 ? (await f.openAs<QueryAnswerPayload>(node, res.json)).payload : undefined };
    };

    t.test('a query releases by grade, clearance and purpose and lists what it held back', async (t) => {
      const full = await ask(cs, { clearance: 'restricted', purpose: '行政审批 2026-123' });
      t.equal(full.res.status, 200, String(full.res.json.code ?? 'answered'));
      t.equal(full.res.json.type, 'query-answer');
      t.same(full.answer!.records.map((r) => r.id).sort(), [shared.id, restricted.id, fromCd.id].sort(), 'every node\'s records; the withdrawn one is not answered');
      t.same(full.answer!.withheld, []);
      t.equal(full.answer!.queryId, full.env.id);
      const noPurpose = await ask(cs, { clearance: 'restricted' });
      t.same(noPurpose.answer!.records.map((r) => r.id).sort(), [shared.id, fromCd.id].sort());
      t.same(noPurpose.answer!.withheld, [{ classification: 'restricted', count: 1, code: 'ERR_PURPOSE_REQUIRED' }]);
      const lowClear = await ask(cs, { clearance: 'public', purpose: 'x' });
      t.same(lowClear.answer!.records.map((r) => r.id), [fromCd.id], 'public only');
      t.same(lowClear.answer!.withheld.map((w) => [w.classification, w.code]).sort(), [['restricted', 'ERR_CLASSIFICATION_DENIED'], ['shared', 'ERR_CLASSIFICATION_DENIED']]);
      const grade2 = await ask(ly, { clearance: 'restricted', purpose: 'x' });
      t.same(grade2.answer!.records.map((r) => r.id).sort(), [shared.id, fromCd.id].sort(), 'a grade-2 node never gets restricted records');
      t.same(grade2.answer!.records.map((r) => r.sourceNode).sort(), ['430100', '430700']);
      const grade1 = await ask(cd, { clearance: 'restricted', purpose: 'x' });
      t.same(grade1.answer!.records.map((r) => r.id), [fromCd.id], 'grade 1: public only');
    });

    t.test('queries are audited with an HMAC of the subject, never the code, and replays are refused', async (t) => {
      const q = await ask(ly, { clearance: 'shared' });
      await ctx.audit.checkpoint();
      const rows = await ctx.db('audit_log').where({ action: 'query.answer' }).orderBy('seq');
      t.ok(rows.length >= 6);
      const last = rows.at(-1);
      t.equal(last.actor, 'node:430181/user:alice');
      t.match(last.object, /^hmac-sha256:[0-9a-f]{64}$/);
      t.notOk(JSON.stringify(rows).includes(uscc), 'the subject code is nowhere in the audit log');
      t.equal(new Set(rows.map((r: { object: string }) => r.object)).size, 1, 'one subject, one HMAC');
      const again = await f.call(ly.agent, 'POST', '/v1/queries', q.env);
      t.equal(again.status, 409);
      t.equal(again.json.code, 'ERR_REPLAY');
      const bad = await f.call(ly.agent, 'POST', '/v1/queries', await f.sealFrom(ly, 'query', { subject: 'short', actor: 'a', clearance: 'public' }));
      t.equal(bad.status, 400);
      t.equal(bad.json.code, 'ERR_ENVELOPE_MALFORMED');
    });

    t.test('an answer whose audit entry is not committed never leaves: the query id stays unclaimed, nothing is counted', async (t) => {
      // The answer is sealed while the transaction's last writes run; a failure there must still win.
      const queries = async () => Number((await ctx.db('hub_nodes').where({ node_id: cs.nodeId }).first('queries')).queries);
      const before = await queries();
      const recordIn = ctx.audit.recordIn;
      ctx.audit.recordIn = async () => {
        throw new Error('audit store unavailable (test)');
      };
      let failed;
      try {
        failed = await ask(cs, { clearance: 'restricted', purpose: 'x' });
      } finally {
        ctx.audit.recordIn = recordIn;
      }
      t.equal(failed.res.status, 500);
      t.equal(failed.res.json.type, undefined, 'no envelope in the answer');
      t.notOk(JSON.stringify(failed.res.json).includes('"enc"'), 'nothing sealed was sent');
      t.equal(await queries(), before, 'the counters rolled back');
      const retry = await f.call(cs.agent, 'POST', '/v1/queries', failed.env);
      t.equal(retry.status, 200, 'the same envelope is answered once the audit works: its id was not claimed');
      const answer = (await f.openAs<QueryAnswerPayload>(cs, retry.json)).payload;
      t.equal(answer.queryId, failed.env.id);
      t.equal(await queries(), before + 1);
    });
  });
}
