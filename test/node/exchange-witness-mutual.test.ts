/**
 * Mutual witnessing end to end, over real HTTPS with mutual TLS on loopback (the hub and a city
 * node in process, every loop running): the node's witness loop gets its checkpoints cosigned by
 * the hub and cosigns the hub's (also while the node itself is idle); afterwards both audit logs,
 * exported as `credit audit export --witnessed` does, verify with `credit audit verify --node ID`
 * without --allow-unwitnessed. A node that rewrites its log's tail after the last checkpoint the
 * hub cosigned, and re-signs it with its own key, gets ERR_AUDIT_UNWITNESSED.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { exampleRecord } from '../../protocol/catalog.js';
import { connect } from '../../audit/knex-connect.js';
import { latestCosignature } from '../../audit/cosign-store.js';
import { openAuditLog } from '../../audit/log.js';
import { unguardSql } from '../../audit/schema.js';
import { initCaDir } from '../../certs/ca-dir.js';
import { buildHubConfig, makeToken, startHub } from '../../hub/index.js';
import { enrollNode } from '../../node/exchange/enroll.js';
import { exchangePaths } from '../../node/exchange/files.js';
import { main } from '../../scripts/cli.js';
import { sqliteEngine } from '../helpers/db.js';
import { eventually, nodeApp } from './exchange-fixture.js';

const FAST = { pollIntervalMs: 100, batchMaxAgeMs: 20, checkpointIntervalMs: 300 };

async function credit(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(argv, { stdout: (s) => void out.push(s), stderr: (s) => void err.push(s) });
  return { code, out: out.join(''), err: err.join('') };
}

const rec = (n: number) => ({ type: 'CF', fields: { ...exampleRecord('CF').fields, decisionNo: `互证〔2026〕${n}号` } });

t.test('the hub and a node witness each other; both logs verify strictly; a rewritten node tail does not', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'mutual-witness-'));
  const caDir = join(dir, 'ca');
  const { certPem: caCertPem } = await initCaDir(caDir, { cn: 'Test Provincial Credit CA (mutual witness)' });
  const caFile = join(dir, 'ca.pem');
  writeFileSync(caFile, caCertPem);
  const store = await sqliteEngine.open();
  const config = buildHubConfig({ dataDir: join(dir, 'hub'), caDir, listen: { host: '127.0.0.1', port: 0 }, rateLimit: { enabled: false }, logLevel: 'silent' }, {});
  const hub = await startHub({ config, db: store.db });
  const token = (await makeToken(store.db, hub.app.hubCtx.ca, { nodeId: '430100', grade: 3, ttlMs: 3_600_000 })).token;
  const dataDir = join(dir, 'node-430100', 'data');
  await enrollNode({ dataDir, nodeId: '430100', hubUrl: hub.url, token, caCertPem });
  const node = await nodeApp(dataDir, { url: hub.url, ...FAST });
  t.teardown(async () => {
    await node.close();
    await hub.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const nodeDb = node.app.nodeCtx.db;
  const nodeStore = join(dataDir, 'node.sqlite');

  const post = await node.app.inject({ method: 'POST', url: '/v1/records', headers: await node.auth('submitter', 'public'), payload: [rec(1), rec(2)] });
  t.equal(post.statusCode, 201);
  const hubCosigned = await eventually("the hub's cosignature of a node checkpoint", async () => (await latestCosignature(nodeDb, '430000')) ?? undefined);
  t.ok(hubCosigned.treeSize > 0, "the hub cosigned the node's log");

  // The hub signs a checkpoint of its own log (as its timer does): the node's next witness round
  // cosigns it, even when the node has nothing new of its own, and the hub stores that cosignature.
  const signed = await credit(['audit', 'checkpoint', '--db', store.target, '--key', join(config.dataDir, 'hub.key'), '--cert', join(config.dataDir, 'hub.pem')]);
  t.equal(signed.code, 0, signed.err);
  const hubSize = Number(/tree size (\d+)/.exec(signed.out)![1]);
  const nodeCosigned = await eventually("430100's cosignature of the hub's checkpoint", async () => {
    const c = await latestCosignature(store.db, '430100');
    return c && c.treeSize >= hubSize ? c : undefined;
  });
  t.match(nodeCosigned, { nodeId: '430000', witness: '430100' });

  // The hub's bundle, up to the last checkpoint a node cosigned: verifies without --allow-unwitnessed.
  const hubBundle = join(dir, '430000.ndjson');
  const hx = await credit(['audit', 'export', '--db', store.target, '--out', hubBundle, '--witnessed']);
  t.equal(hx.code, 0, hx.err);
  const both = await credit(['audit', 'export', '--db', store.target, '--out', join(dir, 'x.ndjson'), '--witnessed', '--key', join(config.dataDir, 'hub.key'), '--cert', join(config.dataDir, 'hub.pem')]);
  t.equal(both.code, 2, '--witnessed signs nothing: not with --key/--cert');
  t.match(both.err, /ERR_USAGE/);
  const hv = await credit(['audit', 'verify', hubBundle, '--ca', caFile, '--node', '430000', '--json']);
  t.equal(hv.code, 0, hv.out);
  const hr = JSON.parse(hv.out);
  t.match(hr, { ok: true, unwitnessed: null }, "the hub's log is witnessed to its end");
  t.equal(hr.cosignedTreeSize, hr.treeSize);
  t.ok(readFileSync(hubBundle, 'utf8').split('\n').some((l) => l.includes('"witness":"430100"')), "the bundle carries the node's cosignature");
  t.equal((await credit(['audit', 'verify', hubBundle, '--ca', caFile, '--node', '430100'])).code, 1, 'another node id: refused');

  // The node's bundle, up to the last checkpoint the hub cosigned: verifies strictly too.
  const nodeBundle = join(dir, '430100.ndjson');
  const nx = await credit(['audit', 'export', '--db', nodeStore, '--out', nodeBundle, '--witnessed']);
  t.equal(nx.code, 0, nx.err);
  const nv = await credit(['audit', 'verify', nodeBundle, '--ca', caFile, '--node', '430100', '--json']);
  t.equal(nv.code, 0, nv.out);
  const nr = JSON.parse(nv.out);
  t.match(nr, { ok: true, unwitnessed: null });
  t.equal(nr.cosignedTreeSize, nr.treeSize);
  t.ok(readFileSync(nodeBundle, 'utf8').split('\n').some((l) => l.includes('"witness":"430000"')), "the bundle carries the hub's cosignature");

  // More entries the hub has not cosigned yet, then the node goes down.
  await node.app.inject({ method: 'POST', url: '/v1/records', headers: await node.auth('submitter', 'public'), payload: [rec(3)] });
  await node.close();

  // Its operator rewrites the tail after the last cosigned checkpoint with the node's own key.
  const db = await connect(nodeStore);
  const cut = (await latestCosignature(db, '430000'))!.treeSize;
  for (const table of ['audit_log', 'audit_checkpoints']) for (const sql of unguardSql(db, table)) await db.raw(sql);
  await db('audit_log').where('seq', '>', cut).delete();
  await db('audit_checkpoints').where('tree_size', '>', cut).delete();
  const p = exchangePaths(dataDir);
  const forged = await openAuditLog(db, { signer: { nodeId: '430100', keyPem: readFileSync(p.key, 'utf8'), certPem: readFileSync(p.cert, 'utf8') }, checkpointIntervalMs: 0 });
  for (const n of [1, 2, 3]) await forged.record({ actor: 'user:mallory', action: 'record.create', object: `record:forged-${n}`, outcome: 'success' });
  await forged.close(); // signs a checkpoint of the rewritten tail
  await db.destroy();

  const forgedBundle = join(dir, '430100-rewritten.ndjson');
  const fx = await credit(['audit', 'export', '--db', nodeStore, '--out', forgedBundle]);
  t.equal(fx.code, 0, fx.err);
  const fv = await credit(['audit', 'verify', forgedBundle, '--ca', caFile, '--node', '430100', '--json']);
  t.equal(fv.code, 1, 'the rewritten tail is refused');
  t.match(JSON.parse(fv.out), { ok: false, code: 'ERR_AUDIT_UNWITNESSED' });
  t.equal((await credit(['audit', 'verify', forgedBundle, '--ca', caFile, '--node', '430100', '--allow-unwitnessed'])).code, 0, 'only --allow-unwitnessed lets it through (the node key alone signed it)');
  const again = await credit(['audit', 'export', '--db', nodeStore, '--out', join(dir, 'again.ndjson'), '--witnessed']);
  t.equal(again.code, 0, again.err);
  t.match(again.err, new RegExp(`not witnessed yet; the bundle ends at the last cosigned checkpoint, ${cut}`), '--witnessed leaves the rewritten tail out');
});
