/**
 * The inbox on both engines, pulling from a scripted hub over mutual TLS: records of other nodes
 * stored with their id and source node; withdrawals applied with their reason (and open
 * objections closed); the cursor moved in the same transaction; applying again changes nothing;
 * own, invalid and unknown items skipped; paging with `more`; nothing of it enters the outbox.
 */
import t from 'tap';
import { exampleRecord } from '../../protocol/catalog.js';
import { uuidv7 } from '../../protocol/crypto.js';
import type { DistributionItem, WireRecord } from '../../protocol/exchange.js';
import { CURSOR_KEY } from '../../node/exchange/puller.js';
import { outboxStore } from '../../node/exchange/outbox-store.js';
import { engines } from '../helpers/db.js';
import { makeCa } from '../helpers/pki.js';
import { startFakeHub } from './exchange-fake-hub.js';
import { exchangeSetup } from './exchange-fixture.js';

function wire(type: string, n: number, classification: WireRecord['classification'] = 'public'): WireRecord {
  const e = exampleRecord(type);
  const at = new Date().toISOString();
  return { id: uuidv7(), type, classification, fields: { ...e.fields, decisionNo: `常〔2026〕${n}号` }, createdAt: at, updatedAt: at };
}

for (const engine of await engines()) {
  t.test(`${engine.name}: distributions are applied once, with the cursor, and never queued back`, async (t) => {
    const ca = makeCa();
    const hub = await startFakeHub(ca);
    t.teardown(() => hub.close());
    const s = await exchangeSetup(t, { engine, ca, hubUrl: hub.url, hubCertPem: hub.identity.certPem });
    const a = wire('CF', 1);
    const b = wire('SXBZX', 2, 'shared');
    const bad = { ...wire('CF', 3), fields: { ...wire('CF', 3).fields, uscc: 'not-a-uscc' } };
    hub.distributions.push(
      { cursor: 5, kind: 'record', sourceNode: '430700', record: a },
      { cursor: 6, kind: 'record', sourceNode: '430700', record: b },
      { cursor: 7, kind: 'record', sourceNode: '430700', record: bad },
      { cursor: 8, kind: 'withdrawal', sourceNode: '430700', id: uuidv7(), type: 'CF', status: 'withdrawn', reason: 'correction', at: new Date().toISOString() },
    );
    const r = await s.exchange.puller.pullOnce();
    t.same(r, { cursor: 8, records: 2, versions: 0, withdrawals: 0, skipped: 2, more: false }, 'two stored; the invalid record and the unknown withdrawal skipped');
    const stored = await s.db('node_records').orderBy('id');
    t.same(stored.map((x: { id: string; source_node: string; status: string }) => [x.id, x.source_node, x.status]).sort(), [[a.id, '430700', 'active'], [b.id, '430700', 'active']].sort());
    t.equal(await outboxStore.getState(s.db, CURSOR_KEY), '8', 'the cursor moved');
    t.equal(await s.exchange.puller.pullOnce(), null, 'nothing new after the cursor');

    // The same items applied again (a crash after the hub answered, before the commit): no change.
    const again = await s.exchange.puller.apply(uuidv7(), hub.distributions, 8);
    t.same([again.records, again.skipped], [0, 4], 'idempotent');
    t.equal((await s.db('node_records')).length, 2);

    // An open objection on a received record, then its owner withdraws it.
    const o = await s.repair.object(s.caller('officer', 'shared'), a.id, '异议：已整改');
    hub.distributions.push({ cursor: 9, kind: 'withdrawal', sourceNode: '430700', id: a.id, type: 'CF', status: 'withdrawn', reason: 'objection-upheld', at: new Date().toISOString() });
    const w = await s.exchange.puller.pullOnce();
    t.same([w?.withdrawals, w?.cursor], [1, 9]);
    const row = await s.db('node_records').where({ id: a.id }).first();
    t.same([row.status, row.withdrawn_reason, Boolean(row.disputed)], ['withdrawn', 'objection-upheld', false], 'withdrawn with the owner\'s reason');
    t.equal((await s.db('node_objections').where({ id: o.id }).first()).status, 'closed', 'the local objection closed');
    const withdrawAudit = await s.db('audit_log').where({ action: 'record.withdraw', object: a.id }).first();
    t.match(withdrawAudit, { actor: 'node:430700', outcome: 'success', reason: 'objection-upheld' });
    t.equal((await s.db('audit_log').where({ action: 'distribution.apply' })).length, 3, 'each applied envelope audited');

    // A withdrawal claiming another node's record (430181 did not publish it) is ignored.
    hub.distributions.push({ cursor: 10, kind: 'withdrawal', sourceNode: '430181', id: b.id, type: 'SXBZX', status: 'withdrawn', reason: 'repair', at: new Date().toISOString() });
    const x = await s.exchange.puller.pullOnce();
    t.same([x?.withdrawals, x?.skipped], [0, 1]);
    t.equal((await s.db('node_records').where({ id: b.id }).first()).status, 'active');
    t.equal((await s.db('node_outbox')).length, 0, 'nothing received was queued for the hub');
  });
}

