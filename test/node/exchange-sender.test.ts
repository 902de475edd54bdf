/**
 * The sender against a scripted hub over real mutual TLS: receipts verified and stored; an answer
 * lost after the hub processed the batch is recovered from 409 ERR_REPLAY's stored receipt (same
 * id and seq, fresh ts, stored once); a policy refusal marks the batch refused and the next seq
 * goes on; 503 + Retry-After is honoured by the backoff; a receipt for another batch is refused;
 * a restart with a cut, unsent batch sends that same batch.
 */
import t from 'tap';
import { exampleRecord } from '../../protocol/catalog.js';
import { HubError } from '../../node/exchange/hub-client.js';
import { backoffDelay, HoldOff } from '../../node/exchange/loop.js';
import { busyWait } from '../../node/exchange/sender.js';
import { engines, sqliteEngine } from '../helpers/db.js';
import { makeCa } from '../helpers/pki.js';
import { startFakeHub } from './exchange-fake-hub.js';
import { codeOf, exchangeSetup } from './exchange-fixture.js';

function rec(n: number) {
  const e = exampleRecord('CF');
  return { type: 'CF', fields: { ...e.fields, decisionNo: `送〔2026〕${n}号` } };
}

async function hubAndNode(t: Parameters<typeof exchangeSetup>[0], engine = sqliteEngine) {
  const ca = makeCa();
  const hub = await startFakeHub(ca);
  t.teardown(() => hub.close());
  const s = await exchangeSetup(t, { engine, ca, hubUrl: hub.url, hubCertPem: hub.identity.certPem, hub: { batchMaxAgeMs: 0 } });
  return { hub, s };
}

for (const engine of await engines()) {
  t.test(`${engine.name}: a batch is sent, its receipt verified and stored, audited`, async (t) => {
    const { hub, s } = await hubAndNode(t, engine);
    const r = await s.records.create(s.caller('submitter', 'public'), [rec(1), rec(2)]);
    const wait = await s.exchange.sender.step();
    t.ok(wait > 0, 'idle afterwards');
    t.equal(hub.batches.size, 1);
    const [sent] = [...hub.batches.values()];
    t.same(sent!.payload.records.map((x) => x.id), r.records.map((x) => x.id), 'the records, in order');
    t.equal(sent!.seq, 1);
    const row = await s.db('node_batches').where({ id: sent!.id }).first();
    t.same([row.status, Number(row.accepted), Number(row.rejected), Number(row.attempts)], ['accepted', 2, 0, 1]);
    t.same(JSON.parse(row.receipt).id, sent!.receipt.id, 'the receipt envelope as the hub signed it');
    const actions = (await s.db('audit_log').orderBy('seq')).map((e: { action: string }) => e.action);
    t.ok(actions.includes('batch.send') && actions.includes('batch.receipt'), 'batch.send and batch.receipt audited');
    const st = await s.exchange.status();
    t.same([st.outbox.pending, st.batches.pending, st.batches.accepted, st.batches.lastSeq], [0, 0, 1, 1]);
  });
}

t.test('an answer lost after processing: the same batch again, receipt from 409 ERR_REPLAY, stored once', async (t) => {
  const { hub, s } = await hubAndNode(t);
  await s.records.create(s.caller('submitter', 'public'), [rec(3)]);
  hub.loseAnswers = 1;
  t.equal(await codeOf(s.exchange.sender.step()), 'ERR_HUB_UNAVAILABLE', 'the connection was cut before the answer');
  const b = await s.db('node_batches').first();
  t.same([b.status, Number(b.attempts)], ['sent', 1], 'kept, waiting for a receipt');
  t.match(b.last_error, /ERR_HUB_UNAVAILABLE/);
  await new Promise((r) => setTimeout(r, 5)); // a later ts
  await s.exchange.sender.step();
  t.equal(hub.posts.length, 2);
  t.same([hub.posts[0]!.id, hub.posts[0]!.seq], [hub.posts[1]!.id, hub.posts[1]!.seq], 'same id and seq');
  t.not(hub.posts[0]!.ts, hub.posts[1]!.ts, 'fresh ts');
  t.equal(hub.batches.size, 1, 'the hub stored it once');
  const after = await s.db('node_batches').first();
  t.same([after.status, Number(after.attempts), after.last_error], ['accepted', 2, null]);
  t.equal(JSON.parse(after.receipt).id, hub.batches.get(b.id)!.receipt.id, 'the stored receipt from the 409');
});

