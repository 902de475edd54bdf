/**
 * The pipelined sender (the next batch is cut and sealed while one is in flight) keeps the
 * exchange's promises: batches go in seq order, one at a time, each record reaches the hub once,
 * each batch is audited once as sent and once as receipted — also when an answer is lost mid-run
 * and a batch cut during the failed POST waits behind the resent one.
 */
import t from 'tap';
import { exampleRecord } from '../../protocol/catalog.js';
import { engines } from '../helpers/db.js';
import { makeCa } from '../helpers/pki.js';
import { startFakeHub } from './exchange-fake-hub.js';
import { exchangeSetup } from './exchange-fixture.js';

function rec(n: number) {
  const e = exampleRecord('CF');
  return { type: 'CF', fields: { ...e.fields, decisionNo: `送〔2026〕${n}号` } };
}

async function codeOf(p: Promise<unknown>): Promise<string | undefined> {
  try {
    await p;
  } catch (e) {
    return (e as { code?: string }).code;
  }
  return undefined;
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
    t.same(hub.posts.map((p) => p.seq), [1], 'nothing after seq 1 went before its receipt');
    await s.exchange.sender.step();
    t.same(hub.posts.map((p) => p.seq), [1, 1, 2, 3, 4], 'seq 1 again (its receipt from the 409), then the rest in order, each once');
    t.equal(hub.batches.size, 4, 'four batches processed');
    const atHub = [...hub.batches.values()].sort((a, b) => a.seq - b.seq).flatMap((b) => b.payload.records.map((r) => r.id));
    t.same(atHub, created.records.map((r) => r.id), 'every record once, in the order written');
    const rows = (await s.db('node_batches').orderBy('seq')) as { seq: number | string; status: string; attempts: number | string; accepted: number | string }[];
    t.same(rows.map((r) => [Number(r.seq), r.status, Number(r.attempts), Number(r.accepted)]), [[1, 'accepted', 2, 2], [2, 'accepted', 1, 2], [3, 'accepted', 1, 2], [4, 'accepted', 1, 1]]);
    const log = (await s.db('audit_log').whereIn('action', ['batch.send', 'batch.receipt']).orderBy('seq')) as { action: string; reason: string }[];
    t.same(
      log.map((e) => `${e.action} ${/seq=(\d+)/.exec(e.reason)![1]}`),
      ['batch.send 1', 'batch.receipt 1', 'batch.send 2', 'batch.receipt 2', 'batch.send 3', 'batch.receipt 3', 'batch.send 4', 'batch.receipt 4'],
      'each batch audited once as sent before its receipt, and the next only after it',
    );
    const st = await s.exchange.status();
    t.same([st.outbox.pending, st.batches.pending, st.batches.accepted], [0, 0, 4]);
  });
}
