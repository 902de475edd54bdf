/**
 * Batches bounded by bytes, against the real hub over mutual TLS: a node whose records are long
 * (a 处罚 record's 违法事实 may hold 5,000 characters) cuts its batches by `hub.batchMaxBytes` as well
 * as by count, so every batch fits the hub's `maxEnvelopeBytes` and the outbox drains. Cut by count
 * alone, the same records made one batch the hub refused (413 ERR_BODY_TOO_LARGE) at every attempt,
 * and the outbox stopped there.
 */
import t from 'tap';
import { exampleRecord } from '../../protocol/catalog.js';
import { eventually } from './exchange-fixture.js';
import { hubAndNodes } from './hub-and-nodes.js';

const HUB_MAX_ENVELOPE = 262_144;
const FACTS = '当事人未按规定办理相关手续擅自从事经营活动。'.repeat(180); // ≈ 3,800 characters, ≈ 11 KB of UTF-8

function longRecord(n: number) {
  const e = exampleRecord('CF');
  return { type: 'CF', fields: { ...e.fields, decisionNo: `长〔2026〕${n}号`, violationFacts: FACTS } };
}

t.test('long records: batches cut by bytes fit the hub envelope limit and all arrive; one count-cut batch is refused 413 at every attempt', async (t) => {
  const p = await hubAndNodes(t, 'batch-bytes', { maxEnvelopeBytes: HUB_MAX_ENVELOPE });
  const store = { db: p.hubDb };
  const start = async (nodeId: string, batchMaxBytes: number) => {
    const n = await p.node(nodeId, { pollIntervalMs: 100, batchMaxAgeMs: 20, checkpointIntervalMs: 60_000, batchMaxBytes });
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
