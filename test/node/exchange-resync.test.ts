/**
 * The batch resync on both engines (node/exchange/resync.ts), against a scripted hub over mutual
 * TLS: the hub has taken seqs this node's store no longer knows (restored from an older backup);
 * its ERR_OUT_OF_ORDER names its last seq; the node renumbers its batches without a receipt to follow
 * it, audited 'batch.resync', and they are accepted. A batch the hub already took keeps its seq and
 * gets its stored receipt (ERR_REPLAY) first, so nothing reaches the hub twice. Only on the hub's
 * signed refusal of that attempt (protocol 1.2, node/exchange/seq-answer.ts).
 */
import t from 'tap';
import { exampleRecord } from '../../protocol/catalog.js';
import { hubLastSeq, renumberAfter } from '../../node/exchange/resync.js';
import { engines } from '../helpers/db.js';
import { makeCa } from '../helpers/pki.js';
import { startFakeHub } from './exchange-fake-hub.js';
import { codeOf, exchangeSetup } from './exchange-fixture.js';

function rec(n: number) {
  const e = exampleRecord('CF');
  return { type: 'CF', fields: { ...e.fields, decisionNo: `复〔2026〕${n}号` } };
}

t.test('hubLastSeq reads only an ERR_OUT_OF_ORDER with a whole lastSeq', async (t) => {
  t.equal(hubLastSeq({ code: 'ERR_OUT_OF_ORDER', details: { lastSeq: 7, seq: 3 } }), 7);
  t.equal(hubLastSeq({ code: 'ERR_OUT_OF_ORDER', details: { seq: 3 } }), null, 'the claim race answer carries no lastSeq');
  t.equal(hubLastSeq({ code: 'ERR_SEQUENCE_GAP', details: { lastSeq: 7 } }), null);
  t.equal(hubLastSeq({ code: 'ERR_OUT_OF_ORDER', details: { lastSeq: 1.5 } }), null);
  t.equal(hubLastSeq(undefined), null);
});

for (const engine of await engines()) {
  t.test(`${engine.name}: a store behind the hub renumbers its unacknowledged batches and catches up`, async (t) => {
    const ca = makeCa();
    const hub = await startFakeHub(ca);
    t.teardown(() => hub.close());
    const s = await exchangeSetup(t, { engine, ca, hubUrl: hub.url, hubCertPem: hub.identity.certPem, hub: { batchMaxAgeMs: 0, batchMaxRecords: 1 } });
    const submitter = s.caller('submitter', 'public');
    await s.records.create(submitter, [rec(1)]);
    await s.exchange.sender.step();
    t.equal(hub.lastSeq.get('430100'), 1);
    // the hub took seqs 2..5 from this node's lost future (written after the backup)
    hub.lastSeq.set('430100', 5);
    const later = await s.records.create(submitter, [rec(2), rec(3)]);
    await s.exchange.sender.step(); // ERR_OUT_OF_ORDER → renumbered
    const renumbered = await s.db('node_batches').whereIn('status', ['open', 'sent']).orderBy('seq');
    t.same(renumbered.map((b: { seq: number | string }) => Number(b.seq)), [6, 7], 'the batches follow the hub\'s last seq');
    await s.exchange.sender.step();
    const all = await s.db('node_batches').orderBy('seq');
    t.same(all.map((b: { seq: number | string; status: string }) => [Number(b.seq), b.status]), [[1, 'accepted'], [6, 'accepted'], [7, 'accepted']]);
    t.same([...hub.batches.values()].filter((b) => b.seq > 1).flatMap((b) => b.payload.records.map((r) => r.id)), later.records.map((r) => r.id), 'each record reached the hub once');
    const audit = await s.db('audit_log').where({ action: 'batch.resync' });
    t.equal(audit.length, 1);
    t.match(audit[0].reason, /hubLastSeq=5 batches=2 seq 2→6 … 3→7 refusal=[0-9a-f-]{36} refusalDigest=[\w-]{43}$/, 'names the hub\'s signed refusal');
    t.same(await renumberAfter(s.db, s.audit, '430100', 5), [], 'nothing left behind the hub: no change');
  });

  t.test(`${engine.name}: an ERR_OUT_OF_ORDER without the hub's signed refusal (protocol 1.2) renumbers nothing, also before the first receipt; a lying one neither`, async (t) => {
    const ca = makeCa();
    const hub = await startFakeHub(ca);
    t.teardown(() => hub.close());
    const s = await exchangeSetup(t, { engine, ca, hubUrl: hub.url, hubCertPem: hub.identity.certPem, hub: { batchMaxAgeMs: 0, batchMaxRecords: 1 } });
    const submitter = s.caller('submitter', 'public');
    hub.lastSeq.set('430100', 5); // a node restored from a backup that holds no receipt: its first batch is behind the hub
    await s.records.create(submitter, [rec(1)]);
    const seqs = async () => (await s.db('node_batches').orderBy('seq')).map((b: { seq: number | string }) => Number(b.seq));
    // a proxy answering for the hub with a made-up last seq (it would push this node's stream out of the hub's reach)
    hub.seqRefusals = 'unsigned';
    hub.rewriteAnswers = (text) => text.replace(/"lastSeq":\d+/, '"lastSeq":9007199254740000');
    t.equal(await codeOf(s.exchange.sender.step()), 'ERR_HUB_ANSWER_INVALID');
    t.same(await seqs(), [1], 'nothing renumbered');
    hub.rewriteAnswers = null;
    hub.seqRefusals = (p) => ({ ...p, digest: 'B'.repeat(43) });
    t.equal(await codeOf(s.exchange.sender.step()), 'ERR_HUB_ANSWER_INVALID', 'a signed refusal of another attempt');
    t.same(await seqs(), [1]);
    t.equal((await s.db('audit_log').where({ action: 'batch.resync' })).length, 0);
    t.equal((await s.db('node_exchange_evidence').where({ type: 'seq-refusal' })).length, 0, 'no refusal kept that was not acted on');
    hub.seqRefusals = 'signed';
    await s.exchange.sender.step();
    await s.exchange.sender.step();
    t.same(await seqs(), [6], 'renumbered on the hub\'s signed word');
    t.equal((await s.db('node_batches').where({ seq: 6 }).first()).status, 'accepted');
    t.equal((await s.db('node_exchange_evidence').where({ type: 'seq-refusal', direction: 'received' })).length, 1, 'the refusal acted on is kept');
  });
}
