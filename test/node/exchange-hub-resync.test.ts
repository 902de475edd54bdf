/**
 * The hub's store went back in time (node/exchange/resync.ts reopenFrom), on both node engines,
 * against a scripted hub over mutual TLS: the hub forgets batches it gave receipts for, the node's
 * next batch is answered ERR_SEQUENCE_GAP, and the node sends the forgotten batches again with their
 * ids and seqs ('batch.resync.hub'). Hostile answers: a gap that names a seq at or above the one
 * refused (ignored), a loss below the cosigned floor (sent again, audited ERR_HUB_ROLLED_BACK), a
 * claimed loss the hub did not have (replays, nothing twice), the same loss again (sent again after
 * the loop's backoff), and a batch whose outbox rows were pruned (rebuilt from its receipt).
 * Protocol 1.2: the node acts only on the hub's signed refusal of the very attempt refused
 * (node/exchange/seq-answer.ts); unsigned ones only with hub.unsignedSeqRefusals (a hub of 1.1).
 * The real hub with its store restored from a copy: hub-restore-resync.test.ts.
 */
import t from 'tap';
import { exampleRecord } from '../../protocol/catalog.js';
import { cosignedFloor, hubExpected } from '../../node/exchange/resync.js';
import type { SeqRefusalPayload } from '../../protocol/exchange.js';
import { engines } from '../helpers/db.js';
import { makeCa } from '../helpers/pki.js';
import { startFakeHub, type FakeHub } from './exchange-fake-hub.js';
import { codeOf, exchangeSetup, type ExchangeSetup } from './exchange-fixture.js';

function rec(n: number) {
  const e = exampleRecord('CF');
  return { type: 'CF', fields: { ...e.fields, decisionNo: `失〔2026〕${n}号` } };
}

/** The hub forgets this node's batches above `keep` (a failover to a standby that missed them). */
function forget(hub: FakeHub, keep: number): void {
  for (const [id, b] of hub.batches) if (b.from === '430100' && b.seq > keep) hub.batches.delete(id);
  hub.lastSeq.set('430100', keep);
}

/** Record ids the hub holds from 430100, with repeats (a record twice shows twice). */
const atHub = (hub: FakeHub) => [...hub.batches.values()].filter((b) => b.from === '430100').flatMap((b) => b.payload.records.map((r) => r.id)).sort();

const batches = async (s: ExchangeSetup) => (await s.db('node_batches').orderBy('seq')).map((b: { seq: number | string; status: string }) => [Number(b.seq), b.status]);

t.test('hubExpected takes only a whole expected seq from 1 to below the refused seq', async (t) => {
  t.equal(hubExpected({ code: 'ERR_SEQUENCE_GAP', details: { expected: 3, seq: 6 } }, 6), 3);
  t.equal(hubExpected({ code: 'ERR_SEQUENCE_GAP', details: { expected: 6, seq: 6 } }, 6), null, 'not a gap: the seq refused itself');
  t.equal(hubExpected({ code: 'ERR_SEQUENCE_GAP', details: { expected: 9, seq: 6 } }, 6), null, 'above the node\'s own seq');
  t.equal(hubExpected({ code: 'ERR_SEQUENCE_GAP', details: { expected: 0 } }, 6), null, 'seqs start at 1');
  t.equal(hubExpected({ code: 'ERR_SEQUENCE_GAP', details: { expected: -2 } }, 6), null);
  t.equal(hubExpected({ code: 'ERR_SEQUENCE_GAP', details: { expected: 2.5 } }, 6), null);
  t.equal(hubExpected({ code: 'ERR_SEQUENCE_GAP', details: { expected: '3' } }, 6), null);
  t.equal(hubExpected({ code: 'ERR_OUT_OF_ORDER', details: { expected: 3 } }, 6), null);
  t.equal(hubExpected(undefined, 6), null);
});