t.test('403 ERR_CLASSIFICATION_DENIED: the batch is refused (seq consumed) and the next goes on', async (t) => {
  const { hub, s } = await hubAndNode(t);
  await s.records.create(s.caller('submitter', 'public'), [rec(4)]);
  hub.refuse = 1;
  await s.exchange.sender.step();
  await s.records.create(s.caller('submitter', 'public'), [rec(5)]);
  await s.exchange.sender.step();
  const rows = await s.db('node_batches').orderBy('seq');
  t.same(rows.map((b: { seq: number | string; status: string }) => [Number(b.seq), b.status]), [[1, 'refused'], [2, 'accepted']]);
  t.equal(rows[0].last_error, 'ERR_CLASSIFICATION_DENIED');
  const receipt = await s.db('audit_log').where({ action: 'batch.receipt', outcome: 'failure' }).first();
  t.match(receipt.reason, /outcome=refused code=ERR_CLASSIFICATION_DENIED/);
  t.equal((await s.exchange.status()).batches.refused, 1);
});

t.test('503 ERR_HUB_BUSY: the round ends with a HoldOff of Retry-After plus jitter (a wait wake() does not cut, no failure), and the batch goes next time', async (t) => {
  const { hub, s } = await hubAndNode(t);
  await s.records.create(s.caller('submitter', 'public'), [rec(16)]);
  hub.busy = 1;
  hub.retryAfterSeconds = 2;
  let held: unknown;
  try {
    await s.exchange.sender.step();
  } catch (e) {
    held = e;
  }
  t.ok(held instanceof HoldOff, 'a HoldOff');
  const wait = (held as HoldOff).ms;
  t.ok(wait >= 2000 && wait <= 3000, `waits ${wait} ms: Retry-After 2 s plus up to half again`);
  t.same([(held as HoldOff).code, (held as HoldOff).status], ['ERR_HUB_BUSY', 503]);
  const b = await s.db('node_batches').first();
  t.same([b.status, Number(b.attempts)], ['sent', 1]);
  t.match(b.last_error, /ERR_HUB_BUSY \(HTTP 503\)/, 'noted on the batch');
  await s.exchange.sender.step();
  t.equal((await s.db('node_batches').first()).status, 'accepted', 'taken at the next round');
  t.equal(hub.batches.size, 1);
  t.equal(busyWait({ retryAfterMs: 1000 }, () => 0), 1000);
  t.equal(busyWait({ retryAfterMs: 1000 }, () => 1), 1500);
  t.equal(busyWait({}, () => 0), 1000, 'no Retry-After: 1 s');
  t.equal(busyWait({ retryAfterMs: 3_600_000 }, () => 0), 60_000, 'at most a minute');
});

t.test('503 with Retry-After: the error carries it and the backoff waits at least that long', async (t) => {
  const { hub, s } = await hubAndNode(t);
  await s.records.create(s.caller('submitter', 'public'), [rec(6)]);
  hub.unavailable = 1;
  hub.retryAfterSeconds = 7;
  let err: unknown;
  try {
    await s.exchange.sender.step();
  } catch (e) {
    err = e;
  }
  t.ok(err instanceof HubError);
  t.same([(err as HubError).code, (err as HubError).status, (err as HubError).retryAfterMs], ['ERR_NOT_READY', 503, 7000]);
  t.equal(backoffDelay(1, undefined, 7000, () => 0), 7000, 'Retry-After beats a shorter backoff');
  t.equal(backoffDelay(20, { baseMs: 500, capMs: 30_000, jitter: 0.5 }, undefined, () => 0), 30_000, 'capped at 30 s');
  t.equal(backoffDelay(20, { baseMs: 500, capMs: 30_000, jitter: 0.5 }, undefined, () => 1), 15_000, 'jitter draws from [cap/2, cap]');
  t.equal(backoffDelay(3, { baseMs: 500, capMs: 30_000, jitter: 0 }), 2000, 'doubling');
  await s.exchange.sender.step();
  t.equal((await s.db('node_batches').first()).status, 'accepted', 'sent once the hub is back');
});

