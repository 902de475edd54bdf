/**
 * The node's side of feed marks (node/exchange/puller.ts), against a stubbed hub client on both
 * engines: the mark held for the cursor is sent with each pull (none when the hub never gave one);
 * a mark the hub gives is kept with its cursor, a malformed one ignored; on ERR_FEED_DIVERGED the
 * node searches its marks for the highest cursor the hub still holds (limit-0 probes), moves back
 * there (0 when none holds), drops the marks above, and audits 'distribution.rewind'; a probe that
 * fails otherwise leaves cursor and marks as they were.
 */
import t from 'tap';
import { seal } from '../../protocol/seal.js';
import { exampleRecord } from '../../protocol/catalog.js';
import { uuidv7 } from '../../protocol/crypto.js';
import type { WireRecord } from '../../protocol/exchange.js';
import type { Notice } from '../../protocol/notices.js';
import { objectionsService } from '../../node/objections-service.js';
import { HubError } from '../../node/exchange/hub-client.js';
import { CURSOR_KEY } from '../../node/exchange/puller.js';
import { outboxStore } from '../../node/exchange/outbox-store.js';
import { engines } from '../helpers/db.js';
import { makeCa } from '../helpers/pki.js';
import { startFakeHub } from './exchange-fake-hub.js';
import { exchangeSetup } from './exchange-fixture.js';

const M = (n: number) => n.toString(16).padStart(16, '0');

