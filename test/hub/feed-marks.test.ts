/**
 * Distribution feed marks (docs/protocol.md "Distribution feed marks", hub/feed-mark.ts), on both
 * engines: each page with rows carries the mark of the row at `next`; sent back with after=next it
 * is checked against the row the feed holds there now. A row that changed under the cursor (the
 * store went back in time and the cursor was reused), or is gone, answers 409 ERR_FEED_DIVERGED,
 * audited 'distribution.diverged' (never for probes, at most 10 a node and hour); limit 0 only checks
 * the mark; a malformed mark is a bad request.
 */
import t from 'tap';
import type { DistributionPayload, ReceiptPayload } from '../../protocol/exchange.js';
import type { Notice, NoticeFeedPayload } from '../../protocol/notices.js';
import { uuidv7 } from '../../protocol/crypto.js';
import { engines } from '../helpers/db.js';
import { hubFixture, wire, type HubFixture, type TestNode } from './fixture.js';

async function push(f: HubFixture, node: TestNode, payload: unknown): Promise<ReceiptPayload> {
  const res = await f.call(node.agent, 'POST', '/v1/batches', await f.sealFrom(node, 'batch', payload));
  if (res.status !== 200) throw new Error(`batch refused: ${res.json.code}`);
  return (await f.openAs<ReceiptPayload>(node, res.json)).payload;
}

const rec = (n: number) => wire('XK', { fields: { decisionNo: `长市监食许〔2026〕${300 + n}号` } });