t.test('a receipt for another batch is refused (ERR_HUB_ANSWER_INVALID); the batch is sent again', async (t) => {
  const { hub, s } = await hubAndNode(t);
  await s.records.create(s.caller('submitter', 'public'), [rec(7)]);
  hub.wrongReceipts = 1;
  t.equal(await codeOf(s.exchange.sender.step()), 'ERR_HUB_ANSWER_INVALID');
  t.equal((await s.db('node_batches').first()).status, 'sent');
  await s.exchange.sender.step();
  t.equal((await s.db('node_batches').first()).status, 'accepted');
  t.equal(hub.posts.length, 2);
});

t.test('a receipt signed by someone else than the hub is refused', async (t) => {
  const { s } = await hubAndNode(t);
  await s.records.create(s.caller('submitter', 'public'), [rec(8)]);
  const b = await s.exchange.sender.cutIfDue(true);
  if (!('id' in b)) return t.fail('no batch');
  // An envelope of type receipt, sealed by another node (430700) to this one.
  const { seal } = await import('../../protocol/seal.js');
  const { issue } = await import('../helpers/pki.js');
  const other = issue(s.ca, '430700');
  const fake = await seal({ type: 'receipt', from: '430700', to: '430100', seq: 1, payload: { batchId: b.id, seq: b.seq }, sender: other, recipientCertPem: s.exchange.identity.current().certPem });
  t.equal(await codeOf(s.exchange.sender.openReceipt(b, fake)), 'ERR_HUB_ANSWER_INVALID', 'not from 430000');
  const tampered = { ...(fake as object), from: '430000' };
  t.equal(await codeOf(s.exchange.sender.openReceipt(b, tampered)), 'ERR_SIGNATURE_INVALID', 'a changed header breaks the signature');
});

t.test('restart with a cut, unsent batch: the same batch id is sent, nothing twice', async (t) => {
  const ca = makeCa();
  const hub = await startFakeHub(ca);
  const cleanups: (() => unknown)[][] = [[], []];
  t.teardown(async () => {
    for (const list of cleanups) for (const fn of list) await fn();
    await hub.close();
  });
  const first = await exchangeSetup({ teardown: (fn) => cleanups[1]!.push(fn) }, { ca, hubUrl: 'https://127.0.0.1:1', hubCertPem: hub.identity.certPem, hub: { batchMaxAgeMs: 0, timeoutMs: 1000 } });
  // The first process: records, a batch cut, the hub unreachable (port 1).
  await first.records.create(first.caller('submitter', 'public'), [rec(9), rec(10)]);
  t.equal(await codeOf(first.exchange.sender.step()), 'ERR_HUB_UNAVAILABLE');
  await first.records.create(first.caller('submitter', 'public'), [rec(11)]);
  const cut = await first.db('node_batches').first();
  await first.exchange.stop();
  // The second process: same data dir and store, the hub reachable now.
  const second = await exchangeSetup({ teardown: (fn) => cleanups[0]!.push(fn) }, { ca, hubUrl: hub.url, hub: { batchMaxAgeMs: 0 }, reuse: { dataDir: first.dataDir, db: first.db } });
  await second.exchange.sender.step();
  t.same([...hub.batches.values()].map((b) => [b.id, b.seq, b.payload.records.length]), [[cut.id, 1, 2], [hub.posts[1]!.id, 2, 1]], 'the cut batch first, with its id and seq; the later record in seq 2');
  t.equal((await second.db('node_batches').whereNot({ status: 'accepted' })).length, 0);
});
