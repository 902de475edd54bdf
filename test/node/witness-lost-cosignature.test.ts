/**
 * A node's cosignature of the hub's checkpoint that never reached the hub (the POST lost after the
 * node stored it, simulated by deleting it from the hub's store): the hub keeps proving its next
 * checkpoints from the older head it holds, which the node used to refuse for good (`proof-stale`,
 * a false rollback alarm). Now the node asks again from the head it cosigned (`?hubFrom=`, protocol
 * 1.3), checks that proof and cosigns — no refusal, no reset needed. Real hub and node over mutual
 * TLS on loopback, every loop running.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { initCaDir } from '../../certs/ca-dir.js';
import { exampleRecord } from '../../protocol/catalog.js';
import { unguardSql } from '../../audit/schema.js';
import { buildHubConfig, makeToken, startHub } from '../../hub/index.js';
import { enrollNode } from '../../node/exchange/enroll.js';
import { sqliteEngine } from '../helpers/db.js';
import { eventually, nodeApp } from './exchange-fixture.js';

t.test("a lost cosignature of the hub's log is not taken for a rollback", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'lost-cosig-'));
  const caDir = join(dir, 'ca');
  const { certPem: caCertPem } = await initCaDir(caDir, { cn: 'Test Provincial Credit CA (lost cosignature)' });
  const store = await sqliteEngine.open();
  const config = buildHubConfig({ dataDir: join(dir, 'hub'), caDir, listen: { host: '127.0.0.1', port: 0 }, rateLimit: { enabled: false }, logLevel: 'silent' }, {});
  const hub = await startHub({ config, db: store.db });
  const token = (await makeToken(store.db, hub.app.hubCtx.ca, { nodeId: '430100', grade: 3, ttlMs: 3_600_000 })).token;
  const dataDir = join(dir, 'node-430100', 'data');
  await enrollNode({ dataDir, nodeId: '430100', hubUrl: hub.url, token, caCertPem });
  const node = await nodeApp(dataDir, { url: hub.url, pollIntervalMs: 100, batchMaxAgeMs: 20, checkpointIntervalMs: 200 });
  t.teardown(async () => {
    await node.close();
    await hub.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const hubCosigned = async (above: number) => (await store.db('audit_cosignatures').where({ witness: '430100' }).where('tree_size', '>', above).first()) as { tree_size: number | string } | undefined;

  // the node's own log has entries (its witness rounds run from its own checkpoints)
  const post = await node.app.inject({ method: 'POST', url: '/v1/records', headers: await node.auth('submitter', 'public'), payload: [{ type: 'CF', fields: { ...exampleRecord('CF').fields, decisionNo: '失签〔2026〕1号' } }] });
  t.equal(post.statusCode, 201);
  // two hub heads cosigned the ordinary way, both stored at the hub
  await hub.app.hubCtx.audit.checkpoint();
  const first = Number((await eventually('a first hub head cosigned', () => hubCosigned(0), 60_000)).tree_size);
  const second = Number((await eventually('a second hub head cosigned', async () => {
    await hub.app.hubCtx.audit.checkpoint();
    return hubCosigned(first);
  }, 60_000)).tree_size);
  // the hub loses the node's cosignature of the second head (as if its POST never arrived)
  await node.close();
  for (const sql of unguardSql(store.db, 'audit_cosignatures')) await store.db.raw(sql);
  await store.db('audit_cosignatures').where({ witness: '430100', tree_size: second }).delete();
  const node2 = await nodeApp(dataDir, { url: hub.url, pollIntervalMs: 100, batchMaxAgeMs: 20, checkpointIntervalMs: 200 });
  t.teardown(() => node2.close());
  const db2 = node2.app.nodeCtx.db;
  t.ok(await db2('audit_witnessed').where({ node_id: '430000', tree_size: second }).first(), 'the node holds its cosignature of the second head');

  // the hub proves its next heads from the first; the node asks again from the second and cosigns
  const third = await eventually('a later hub head cosigned', async () => {
    await hub.app.hubCtx.audit.checkpoint();
    return hubCosigned(second);
  }, 60_000);
  t.ok(Number(third.tree_size) > second);
  t.same(await db2('audit_log').where({ action: 'hub.checkpoint.cosign', outcome: 'failure' }).select('reason'), [], 'no refusal of the hub\'s log');
});
