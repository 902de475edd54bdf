/**
 * The pipelined sender (two batches in flight, seq n and n + 1) keeps the exchange's promises:
 * batches leave in seq order, never more than two without a receipt, each record reaches the hub
 * once, receipts are stored in seq order, each batch is audited once as sent (before its receipt)
 * and once as receipted — also when an answer is lost mid-run, and when n + 1 overtakes n and is
 * answered ERR_SEQUENCE_GAP. The batch after the two in flight is cut and sealed while they are.
 */
import type { Knex } from 'knex';
import t, { type Test } from 'tap';
import { exampleRecord } from '../../protocol/catalog.js';
import { engines } from '../helpers/db.js';
import { makeCa } from '../helpers/pki.js';
import { startFakeHub } from './exchange-fake-hub.js';
import { codeOf, exchangeSetup } from './exchange-fixture.js';

function rec(n: number) {
  const e = exampleRecord('CF');
  return { type: 'CF', fields: { ...e.fields, decisionNo: `送〔2026〕${n}号` } };
}

/** Each batch audited once as sent and once as receipted, sent before its receipt, both in seq order, at most two open at once. */
async function auditOrder(t: Test, db: Knex, batches: number): Promise<void> {
  const log = (await db('audit_log').whereIn('action', ['batch.send', 'batch.receipt']).orderBy('seq')) as { action: string; reason: string }[];
  const events = log.map((e) => ({ action: e.action, seq: Number(/seq=(\d+)/.exec(e.reason)![1]) }));
  const seqs = (action: string) => events.filter((e) => e.action === action).map((e) => e.seq);
  const all = Array.from({ length: batches }, (_, i) => i + 1);
  t.same(seqs('batch.send'), all, 'each batch audited as sent once, in seq order');
  t.same(seqs('batch.receipt'), all, 'each batch audited as receipted once, in seq order');
  let open = 0;
  let most = 0;
  const sent = new Set<number>();
  for (const e of events) {
    if (e.action === 'batch.send') sent.add(e.seq);
    else t.ok(sent.has(e.seq), `batch ${e.seq} sent before its receipt`);
    open += e.action === 'batch.send' ? 1 : -1;
    most = Math.max(most, open);
  }
  t.equal(most, 2, 'never more than two batches sent without a receipt');
}