for (const engine of await engines()) {
  t.test(`feed marks (${engine.name})`, async (t) => {
    const f = await hubFixture(t, { engine });
    const cs = await f.enrol('430100', 3);
    const ly = await f.enrol('430181', 2);
    await push(f, cs, { records: [rec(1), rec(2), rec(3)], withdrawals: [] });
    const page = async (q: string) => {
      const res = await f.call(ly.agent, 'GET', `/v1/distributions?${q}`);
      return res.status === 200 ? { status: 200, p: (await f.openAs<DistributionPayload>(ly, res.json)).payload } : { status: res.status, code: res.json.code as string };
    };

    const first = await page('after=0&limit=2');
    t.equal(first.status, 200);
    const p1 = first.p!;
    t.equal(p1.items.length, 2);
    t.match(p1.mark, /^[0-9a-f]{16}$/, 'a page with rows carries the mark of the row at next');
    const second = await page(`after=${p1.next}&limit=2&mark=${p1.mark}`);
    t.equal(second.status, 200, 'the right mark: the next page');
    t.equal(second.p!.items.length, 1);
    const last = second.p!;
    const empty = await page(`after=${last.next}&limit=2&mark=${last.mark}`);
    t.same([empty.p!.items, empty.p!.next, empty.p!.mark], [[], last.next, undefined], 'nothing new: no items, no mark');

    const probe = await page(`after=${p1.next}&limit=0&mark=${p1.mark}`);
    t.same([probe.status, probe.p!.items, probe.p!.next, probe.p!.more], [200, [], p1.next, false], 'limit 0: the mark checked, no items');
    t.equal(Object.hasOwn(probe.p!, 'mark'), false);
    t.equal((await page('after=0&limit=2&mark=0000000000000000')).status, 200, 'after 0 names no row: a mark is not checked');

    const flipped = p1.mark!.replace(/^./, (c) => (c === '0' ? '1' : '0'));
    t.same(await page(`after=${p1.next}&limit=0&mark=${flipped}`), { status: 409, code: 'ERR_FEED_DIVERGED' }, 'a probe with another mark: diverged (not audited)');
    t.same(await page(`after=${p1.next}&limit=2&mark=${flipped}`), { status: 409, code: 'ERR_FEED_DIVERGED' }, 'another mark: diverged');
    t.same(await page(`after=${p1.next}&limit=2&mark=${flipped}`), { status: 409, code: 'ERR_FEED_DIVERGED' }, 'again');
    t.same(await page(`after=${last.next + 5}&limit=2&mark=${p1.mark}`), { status: 409, code: 'ERR_FEED_DIVERGED' }, 'no row at that cursor: diverged');
    for (const bad of ['ABCDEF0123456789', '0123', '0123456789abcdef0', 'zzzzzzzzzzzzzzzz']) {
      t.same(await page(`after=${p1.next}&mark=${bad}`), { status: 400, code: 'ERR_REQUEST_INVALID' }, `malformed mark ${bad}`);
    }

    // the store goes back in time and the cursor is reused: the row at p1.next is another one now (as
    // after a restore, when the feed's sequence went back with the data and a new row took the cursor)
    const db = f.hub.app.hubCtx.db;
    const other = wire('XK', { fields: { decisionNo: '长市监食许〔2026〕399号' } });
    await db('hub_distributions').where({ cursor: p1.next }).update({ record_id: other.id });
    t.same(await page(`after=${p1.next}&limit=2&mark=${p1.mark}`), { status: 409, code: 'ERR_FEED_DIVERGED' }, 'the reused cursor: diverged');
    await db('hub_distributions').where({ cursor: p1.next }).update({ created_at: new Date(0).toISOString() });
    t.same(await page(`after=${p1.next}&limit=2&mark=${p1.mark}`), { status: 409, code: 'ERR_FEED_DIVERGED' });
    const audited = await db('audit_log').where({ action: 'distribution.diverged' }).orderBy('seq');
    t.equal(audited.length, 5, 'each pull audited, no probe');
    for (let i = 0; i < 10; i++) await page(`after=${i + 1}&limit=2&mark=${flipped}`);
    t.equal((await db('audit_log').where({ action: 'distribution.diverged' })).length, 10, 'at most 10 a node and hour: a node cannot flood the log with wrong marks');
    const { divergenceAuditFilter } = await import('../../hub/feed-mark.js');
    let now = 0;
    const allow = divergenceAuditFilter(2, () => now);
    t.same([allow('430100', 1, 5), allow('430100', 2, 5), allow('430100', 3, 5), allow('430200', 3, 5), allow('430100', 4, 0)], [true, true, false, true, false]);
    now = 3_600_000;
    t.equal(allow('430100', 5, 5), true, 'a new hour');
    t.same([audited[0].actor_node, audited[0].outcome, audited[0].reason], ['430181', 'failure', `ERR_FEED_DIVERGED after=${p1.next} row=other`]);
    t.match(audited[2].reason, /row=none$/);
  });

  t.test(`notice feed marks (${engine.name})`, async (t) => {
    const f = await hubFixture(t, { engine });
    const cs = await f.enrol('430100', 3);
    const cd = await f.enrol('430700', 2);
    const sx = wire('SXBZX');
    await push(f, cs, { records: [sx], withdrawals: [] });
    const objection = (n: number): Notice => ({ kind: 'objection', objectionId: uuidv7(), owner: '430100', recordId: sx.id, grounds: `名称有误${n}`, filedBy: 'node:430700/user:bob', filedAt: new Date().toISOString(), dueDate: '2026-12-17' });
    for (let n = 1; n <= 3; n++) {
      const r = await f.call(cd.agent, 'POST', '/v1/notices', await f.sealFrom(cd, 'notice', { notice: objection(n) }, { seq: n }));
      t.equal(r.status, 200);
    }
    const page = async (q: string) => {
      const res = await f.call(cs.agent, 'GET', `/v1/notices?${q}`);
      return res.status === 200 ? { status: 200, p: (await f.openAs<NoticeFeedPayload>(cs, res.json)).payload } : { status: res.status, code: res.json.code as string };
    };
    const first = (await page('after=0&limit=2')).p!;
    t.equal(first.items.length, 2);
    t.match(first.mark, /^[0-9a-f]{16}$/);
    t.same(first.items.map((i) => Object.keys(i).sort()), [['cursor', 'from', 'notice', 'noticeId'], ['cursor', 'from', 'notice', 'noticeId']], 'items as before: no row time');
    t.equal((await page(`after=${first.next}&limit=2&mark=${first.mark}`)).p!.items.length, 1);
    const probe = (await page(`after=${first.next}&limit=0&mark=${first.mark}`)).p!;
    t.same([probe.items, probe.next, Object.hasOwn(probe, 'mark')], [[], first.next, false]);
    const db = f.hub.app.hubCtx.db;
    await db('hub_notices').where({ cursor: first.next }).update({ created_at: new Date(0).toISOString() });
    t.same(await page(`after=${first.next}&limit=2&mark=${first.mark}`), { status: 409, code: 'ERR_FEED_DIVERGED' }, 'the row under the cursor changed');
    const other = await f.call(cd.agent, 'GET', `/v1/notices?after=${first.next}&limit=2&mark=${first.mark}`);
    t.same([other.status, other.json.code], [409, 'ERR_FEED_DIVERGED'], "another node's notice row never matches");
    t.same(await page('after=1&mark=0123'), { status: 400, code: 'ERR_REQUEST_INVALID' });
    const audited = await db('audit_log').where({ action: 'notice.diverged' });
    t.same(audited.map((a: { actor_node: string; reason: string }) => [a.actor_node, a.reason]), [['430100', `ERR_FEED_DIVERGED after=${first.next} row=other`], ['430700', `ERR_FEED_DIVERGED after=${first.next} row=none`]]);
  });
}