for (const engine of await engines()) {
  const setup = async (t: Parameters<typeof exchangeSetup>[0]) => {
    const ca = makeCa();
    const hub = await startFakeHub(ca);
    t.teardown(() => hub.close());
    const s = await exchangeSetup(t, { engine, ca, hubUrl: hub.url, hubCertPem: hub.identity.certPem });
    const me = s.exchange.identity.current();
    let seq = 0;
    const answer = (payload: unknown) => seal({ type: 'distribution', from: '430000', to: '430100', seq: ++seq, payload, sender: { keyPem: hub.identity.keyPem, certPem: hub.identity.certPem }, recipientCertPem: me.certPem });
    const calls: { after: number; limit: number; mark: string | undefined }[] = [];
    const client = s.exchange.client();
    const at = new Date().toISOString();
    const hold = async (cursor: number, marks: number[]) => {
      await outboxStore.setState(s.db, CURSOR_KEY, String(cursor), at);
      for (const c of marks) await s.db('node_feed_marks').insert({ cursor: c, mark: M(c), at });
    };
    return { s, client, calls, answer, hold, hub };
  };
  const diverged = () => new HubError('ERR_FEED_DIVERGED', 'diverged', { after: 0 }, 409);

  t.test(`${engine.name}: the mark is sent back, kept when given, ignored when malformed`, async (t) => {
    const { s, client, calls, answer } = await setup(t);
    let next: { next: number; mark?: unknown } = { next: 3, mark: M(3) };
    client.getDistributions = async (after, limit, _signal, mark) => {
      calls.push({ after, limit, mark });
      return answer({ items: [], more: false, ...next });
    };
    await s.exchange.puller.pullOnce();
    t.same(calls[0], { after: 0, limit: 1000, mark: undefined }, 'cursor 0: no mark');
    t.same((await s.db('node_feed_marks')).map((r: { cursor: number | string; mark: string }) => [Number(r.cursor), r.mark]), [[3, M(3)]]);
    next = { next: 5, mark: 'NOT-A-MARK' };
    await s.exchange.puller.pullOnce();
    t.same(calls[1], { after: 3, limit: 1000, mark: M(3) }, 'the mark of the cursor asked from');
    next = { next: 7 };
    await s.exchange.puller.pullOnce();
    t.same(calls[2], { after: 5, limit: 1000, mark: undefined }, 'no mark held for 5 (malformed): none sent');
    t.same((await s.db('node_feed_marks')).map((r: { cursor: number | string }) => Number(r.cursor)), [3]);
  });

  t.test(`${engine.name}: diverged → back to the highest cursor still held, marks above dropped, audited`, async (t) => {
    const { s, client, calls, answer, hold } = await setup(t);
    await hold(50, [10, 20, 30, 40, 50]);
    client.getDistributions = async (after, limit, _signal, mark) => {
      calls.push({ after, limit, mark });
      if (limit > 0 || after > 20) throw diverged();
      return answer({ items: [], next: after, more: false });
    };
    const r = await s.exchange.puller.pullOnce();
    t.same(r, { cursor: 20, records: 0, versions: 0, withdrawals: 0, skipped: 0, more: true }, 'the loop pulls again at once');
    t.equal(await s.exchange.puller.cursor(), 20);
    t.ok(calls.slice(1).every((c) => c.limit === 0 && c.mark === M(c.after)), 'probes: limit 0 with the mark of each cursor tried');
    t.same((await s.db('node_feed_marks').orderBy('cursor')).map((r: { cursor: number | string }) => Number(r.cursor)), [10, 20]);
    const a = await s.db('audit_log').where({ action: 'distribution.rewind' });
    t.equal(a.length, 1);
    t.same([a[0].outcome, a[0].object], ['failure', 'cursor 50→20']);
    t.match(a[0].reason, new RegExp(`^ERR_FEED_DIVERGED from=50 to=20 probes=${calls.length - 1}: `));
  });

  t.test(`${engine.name}: no mark held anywhere → back to 0`, async (t) => {
    const { s, client, hold } = await setup(t);
    await hold(40, [10, 20, 30, 40]);
    client.getDistributions = async () => {
      throw diverged();
    };
    t.equal((await s.exchange.puller.pullOnce())!.cursor, 0);
    t.equal(await s.exchange.puller.cursor(), 0);
    t.equal((await s.db('node_feed_marks')).length, 0);
  });

  t.test(`${engine.name}: a probe that fails otherwise changes nothing (the next round searches again)`, async (t) => {
    const { s, client, hold } = await setup(t);
    await hold(40, [10, 20, 30, 40]);
    client.getDistributions = async (_after, limit) => {
      if (limit > 0) throw diverged();
      throw new HubError('ERR_HUB_UNAVAILABLE', 'connection refused', undefined, 0);
    };
    await t.rejects(s.exchange.puller.pullOnce(), { code: 'ERR_HUB_UNAVAILABLE' });
    t.equal(await s.exchange.puller.cursor(), 40);
    t.equal((await s.db('node_feed_marks')).length, 4);
    t.equal((await s.db('audit_log').where({ action: 'distribution.rewind' })).length, 0);
  });

  t.test(`${engine.name}: a hub that keeps diverging: the second rewind within the hour is marked repeated and waits for the poll`, async (t) => {
    const { s, client, hold } = await setup(t);
    client.getDistributions = async () => {
      throw diverged();
    };
    await hold(40, [10, 40]);
    t.equal((await s.exchange.puller.pullOnce())!.more, true, 'the first rewind pulls again at once');
    await hold(30, [30]);
    const r = await s.exchange.puller.pullOnce();
    t.same([r!.cursor, r!.more], [0, false], 'the repeated one waits the poll interval (no tight loop)');
    const a = await s.db('audit_log').where({ action: 'distribution.rewind' }).orderBy('seq');
    t.equal(a.length, 2);
    t.notMatch(a[0].reason, / repeated:/);
    t.match(a[1].reason, /^ERR_FEED_DIVERGED from=30 to=0 probes=0 repeated: /);
    t.same([a[1].actor, a[1].actor_node], ['node:430000', '430000'], 'in the hub\'s name, as distribution.apply');
  });

  t.test(`${engine.name}: a hub that refuses the mark parameter (from before marks): the pull fails, the mark is kept (fail closed)`, async (t) => {
    const { s, client, calls, answer, hold } = await setup(t);
    await hold(40, [40]);
    client.getDistributions = async (after, limit, _signal, mark) => {
      calls.push({ after, limit, mark });
      if (mark !== undefined) throw new HubError('ERR_REQUEST_INVALID', 'querystring must NOT have additional properties', undefined, 400);
      return answer({ items: [], next: after, more: false });
    };
    await t.rejects(s.exchange.puller.pullOnce(), { code: 'ERR_REQUEST_INVALID' });
    t.same(calls, [{ after: 40, limit: 1000, mark: M(40) }], 'not asked again without the mark');
    t.equal((await s.db('node_feed_marks')).length, 1, 'the mark is kept');
    t.equal(await s.exchange.puller.cursor(), 40);
  });

  t.test(`${engine.name}: ERR_FEED_DIVERGED without a mark sent is an ordinary error (no search)`, async (t) => {
    const { s, client, calls, hold } = await setup(t);
    await hold(40, []);
    client.getDistributions = async (after, limit, _signal, mark) => {
      calls.push({ after, limit, mark });
      throw diverged();
    };
    await t.rejects(s.exchange.puller.pullOnce(), { code: 'ERR_FEED_DIVERGED' });
    t.equal(calls.length, 1);
    t.equal(await s.exchange.puller.cursor(), 40);
  });

  t.test(`${engine.name}: the notice feed: mark kept and sent back, rewind on divergence (node_notice_marks, notice.rewind)`, async (t) => {
    const { s, client, hub } = await setup(t);
    const me = s.exchange.identity.current();
    let seq = 0;
    const feed = (payload: unknown) => seal({ type: 'notice-feed', from: '430000', to: '430100', seq: ++seq, payload, sender: { keyPem: hub.identity.keyPem, certPem: hub.identity.certPem }, recipientCertPem: me.certPem });
    const calls: { after: number; limit: number; mark: string | undefined }[] = [];
    client.getNotices = async (after, limit, _signal, mark) => {
      calls.push({ after, limit, mark });
      if (after === 0) return feed({ items: [], next: 7, more: false, mark: M(7) });
      if (limit > 0 || mark !== M(7)) throw diverged();
      return feed({ items: [], next: after, more: false });
    };
    await s.exchange.notices.pull();
    t.same((await s.db('node_notice_marks')).map((r: { cursor: number | string; mark: string }) => [Number(r.cursor), r.mark]), [[7, M(7)]]);
    await outboxStore.setState(s.db, 'notices.cursor', '9', new Date().toISOString());
    await s.db('node_notice_marks').insert({ cursor: 9, mark: M(9), at: new Date().toISOString() });
    t.same(await s.exchange.notices.pull(), { applied: 0, more: true });
    t.same(calls.slice(1).map((c) => [c.after, c.limit, c.mark]), [[9, 500, M(9)], [7, 0, M(7)]], 'the mark sent, then one probe');
    t.equal(await outboxStore.getState(s.db, 'notices.cursor'), '7');
    const a = await s.db('audit_log').where({ action: 'notice.rewind' });
    t.equal(a.length, 1);
    t.match(a[0].reason, /^ERR_FEED_DIVERGED from=9 to=7 probes=1: the hub's notice feed /);
  });

  t.test(`${engine.name}: an owner's mark notice older than the last one applied is not applied (the notice feed read again after a rewind)`, async (t) => {
    const { s, client, answer, hub } = await setup(t);
    void hub;
    const e = exampleRecord('CF');
    const at0 = new Date().toISOString();
    const rec: WireRecord = { id: uuidv7(), type: 'CF', classification: 'public', fields: { ...e.fields, decisionNo: '常〔2026〕88号' }, createdAt: at0, updatedAt: at0 };
    client.getDistributions = async () => answer({ items: [{ cursor: 1, kind: 'record', sourceNode: '430700', record: rec }], next: 1, more: false });
    await s.exchange.puller.pullOnce();
    const objections = objectionsService({ db: s.db, audit: s.audit, hooks: { onRecordWritten: [], onRecordWithdrawn: [] }, nodeId: '430100', clock: () => new Date(), subjectKey: s.config.subjectKey }, s.records);
    const mark = (disputed: boolean, at: string): Notice => ({ kind: 'mark', owner: '430700', recordId: rec.id, disputed, at });
    const apply = (n: Notice) => s.db.transaction((trx) => objections.applyNotice(trx, '430700', n));
    const disputed = async () => Boolean((await s.db('node_records').where({ id: rec.id }).first()).disputed);
    const t1 = '2026-12-01T01:00:00.000Z';
    const t2 = '2026-12-02T01:00:00.000Z';
    t.ok(await apply(mark(true, t1)));
    t.equal(await disputed(), true);
    t.ok(await apply(mark(false, t2)), 'the objection rejected: undisputed');
    t.equal(await disputed(), false);
    t.equal(await apply(mark(true, t1)), null, 'the older mark again (read again after a rewind): not applied');
    t.equal(await disputed(), false, 'the record stays undisputed');
  });
}