for (const engine of await engines()) {
  t.test(`${engine.name}: seven records in batches of two, the first answer lost`, async (t) => {
    const ca = makeCa();
    const hub = await startFakeHub(ca);
    t.teardown(() => hub.close());
    const s = await exchangeSetup(t, { engine, ca, hubUrl: hub.url, hubCertPem: hub.identity.certPem, hub: { batchMaxAgeMs: 0, batchMaxRecords: 2 } });
    const created = await s.records.create(s.caller('submitter', 'public'), [1, 2, 3, 4, 5, 6, 7].map(rec));
    hub.loseAnswers = 1;
    t.equal(await codeOf(s.exchange.sender.step()), 'ERR_HUB_UNAVAILABLE', 'the first answer is lost');
    t.same(hub.posts.map((p) => p.seq), [1, 2], 'seq 2 went behind seq 1 (two in flight), nothing more before a receipt');
    await s.exchange.sender.step();
    t.same(hub.posts.map((p) => p.seq), [1, 2, 1, 2, 3, 4], 'seq 1 and 2 again (their receipts from the 409s), then the rest in order, each once');
    t.equal(hub.batches.size, 4, 'four batches processed');
    const atHub = [...hub.batches.values()].sort((a, b) => a.seq - b.seq).flatMap((b) => b.payload.records.map((r) => r.id));
    t.same(atHub, created.records.map((r) => r.id), 'every record once, in the order written');
    const rows = (await s.db('node_batches').orderBy('seq')) as { seq: number | string; status: string; attempts: number | string; accepted: number | string }[];
    t.same(rows.map((r) => [Number(r.seq), r.status, Number(r.attempts), Number(r.accepted)]), [[1, 'accepted', 2, 2], [2, 'accepted', 2, 2], [3, 'accepted', 1, 2], [4, 'accepted', 1, 1]]);
    await auditOrder(t, s.db, 4);
    const st = await s.exchange.status();
    t.same([st.outbox.pending, st.batches.pending, st.batches.accepted], [0, 0, 4]);
  });

  t.test(`${engine.name}: the batch after the two in flight is cut and sealed while they are, sent only after the first receipt`, async (t) => {
    const ca = makeCa();
    const hub = await startFakeHub(ca);
    t.teardown(() => hub.close());
    const s = await exchangeSetup(t, { engine, ca, hubUrl: hub.url, hubCertPem: hub.identity.certPem, hub: { batchMaxAgeMs: 0, batchMaxRecords: 2 } });
    const created = await s.records.create(s.caller('submitter', 'public'), [1, 2, 3, 4, 5, 6, 7].map(rec));
    let open!: () => void;
    hub.gate = new Promise<void>((r) => (open = r)); // the hub answers nothing until the node has cut seq 3
    const step = s.exchange.sender.step();
    const cut = async () => Number(((await s.db('node_batches').count({ n: '*' }).first()) as { n: number | string }).n);
    for (let i = 0; i < 3000 && (hub.posts.length < 2 || (await cut()) < 3); i++) await new Promise((r) => setTimeout(r, 10)); // a condition, polled: up to 30 s on a loaded machine
    t.equal(await cut(), 3, 'seq 3 cut while seq 1 and 2 wait at the hub');
    t.same(hub.posts.map((p) => p.seq), [1, 2], 'and not sent: two in flight at most');
    hub.gate = null;
    open();
    await step;
    t.same(hub.posts.map((p) => p.seq), [1, 2, 3, 4], 'then every batch once, in order');
    const atHub = [...hub.batches.values()].sort((a, b) => a.seq - b.seq).flatMap((b) => b.payload.records.map((r) => r.id));
    t.same(atHub, created.records.map((r) => r.id), 'every record once, in the order written');
    await auditOrder(t, s.db, 4);
  });

  t.test(`${engine.name}: seq 2 overtakes seq 1 and is answered ERR_SEQUENCE_GAP`, async (t) => {
    const ca = makeCa();
    const hub = await startFakeHub(ca);
    t.teardown(() => hub.close());
    const s = await exchangeSetup(t, { engine, ca, hubUrl: hub.url, hubCertPem: hub.identity.certPem, hub: { batchMaxAgeMs: 0, batchMaxRecords: 2 } });
    const created = await s.records.create(s.caller('submitter', 'public'), [1, 2, 3, 4, 5, 6, 7].map(rec));
    hub.holdNext = true; // seq 1 is held at the hub until seq 2 has been answered
    await s.exchange.sender.step();
    t.same(hub.posts.map((p) => p.seq), [1, 2, 2, 3, 4], 'seq 2 sent once more, alone, right after seq 1 had its receipt');
    const twice = hub.posts.filter((p) => p.seq === 2);
    t.not(twice[0]!.ts, twice[1]!.ts, 'sealed anew: the hub\'s signed refusal of the first attempt does not fit the second');
    const sent = await s.db('node_exchange_evidence').where({ type: 'batch', direction: 'sent', seq: 2 });
    t.equal(new Set(sent.map((e: { digest: string }) => e.digest)).size, 2, 'both attempts in the exchange log');
    t.equal((await s.db('audit_log').where({ action: 'batch.send' })).length, 4, 'one batch.send per batch, not per attempt');
    const atHub = [...hub.batches.values()].sort((a, b) => a.seq - b.seq).flatMap((b) => b.payload.records.map((r) => r.id));
    t.same(atHub, created.records.map((r) => r.id), 'every record once, in the order written');
    const rows = (await s.db('node_batches').orderBy('seq')) as { seq: number | string; status: string; attempts: number | string }[];
    t.same(rows.map((r) => [Number(r.seq), r.status, Number(r.attempts)]), [[1, 'accepted', 1], [2, 'accepted', 2], [3, 'accepted', 1], [4, 'accepted', 1]]);
    await auditOrder(t, s.db, 4);
  });
}
