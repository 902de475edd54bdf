/**
 * Batches bounded by bytes, against the real hub over mutual TLS: a node whose records are long
 * (a 处罚 record's 违法事实 may hold 5,000 characters) cuts its batches by `hub.batchMaxBytes` as well
 * as by count, so every batch fits the hub's `maxEnvelopeBytes` and the outbox drains. Cut by count
 * alone, the same records made one batch the hub refused (413 ERR_BODY_TOO_LARGE) at every attempt,
 * and the outbox stopped there.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { exampleRecord } from '../../protocol/catalog.js';
import { initCaDir } from '../../certs/ca-dir.js';
import { buildHubConfig, makeToken, startHub } from '../../hub/index.js';
import { enrollNode } from '../../node/exchange/enroll.js';
import { sqliteEngine } from '../helpers/db.js';
import { eventually, nodeApp } from './exchange-fixture.js';

const HUB_MAX_ENVELOPE = 262_144;
const FACTS = '当事人未按规定办理相关手续擅自从事经营活动。'.repeat(180); // ≈ 3,800 characters, ≈ 11 KB of UTF-8

function longRecord(n: number) {
  const e = exampleRecord('CF');
  return { type: 'CF', fields: { ...e.fields, decisionNo: `长〔2026〕${n}号`, violationFacts: FACTS } };
}

t.test('long records: batches cut by bytes fit the hub envelope limit and all arrive; one count-cut batch is refused 413 at every attempt', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'node-batch-bytes-'));
  const caDir = join(dir, 'ca');
  const { certPem: caCertPem } = await initCaDir(caDir, { cn: 'Test Provincial Credit CA (batch bytes)' });
  writeFileSync(join(dir, 'ca.pem'), caCertPem);
  const store = await sqliteEngine.open();
  const config = buildHubConfig({ dataDir: join(dir, 'hub'), caDir, listen: { host: '127.0.0.1', port: 0 }, rateLimit: { enabled: false }, logLevel: 'silent', maxEnvelopeBytes: HUB_MAX_ENVELOPE }, {});
  const hub = await startHub({ config, db: store.db });
  const closers: (() => Promise<void>)[] = [];
  t.teardown(async () => {
    for (const c of closers.reverse()) await c();
    await hub.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const start = async (nodeId: string, batchMaxBytes: number) => {
    const dataDir = join(dir, `node-${nodeId}`, 'data');
    const token = (await makeToken(store.db, hub.app.hubCtx.ca, { nodeId, grade: 3, ttlMs: 3_600_000 })).token;
    await enrollNode({ dataDir, nodeId, hubUrl: hub.url, token, caCertPem });
    const n = await nodeApp(dataDir, { url: hub.url, pollIntervalMs: 100, batchMaxAgeMs: 20, checkpointIntervalMs: 60_000, batchMaxBytes }, nodeId);
    closers.push(() => n.close());
    const post = await n.app.inject({ method: 'POST', url: '/v1/records', headers: await n.auth('submitter', 'internal'), payload: Array.from({ length: 20 }, (_, i) => longRecord(i)) });
    t.equal(post.statusCode, 201, post.body);
    return n;
  };

  // half the hub's limit, as the README advises
  const changsha = await start('430100', HUB_MAX_ENVELOPE / 2);
  const batches = await eventually('长沙 to drain its outbox', async () => {
    const rows = await changsha.app.nodeCtx.db('node_batches').orderBy('seq');
    const pending = await changsha.app.nodeCtx.db('node_outbox').whereNull('batch_id').count({ n: '*' }).first();
    return Number(pending?.n) === 0 && rows.length > 0 && rows.every((b: { status: string }) => b.status === 'accepted') ? rows : undefined;
  });
  t.ok(batches.length >= 3, `${batches.length} batches of ${batches.map((b: { records: number }) => b.records).join(', ')} records`);
  t.equal(batches.reduce((n: number, b: { accepted: number }) => n + Number(b.accepted), 0), 20, 'all 20 records accepted by receipt');
  t.ok(batches.every((b: { attempts: number }) => Number(b.attempts) === 1), 'each batch accepted at its first attempt');
  t.equal(Number((await store.db('hub_records').where({ source_node: '430100' }).count({ n: '*' }).first())?.n), 20, 'stored at the hub');

  // the same records with the bound far above the hub's limit: one batch of 20, refused as too large, again and again
  const changde = await start('430700', 128 * 1024 * 1024);
  const stuck = await eventually('常德 to be refused twice', async () => {
    const b = await changde.app.nodeCtx.db('node_batches').where({ seq: 1 }).first();
    return b && Number(b.attempts) >= 2 ? b : undefined;
  });
  t.equal(Number(stuck.records), 20, 'one batch of 20 (cut by count)');
  t.equal(stuck.status, 'sent', 'never accepted');
  t.match(stuck.last_error, /ERR_BODY_TOO_LARGE \(HTTP 413\)/, 'the hub refuses it as too large');
  t.equal(Number((await store.db('hub_records').where({ source_node: '430700' }).count({ n: '*' }).first())?.n), 0, 'nothing of it reached the hub');
});
