/**
 * Retention (issue 17 item 9) on the hub, both engines, clock moved forward: hub_envelopes rows
 * processed more than `retention.exchangeDays` ago go with one exchange.prune audit entry; recent
 * rows and the signed exchange log stay. The period cannot be set below the audit log's 180 days.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { engines } from '../helpers/db.js';
import { migrateAudit, openAuditLog } from '../../audit/index.js';
import { initCaDir } from '../../certs/ca-dir.js';
import { buildHubConfig } from '../../hub/config.js';
import { pruneHubExchange } from '../../hub/exchange-retention.js';
import { migrateHub } from '../../hub/migrations.js';
import { hubFixture, wire } from './fixture.js';

const DAY = 86_400_000;
const T0 = new Date('2026-01-10T08:00:00.000Z');
const at = (days: number) => new Date(T0.getTime() + days * DAY).toISOString();

for (const engine of await engines()) {
  t.test(engine.name, async (t) => {
    const { db, close } = await engine.open();
    t.teardown(close);
    await migrateAudit(db);
    await migrateHub(db);
    const audit = await openAuditLog(db, { checkpointIntervalMs: 0 });
    t.teardown(() => audit.close());
    const env = (id: string, type: string, outcome: string, receivedAt: string, seq: number) =>
      ({ id, from_node: '430100', type, seq, ts: receivedAt, digest: 'd'.repeat(43), received_at: receivedAt, outcome, code: null, response: outcome === 'answered' ? null : '{}' });
    await db('hub_envelopes').insert([
      env('old-batch-1', 'batch', 'accepted', at(0), 1),
      env('old-batch-2', 'batch', 'refused', at(0), 2),
      env('old-query', 'query', 'answered', at(1), 1),
      env('recent-batch', 'batch', 'accepted', at(350), 3),
    ]);
    await db('hub_exchange_evidence').insert({
      envelope_id: 'old-batch-1', digest: 'd'.repeat(43), direction: 'received', type: 'batch', from_node: '430100', to_node: '430000', seq: 1, ts: at(0), recorded_at: at(0), header: '{}', sig_protected: 'e30', signature: 'AA',
    });

    t.same(await pruneHubExchange(db, audit, { now: new Date(at(399)), days: 400 }), { hub_envelopes: 0 }, 'nothing is 400 days old yet');
    t.same(await pruneHubExchange(db, audit, { now: new Date(at(402)), days: 400, batchSize: 2 }), { hub_envelopes: 3 }, 'the three old rows, in two transactions');
    const left = ((await db('hub_envelopes').select('id')) as { id: string }[]).map((r) => r.id);
    t.same(left, ['recent-batch'], 'the recent row stays');
    t.equal(Number(((await db('hub_exchange_evidence').count({ n: '*' }).first()) as { n: number }).n), 1, 'the signed exchange log is not pruned');
    const entries = (await db('audit_log').where({ action: 'exchange.prune' }).select('reason')) as { reason: string }[];
    t.same(entries.map((e) => e.reason), ['hub_envelopes=3 days=400'], 'one audit entry with the counts');
  });
}

t.test('retention.exchangeDays below the audit retention is refused (ERR_CONFIG_INVALID)', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'hub-retention-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const caDir = join(dir, 'ca');
  await initCaDir(caDir, { cn: 'Test Provincial Credit CA (retention)' });
  const base = { dataDir: join(dir, 'data'), caDir };
  t.same(buildHubConfig(base, {}).retention, { exchangeDays: 400, intervalMinutes: 60 }, 'defaults');
  t.equal(buildHubConfig({ ...base, retention: { exchangeDays: 180 } }, {}).retention.exchangeDays, 180, 'the floor itself is allowed');
  t.throws(() => buildHubConfig({ ...base, retention: { exchangeDays: 179 } }, {}), { code: 'ERR_CONFIG_INVALID', details: { key: 'retention.exchangeDays' } });
  t.throws(() => buildHubConfig({ ...base, retention: { keepDays: 500 } }, {}), { code: 'ERR_CONFIG_INVALID', details: { key: 'retention.keepDays' } });
});

t.test('the running hub prunes the envelopes of a real batch once its clock is 401 days on', async (t) => {
  const f = await hubFixture(t);
  const cs = await f.enrol('430100', 3);
  const res = await f.call(cs.agent, 'POST', '/v1/batches', await f.sealFrom(cs, 'batch', { records: [wire('XK')], withdrawals: [] }));
  t.equal(res.status, 200, 'the batch is accepted');
  const db = f.hub.app.hubCtx.db;
  const count = async () => Number(((await db('hub_envelopes').count({ n: '*' }).first()) as { n: number }).n);
  t.equal(await count(), 1, 'the processed batch is remembered');
  t.same(await f.hub.app.hubCtx.retention.runNow(), { hub_envelopes: 0 }, 'a fresh row stays');
  f.shiftClock(401 * DAY);
  t.same(await f.hub.app.hubCtx.retention.runNow(), { hub_envelopes: 1 }, 'past the default 400 days it goes');
  t.equal(await count(), 0);
  t.equal(Number(((await db('hub_exchange_evidence').count({ n: '*' }).first()) as { n: number }).n) > 0, true, 'its signed evidence stays');
});
