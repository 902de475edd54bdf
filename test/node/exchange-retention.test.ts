/**
 * Retention (issue 17 item 9) on both engines, with the clock moved forward: node_outbox rows of
 * receipted batches older than the period go, in batches, with one exchange.prune audit entry;
 * unsent rows, rows of batches without a receipt and recent rows stay.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { buildConfig } from '../../node/config.js';
import { engines } from '../helpers/db.js';
import { migrateAudit, openAuditLog } from '../../audit/index.js';
import { migrateNode } from '../../node/migrations.js';
import { pruneNodeExchange } from '../../node/exchange-retention.js';
import { retentionJob } from '../../audit/retention-job.js';
import { nodeFixture } from './app-fixture.js';

const DAY = 86_400_000;
const T0 = new Date('2026-01-10T08:00:00.000Z');
const at = (days: number) => new Date(T0.getTime() + days * DAY).toISOString();

for (const engine of await engines()) {
  t.test(engine.name, async (t) => {
    const { db, close } = await engine.open();
    t.teardown(close);
    await migrateAudit(db);
    await migrateNode(db);
    const audit = await openAuditLog(db, { checkpointIntervalMs: 0 });
    t.teardown(() => audit.close());

    const batch = (id: string, seq: number, status: string, receiptAt: string | null) =>
      db('node_batches').insert({ id, seq, status, records: 1, withdrawals: 0, created_at: at(0), sent_at: at(0), receipt_at: receiptAt, attempts: 1 });
    await batch('b-old-accepted', 1, 'accepted', at(0));
    await batch('b-old-refused', 2, 'refused', at(1));
    await batch('b-old-unanswered', 3, 'sent', null);
    await batch('b-recent', 4, 'accepted', at(300));
    const row = (recordId: string, batchId: string | null, created: string) => ({ record_id: recordId, kind: 'record', created_at: created, batch_id: batchId });
    await db('node_outbox').insert([
      ...[1, 2, 3, 4].map((i) => row(`old-${i}`, 'b-old-accepted', at(0))),
      row('old-refused', 'b-old-refused', at(1)),
      row('old-unanswered', 'b-old-unanswered', at(0)),
      row('old-unbatched', null, at(0)),
      row('recent', 'b-recent', at(300)),
    ]);

    const before = await pruneNodeExchange(db, audit, { now: new Date(at(399)), days: 400 });
    t.same(before, { node_outbox: 0 }, 'nothing is older than 400 days yet');

    const counts = await pruneNodeExchange(db, audit, { now: new Date(at(402)), days: 400, batchSize: 2 });
    t.same(counts, { node_outbox: 5 }, 'the five settled rows past the period, two per transaction');
    const left = ((await db('node_outbox').select('record_id').orderBy('record_id')) as { record_id: string }[]).map((r) => r.record_id);
    t.same(left, ['old-unanswered', 'old-unbatched', 'recent'], 'unsettled and recent rows stay');
    t.equal(Number(((await db('node_batches').count({ n: '*' }).first()) as { n: number }).n), 4, 'node_batches rows stay (the next seq is counted from them)');

    const entries = (await db('audit_log').where({ action: 'exchange.prune' }).select('actor', 'reason', 'outcome')) as { actor: string; reason: string; outcome: string }[];
    t.equal(entries.length, 1, 'one audit entry for the run that pruned');
    t.match(entries[0], { actor: 'system:retention', outcome: 'success', reason: 'node_outbox=5 days=400' });

    t.same(await pruneNodeExchange(db, audit, { now: new Date(at(402)), days: 400 }), { node_outbox: 0 }, 'a second run finds nothing');
    t.equal(((await db('audit_log').where({ action: 'exchange.prune' }).select('seq')) as unknown[]).length, 1, 'and writes no entry');

    const low = await pruneNodeExchange(db, audit, { now: new Date(at(302)), days: 1 });
    t.same(low, { node_outbox: 0 }, 'a period below the floor (180 days) counts as the floor: the row receipted 2 days ago stays');
  });
}

t.test('the job runs at start, once at a time, and stops', async (t) => {
  const logged: string[] = [];
  let runs = 0;
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const job = retentionJob(async () => {
    runs++;
    await gate;
    return { node_outbox: 3 };
  }, 0, { info: (_o, m) => logged.push(m), error: (_o, m) => logged.push(m) });
  job.start();
  const joined = job.runNow();
  release();
  t.same(await joined, { node_outbox: 3 });
  t.equal(runs, 1, 'a run asked for while one is going joins it');
  t.match(logged, [/pruned settled exchange rows/]);
  await job.stop();
  t.equal(await job.runNow(), null, 'nothing runs after stop');
  const failing = retentionJob(async () => Promise.reject(new Error('disk full')), 0, { info: () => undefined, error: (_o, m) => logged.push(m) });
  t.equal(await failing.runNow(), null, 'a failed run resolves to null');
  t.match(logged.at(-1), /will retry/);
});

t.test('retention.exchangeDays below the audit retention is refused (ERR_CONFIG_INVALID)', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'node-retention-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const base = { nodeId: '430100', dataDir: join(dir, 'data') };
  t.same(buildConfig(base, {}).retention, { exchangeDays: 400, intervalMinutes: 60 }, 'defaults');
  t.equal(buildConfig({ ...base, retention: { exchangeDays: 730, intervalMinutes: 0 } }, {}).retention.exchangeDays, 730);
  t.throws(() => buildConfig({ ...base, retention: { exchangeDays: 30 } }, {}), { code: 'ERR_CONFIG_INVALID', details: { key: 'retention.exchangeDays' } });
});

t.test('the node app runs the retention job on its own clock and audits the run', async (t) => {
  const f = await nodeFixture(t, { now: at(0), config: { retention: { exchangeDays: 200, intervalMinutes: 0 } } });
  await f.db('node_batches').insert({ id: 'b-1', seq: 1, status: 'accepted', records: 1, withdrawals: 0, created_at: at(0), sent_at: at(0), receipt_at: at(0), attempts: 1 });
  await f.db('node_outbox').insert([{ record_id: 'r-1', kind: 'record', created_at: at(0), batch_id: 'b-1' }, { record_id: 'r-2', kind: 'record', created_at: at(0), batch_id: null }]);
  t.same(await f.app.nodeCtx.retention.runNow(), { node_outbox: 0 }, 'day 0: nothing is due');
  f.setNow(at(201));
  t.same(await f.app.nodeCtx.retention.runNow(), { node_outbox: 1 }, 'day 201 with exchangeDays 200: the receipted row goes');
  t.same(((await f.db('node_outbox').select('record_id')) as { record_id: string }[]).map((r) => r.record_id), ['r-2'], 'the unsent row stays');
  t.match(f.events.filter((e) => e.action === 'exchange.prune'), [{ actor: 'system:retention', reason: 'node_outbox=1 days=200' }]);
});