t.test('paging: `more` pulls again at once, then the poll interval', async (t) => {
  const ca = makeCa();
  const hub = await startFakeHub(ca);
  t.teardown(() => hub.close());
  const s = await exchangeSetup(t, { ca, hubUrl: hub.url, hubCertPem: hub.identity.certPem, hub: { pollIntervalMs: 1234 } });
  const items: DistributionItem[] = [];
  for (let i = 1; i <= 1500; i++) items.push({ cursor: i, kind: 'record', sourceNode: '430700', record: wire('XK', 1000 + i) });
  hub.distributions.push(...items);
  t.equal(await s.exchange.puller.step(), 0, 'a full page: ask again right away');
  t.equal(await s.exchange.puller.cursor(), 1000);
  t.equal(await s.exchange.puller.step(), 1234, 'the rest; then wait pollIntervalMs');
  t.equal(await s.exchange.puller.cursor(), 1500);
  t.equal((await s.db('node_records')).length, 1500);
});

t.test('a distribution not addressed to this node, or not from the hub, is refused; the cursor stays', async (t) => {
  const ca = makeCa();
  const hub = await startFakeHub(ca);
  t.teardown(() => hub.close());
  const s = await exchangeSetup(t, { ca, hubUrl: hub.url, hubCertPem: hub.identity.certPem });
  const { seal } = await import('../../protocol/seal.js');
  const { issue } = await import('../helpers/pki.js');
  const other = issue(ca, '430700');
  const me = s.exchange.identity.current();
  const fromNode = await seal({ type: 'distribution', from: '430700', to: '430100', seq: 1, payload: { items: [], next: 1, more: false }, sender: other, recipientCertPem: me.certPem });
  const client = s.exchange.client();
  const original = client.getDistributions;
  client.getDistributions = async () => fromNode;
  await t.rejects(s.exchange.puller.pullOnce(), { code: 'ERR_HUB_ANSWER_INVALID' });
  const toOther = await seal({ type: 'distribution', from: '430000', to: '430700', seq: 1, payload: { items: [], next: 1, more: false }, sender: { keyPem: hub.identity.keyPem, certPem: hub.identity.certPem }, recipientCertPem: other.certPem });
  client.getDistributions = async () => toOther;
  await t.rejects(s.exchange.puller.pullOnce(), { code: 'ERR_WRONG_RECIPIENT' });
  client.getDistributions = original;
  t.equal(await s.exchange.puller.cursor(), 0);
});

t.test("a hub answer that is not I-JSON (a member twice, seq written 1.0) is refused; the cursor stays (issue 13 item 20)", async (t) => {
  const ca = makeCa();
  const hub = await startFakeHub(ca);
  t.teardown(() => hub.close());
  const s = await exchangeSetup(t, { ca, hubUrl: hub.url, hubCertPem: hub.identity.certPem });
  hub.distributions.push({ cursor: 1, kind: 'record', sourceNode: '430700', record: wire('CF', 9001) });
  hub.rewriteAnswers = (text) => text.replace('"to":"430100"', '"to":"430700","to":"430100"');
  await t.rejects(s.exchange.puller.pullOnce(), { code: 'ERR_HUB_ANSWER_INVALID', details: [{ field: 'to', message: /duplicate member name/ }] });
  hub.rewriteAnswers = (text) => text.replace(/"seq":(\d+),/, '"seq":$1.0,');
  await t.rejects(s.exchange.puller.pullOnce(), { code: 'ERR_HUB_ANSWER_INVALID', details: [{ field: 'seq', message: /without fraction or exponent/ }] });
  t.equal(await s.exchange.puller.cursor(), 0, 'nothing applied');
  hub.rewriteAnswers = null;
  t.match(await s.exchange.puller.pullOnce(), { cursor: 1, records: 1 }, 'the same answer written plainly is applied');
});