for (const engine of await engines()) {
  const setup = async (t: { teardown(fn: () => unknown): void }, o: { unsignedSeqRefusals?: boolean } = {}) => {
    const ca = makeCa();
    const hub = await startFakeHub(ca);
    t.teardown(() => hub.close());
    const s = await exchangeSetup(t, { engine, ca, hubUrl: hub.url, hubCertPem: hub.identity.certPem, hub: { batchMaxAgeMs: 0, batchMaxRecords: 1, ...o } });
    const submitter = s.caller('submitter', 'public');
    const send = async (...nums: number[]) => {
      const ids: string[] = [];
      for (const n of nums) ids.push(...(await s.records.create(submitter, [rec(n)])).records.map((r) => r.id));
      await s.exchange.sender.step();
      return ids;
    };
    return { hub, s, send };
  };

  t.test(`${engine.name}: the hub lost its last two batches: the node sends them again with their ids and seqs and goes on`, async (t) => {
    const { hub, s, send } = await setup(t);
    const first = await send(1, 2, 3, 4);
    t.same(await batches(s), [[1, 'accepted'], [2, 'accepted'], [3, 'accepted'], [4, 'accepted']]);
    const lostIds = [...hub.batches.values()].filter((b) => b.seq > 2).map((b) => b.id).sort();
    forget(hub, 2);
    const later = await send(5); // seq 5: ERR_SEQUENCE_GAP, expected 3 → seqs 3 and 4 reopened
    t.same(await batches(s), [[1, 'accepted'], [2, 'accepted'], [3, 'sent'], [4, 'sent'], [5, 'sent']], 'the lost batches are waiting for a receipt again');
    await s.exchange.sender.step();
    t.same(await batches(s), [[1, 'accepted'], [2, 'accepted'], [3, 'accepted'], [4, 'accepted'], [5, 'accepted']]);
    t.same([...hub.batches.values()].filter((b) => b.seq > 2 && b.seq < 5).map((b) => b.id).sort(), lostIds, 'sent again under their own ids');
    t.same(atHub(hub), [...first, ...later].sort(), 'every record at the hub, each once');
    for (const b of await s.db('node_batches')) {
      t.equal(JSON.parse(b.receipt).id, hub.batches.get(b.id)!.receipt.id, `seq ${b.seq}: the receipt the node holds is the one the hub holds`);
    }
    const audit = await s.db('audit_log').where({ action: 'batch.resync.hub' });
    t.equal(audit.length, 1);
    t.equal(audit[0].outcome, 'success', 'nothing the hub had attested was lost');
    t.match(audit[0].reason, /^hubLastSeq=2 batches=2 seq 3…4 cosignedFloor=0 refusal=[0-9a-f-]{36} refusalDigest=[\w-]{43}: /, 'names the hub\'s signed refusal');
    const refusalId = /refusal=([0-9a-f-]{36})/.exec(audit[0].reason)![1];
    const kept = await s.db('node_exchange_evidence').where({ envelope_id: refusalId });
    t.equal(kept.length, 1, 'the signed refusal is in the node\'s exchange log');
    t.equal(kept[0].direction, 'received');
    t.equal((await s.db('audit_log').where({ action: 'batch.receipt' })).length, 7, 'a receipt audited for each answer, the re-sent ones again');
    t.equal((await s.db('node_exchange_evidence').where({ type: 'receipt', direction: 'received' })).length, 7, 'the first receipts stay in the exchange log');
  });

  t.test(`${engine.name}: a hub before protocol 1.2 (unsigned refusals, hub.unsignedSeqRefusals set): a gap naming a seq at or above the one refused is ignored; a true one is acted on, audited as unsigned`, async (t) => {
    const { hub, s, send } = await setup(t, { unsignedSeqRefusals: true });
    hub.seqRefusals = 'unsigned';
    await send(1, 2);
    forget(hub, 1); // seq 2 lost, so seq 3 is a gap …
    hub.rewriteAnswers = (text) => text.replace(/"expected":\d+/, '"expected":7'); // … whose answer names seq 7
    await s.records.create(s.caller('submitter', 'public'), [rec(3)]);
    t.equal(await codeOf(s.exchange.sender.step()), 'ERR_SEQUENCE_GAP', 'the refusal stands');
    t.same(await batches(s), [[1, 'accepted'], [2, 'accepted'], [3, 'sent']], 'no receipted batch reopened, no seq moved');
    hub.rewriteAnswers = (text) => text.replace(/"expected":\d+/, '"expected":0');
    t.equal(await codeOf(s.exchange.sender.step()), 'ERR_SEQUENCE_GAP');
    t.same(await batches(s), [[1, 'accepted'], [2, 'accepted'], [3, 'sent']]);
    t.equal((await s.db('audit_log').where({ action: 'batch.resync.hub' })).length, 0);
    hub.rewriteAnswers = null; // the hub's true answer: expected 2
    await s.exchange.sender.step();
    await s.exchange.sender.step();
    t.same(await batches(s), [[1, 'accepted'], [2, 'accepted'], [3, 'accepted']]);
    const audit = await s.db('audit_log').where({ action: 'batch.resync.hub' });
    t.match(audit[0]?.reason, / unsigned \(hub\.unsignedSeqRefusals: a hub before protocol 1\.2\): /, 'the audit entry says the hub did not sign it');
  });

  t.test(`${engine.name}: an unsigned gap is not acted on (ERR_HUB_ANSWER_INVALID); the signed one is`, async (t) => {
    const { hub, s, send } = await setup(t);
    await send(1, 2);
    forget(hub, 1);
    hub.seqRefusals = 'unsigned'; // stripped on the way (a proxy), or a hub that will not put its name to it
    await s.records.create(s.caller('submitter', 'public'), [rec(3)]);
    t.equal(await codeOf(s.exchange.sender.step()), 'ERR_HUB_ANSWER_INVALID');
    t.same(await batches(s), [[1, 'accepted'], [2, 'accepted'], [3, 'sent']], 'nothing reopened');
    t.equal((await s.db('audit_log').where({ action: 'batch.resync.hub' })).length, 0);
    t.match((await s.db('node_batches').where({ seq: 3 }).first()).last_error, /^ERR_HUB_ANSWER_INVALID/, 'the batch says why');
    hub.seqRefusals = 'signed';
    await s.exchange.sender.step(); // seq 2 reopened
    await s.exchange.sender.step();
    t.same(await batches(s), [[1, 'accepted'], [2, 'accepted'], [3, 'accepted']]);
  });

  t.test(`${engine.name}: a signed refusal that does not fit the attempt refused is not acted on`, async (t) => {
    const { hub, s, send } = await setup(t);
    await send(1, 2);
    forget(hub, 1);
    await s.records.create(s.caller('submitter', 'public'), [rec(3)]);
    const lies: [string, (p: SeqRefusalPayload) => SeqRefusalPayload][] = [
      ['another attempt of the batch (a refusal recorded earlier)', (p) => ({ ...p, digest: 'A'.repeat(43) })],
      ['another batch', (p) => ({ ...p, batchId: '01890000-0000-7000-8000-000000000000' })],
      ['another seq', (p) => ({ ...p, seq: p.seq + 1 })],
      ['a gap at the seq refused itself', (p) => ({ ...p, hubLastSeq: p.seq - 1 })],
      ['another code', (p) => ({ ...p, code: 'ERR_OUT_OF_ORDER', hubLastSeq: p.seq })],
      ['an extra member', (p) => ({ ...p, note: 'x' }) as SeqRefusalPayload],
    ];
    for (const [what, lie] of lies) {
      hub.seqRefusals = lie;
      t.equal(await codeOf(s.exchange.sender.step()), 'ERR_HUB_ANSWER_INVALID', what);
      t.same(await batches(s), [[1, 'accepted'], [2, 'accepted'], [3, 'sent']], `${what}: nothing reopened`);
    }
    t.equal((await s.db('audit_log').where({ action: 'batch.resync.hub' })).length, 0);
    t.equal((await s.db('node_exchange_evidence').where({ type: 'seq-refusal' })).length, 0, 'none kept as the hub\'s word');
  });

  t.test(`${engine.name}: a loss below the cosigned floor is sent again and audited as ERR_HUB_ROLLED_BACK; the same loss again waits for the backoff`, async (t) => {
    const { hub, s, send } = await setup(t);
    const ids = await send(1, 2, 3);
    t.equal(await cosignedFloor(s.db), 0, 'no cosignature yet');
    await s.exchange.witness!.witnessOnce(); // the hub cosigns a head of the node's log holding the three receipts
    t.equal(await cosignedFloor(s.db), 3);
    forget(hub, 1);
    ids.push(...(await send(4)));
    const audit = await s.db('audit_log').where({ action: 'batch.resync.hub' });
    t.equal(audit.length, 1);
    t.equal(audit[0].outcome, 'failure', 'a security event');
    t.match(audit[0].reason, /^ERR_HUB_ROLLED_BACK hubLastSeq=1 batches=2 seq 2…3 cosignedFloor=3 refusal=[0-9a-f-]{36} refusalDigest=[\w-]{43}: /, 'the security event names the hub\'s signed word');
    await s.exchange.sender.step();
    t.same(atHub(hub), [...ids].sort(), 'sent again all the same: nothing lost, nothing twice');

    // the hub loses the same batches again: done again, but the sender waits its backoff first
    forget(hub, 1);
    await s.records.create(s.caller('submitter', 'public'), [rec(5)]);
    t.equal(await codeOf(s.exchange.sender.step()), 'ERR_SEQUENCE_GAP', 'a repeated resync ends the round with the refusal (the loop backs off)');
    const again = await s.db('audit_log').where({ action: 'batch.resync.hub' }).orderBy('seq');
    t.equal(again.length, 2);
    t.match(again[1].reason, / repeated refusal=[0-9a-f-]{36} /);
    await s.exchange.sender.step();
    t.same(await batches(s), [[1, 'accepted'], [2, 'accepted'], [3, 'accepted'], [4, 'accepted'], [5, 'accepted']]);
    t.equal(atHub(hub).length, 5, 'each record once');
  });

  t.test(`${engine.name}: a hub claiming a loss it did not have gets replays: the receipts it stored, nothing twice`, async (t) => {
    const { hub, s, send } = await setup(t);
    const ids = await send(1, 2, 3);
    const stored = new Map([...hub.batches.values()].map((b) => [b.id, b.receipt.id]));
    hub.lastSeq.set('430100', 1); // it says 1 once, but keeps the batches of seqs 2 and 3
    ids.push(...(await send(4)));
    t.same(await batches(s), [[1, 'accepted'], [2, 'sent'], [3, 'sent'], [4, 'sent']]);
    hub.lastSeq.set('430100', 3);
    await s.exchange.sender.step();
    t.same(await batches(s), [[1, 'accepted'], [2, 'accepted'], [3, 'accepted'], [4, 'accepted']]);
    t.same(atHub(hub), [...ids].sort(), 'each record once');
    for (const b of await s.db('node_batches').whereIn('seq', [2, 3])) t.equal(JSON.parse(b.receipt).id, stored.get(b.id), `seq ${b.seq}: the stored receipt came back`);
    t.equal(hub.posts.filter((p) => p.seq === 2).length, 2, 'asked again once');
  });

  t.test(`${engine.name}: a lost batch whose outbox rows were pruned is rebuilt from its receipt`, async (t) => {
    const { hub, s, send } = await setup(t);
    const ids = await send(1, 2);
    const lost = (await s.db('node_batches').where({ seq: 2 }).first()).id as string;
    await s.db('node_outbox').where({ batch_id: lost }).del(); // as retention does once the receipt is old enough
    forget(hub, 1);
    ids.push(...(await send(3)));
    await s.exchange.sender.step();
    t.same(atHub(hub), [...ids].sort(), 'the pruned batch\'s record reached the hub again, once');
    t.same(hub.batches.get(lost)!.payload.records.map((r) => r.id), [ids[1]], 'under its own id, with its own record');
  });

  t.test(`${engine.name}: a pruned batch is rebuilt after two key renewals (its receipt no longer opens)`, async (t) => {
    const { hub, s, send } = await setup(t);
    const ids = await send(1, 2);
    const lost = (await s.db('node_batches').where({ seq: 2 }).first()).id as string;
    await s.db('node_outbox').where({ batch_id: lost }).del();
    await s.exchange.renewal.renewNow();
    await s.exchange.renewal.renewNow(); // the key the receipt was sealed to is gone now
    t.equal(hub.renewals, 2);
    forget(hub, 1);
    ids.push(...(await send(3)));
    await s.exchange.sender.step();
    t.same(await batches(s), [[1, 'accepted'], [2, 'accepted'], [3, 'accepted']], 'the outbox is not stalled');
    t.same(hub.batches.get(lost)!.payload.records.map((r) => r.id), [ids[1]], 'the lost batch again, with its own record');
    t.same(atHub(hub), [...ids].sort(), 'each record once');
  });

  t.test(`${engine.name}: receipt_items keep only what the receipt names of the batch's own outbox rows`, async (t) => {
    const { hub, s, send } = await setup(t);
    const [other] = await send(1); // batch 1
    hub.rewriteReceipt = (p) => ({ ...p, accepted: [...p.accepted, other!, 'not-a-record'], withdrawn: [other!], versioned: [other!] });
    const ids = await send(2); // batch 2's receipt also names batch 1's record, as accepted, withdrawn and versioned
    t.same(JSON.parse((await s.db('node_batches').where({ seq: 2 }).first()).receipt_items), { accepted: [ids[0]], versioned: [], withdrawn: [] }, 'ids the batch did not carry are not kept');
  });

  t.test(`${engine.name}: a renewal first notes what each older stored receipt says (receipts from before the receipt_items column)`, async (t) => {
    const { hub, s, send } = await setup(t);
    const ids = await send(1, 2);
    await s.db('node_batches').update({ receipt_items: null }); // as a store upgraded from a version without the column
    const lost = (await s.db('node_batches').where({ seq: 2 }).first()).id as string;
    await s.db('node_outbox').where({ batch_id: lost }).del();
    await s.exchange.renewal.renewNow();
    t.same(JSON.parse((await s.db('node_batches').where({ seq: 2 }).first()).receipt_items), { accepted: [ids[1]], versioned: [], withdrawn: [] }, 'noted before the key changed');
    t.same(JSON.parse((await s.db('node_batches').where({ seq: 1 }).first()).receipt_items), { accepted: [ids[0]], versioned: [], withdrawn: [] });
    const kept = (await s.db('node_batches').where({ seq: 1 }).first()).receipt as string;
    await s.db('node_batches').where({ seq: 1 }).update({ receipt_items: null, receipt: '{"not":"a receipt"}' });
    await s.exchange.renewal.renewNow(); // a receipt that fails to open for another reason than the key is left for the next time; the renewal goes on
    t.equal(hub.renewals, 2);
    t.equal((await s.db('node_batches').where({ seq: 1 }).first()).receipt_items, null);
    await s.db('node_batches').where({ seq: 1 }).update({ receipt: kept }); // sealed to the first key, which two renewals later is gone
    t.equal(await s.exchange.sender.noteReceiptItems(), 0);
    t.equal((await s.db('node_batches').where({ seq: 1 }).first()).receipt_items, 'unreadable', 'no key held opens it: marked, not tried again');
    await s.db('node_batches').where({ seq: 1 }).update({ receipt_items: JSON.stringify({ accepted: [ids[0]], versioned: [], withdrawn: [] }) });
    await s.exchange.renewal.renewNow();
    forget(hub, 1);
    ids.push(...(await send(3)));
    await s.exchange.sender.step();
    t.same(await batches(s), [[1, 'accepted'], [2, 'accepted'], [3, 'accepted']]);
    t.same(atHub(hub), [...ids].sort(), 'each record once');
  });
}
