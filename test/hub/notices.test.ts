/**
 * Issue 15 item 5 (hub side), on both engines: notices are routed by kind — an objection to the
 * record's owner, its result to the filing node, a dispute mark to every other node whose grade may
 * hold the record — and what cannot be routed is refused with ERR_NOTICE_UNROUTABLE and its reason;
 * a resent notice is a replay; a notice with members of another kind is malformed.
 */
import t from 'tap';
import type { ReceiptPayload } from '../../protocol/exchange.js';
import { uuidv7 } from '../../protocol/crypto.js';
import type { Notice, NoticeFeedPayload, NoticeReceiptPayload } from '../../protocol/notices.js';
import { engines } from '../helpers/db.js';
import { hubFixture, wire, type HubFixture, type TestNode } from './fixture.js';

async function notice(f: HubFixture, node: TestNode, n: Notice, id?: string) {
  const res = await f.call(node.agent, 'POST', '/v1/notices', await f.sealFrom(node, 'notice', { notice: n }, { seq: 1, ...(id ? { id } : {}) }));
  return res.status === 200 ? { status: 200, receipt: (await f.openAs<NoticeReceiptPayload>(node, res.json)).payload } : { status: res.status, code: res.json.code as string, reason: res.json.details?.reason as string | undefined };
}

async function inbox(f: HubFixture, node: TestNode) {
  const res = await f.call(node.agent, 'GET', '/v1/notices?after=0');
  return (await f.openAs<NoticeFeedPayload>(node, res.json)).payload.items;
}

for (const engine of await engines()) {
  t.test(`notices are routed by kind, or refused with a reason (${engine.name})`, async (t) => {
    const f = await hubFixture(t, { engine });
    const cs = await f.enrol('430100', 3, { name: '长沙市' });
    const cd = await f.enrol('430700', 2, { name: '常德市' });
    const ly = await f.enrol('430181', 1, { name: '浏阳市' });
    const cf = wire('CF');
    const sx = wire('SXBZX'); // shared: grade ≥ 2 only
    const res = await f.call(cs.agent, 'POST', '/v1/batches', await f.sealFrom(cs, 'batch', { records: [cf, sx], withdrawals: [] }));
    t.same((await f.openAs<ReceiptPayload>(cs, res.json)).payload.accepted.sort(), [cf.id, sx.id].sort());
    const at = new Date().toISOString();
    const objectionId = uuidv7();
    const objection: Notice = { kind: 'objection', objectionId, owner: '430100', recordId: sx.id, grounds: '名称有误', filedBy: 'node:430700/user:bob', filedAt: at, dueDate: '2026-12-17' };

    const sent = await notice(f, cd, objection);
    t.equal(sent.status, 200);
    t.equal(sent.receipt?.recipients, 1, 'to the owner only');
    const got = await inbox(f, cs);
    t.same(got.map((i) => [i.from, i.notice.kind, (i.notice as { objectionId: string }).objectionId]), [['430700', 'objection', objectionId]]);
    t.same(await inbox(f, ly), [], 'nobody else hears of it');

    const again = await f.call(cd.agent, 'POST', '/v1/notices', await f.sealFrom(cd, 'notice', { notice: objection }, { seq: 2, id: got[0]!.noticeId }));
    t.equal(again.json.code, 'ERR_REPLAY', 'a resent notice is a replay');

    t.match(await notice(f, cd, { ...objection, objectionId: uuidv7(), recordId: uuidv7() }), { code: 'ERR_NOTICE_UNROUTABLE', reason: 'record-unknown' });
    t.match(await notice(f, cs, { ...objection, objectionId: uuidv7() }), { code: 'ERR_NOTICE_UNROUTABLE', reason: 'own-record' });
    const result: Notice = { kind: 'objection-result', objectionId, owner: '430100', recordId: sx.id, outcome: 'rejected', resolvedBy: 'node:430100/user:carol', resolvedAt: at };
    t.match(await notice(f, cd, { ...result, owner: '430700' }), { code: 'ERR_NOTICE_UNROUTABLE', reason: 'record-unknown' });
    t.match(await notice(f, cd, { kind: 'mark', owner: '430100', recordId: sx.id, disputed: false, at }), { code: 'ERR_NOTICE_UNROUTABLE', reason: 'not-owner' });
    t.match(await notice(f, cs, { ...result, objectionId: uuidv7() }), { code: 'ERR_NOTICE_UNROUTABLE', reason: 'objection-unknown' });
    t.match(await notice(f, cs, { ...result, grounds: 'x' } as unknown as Notice), { code: 'ERR_ENVELOPE_MALFORMED' });

    t.equal((await notice(f, cs, result)).status, 200);
    t.same((await inbox(f, cd)).map((i) => i.notice.kind), ['objection-result'], 'the result goes to the filing node');
    const marked = await notice(f, cs, { kind: 'mark', owner: '430100', recordId: sx.id, disputed: true, at });
    t.equal(marked.receipt?.recipients, 1, 'a shared record\'s mark goes to grade ≥ 2 nodes only (常德), not 浏阳 (grade 1)');
    const pub = await notice(f, cs, { kind: 'mark', owner: '430100', recordId: cf.id, disputed: true, at });
    t.equal(pub.receipt?.recipients, 2, 'a public record\'s mark goes to every other node');
    t.same((await inbox(f, ly)).map((i) => i.notice.kind), ['mark']);
  });
}
