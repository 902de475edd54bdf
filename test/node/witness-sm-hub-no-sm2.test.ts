/**
 * Issue 21 item 3, check item: a node enrolled WITHOUT an SM2 certificate, witnessing a hub whose
 * audit log is on SM (audit.hashAlg "sm3", checkpoints signed with the hub's SM2 key). The node
 * cannot cosign those checkpoints (it holds neither the SM2 root to check them nor an SM2 key to
 * cosign them). That is a coded skip, ERR_AUDIT_ALGORITHM_MIXED, logged once (warn) and audited
 * once ('hub.checkpoint.cosign', outcome failure) per start of the node — not an error and an audit
 * entry every round. The rest of witnessing goes on: the hub keeps cosigning the node's own (sha256)
 * checkpoints.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import t, { type Test } from 'tap';
import type { FastifyInstance } from 'fastify';
import { latestCosignature } from '../../audit/cosign-store.js';
import { readHashAlg } from '../../audit/log-meta.js';
import { initCaDir } from '../../certs/ca-dir.js';
import { initSm2CaDir } from '../../certs/sm2-ca-dir.js';
import { buildHubConfig, makeToken, startHub } from '../../hub/index.js';
import { buildApp } from '../../node/app.js';
import { enrollNode } from '../../node/exchange/enroll.js';
import { REFUSAL_REPORT_MS } from '../../node/exchange/witness.js';
import { mintServiceToken } from '../../node/tokens.js';
import { exampleRecord } from '../../protocol/catalog.js';
import { sqliteEngine } from '../helpers/db.js';
import { eventually, nodeConfig } from './exchange-fixture.js';

/** A hub whose audit log is on SM and node 430100 enrolled at it without an SM2 certificate (not started). */
async function smHubAndPlainNode(t: Test, clock?: () => Date, hashAlg: 'sm3' | 'sha256' = 'sm3') {
  const dir = mkdtempSync(join(tmpdir(), 'witness-no-sm2-'));
  const caDir = join(dir, 'ca');
  const { certPem: caCertPem } = await initCaDir(caDir, { cn: 'Test Provincial Credit CA (witness no sm2)' });
  initSm2CaDir(caDir, { cn: 'Test Provincial SM2 CA (witness no sm2)' });
  const store = await sqliteEngine.open();
  const hub = await startHub({ config: buildHubConfig({ dataDir: join(dir, 'hub'), caDir, listen: { host: '127.0.0.1', port: 0 }, rateLimit: { enabled: false }, logLevel: 'silent', audit: { hashAlg } }, {}), db: store.db, ...(clock ? { clock } : {}) });
  const apps: FastifyInstance[] = [];
  t.teardown(async () => {
    for (const a of apps) await a.close();
    await hub.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const dataDir = join(dir, 'node', 'data');
  const enrolToken = (await makeToken(store.db, hub.app.hubCtx.ca, { nodeId: '430100', grade: 3, ttlMs: 3_600_000 })).token;
  await enrollNode({ dataDir, nodeId: '430100', hubUrl: hub.url, token: enrolToken, caCertPem, sm2: false });
  return { hub, store, dataDir, keep: (a: FastifyInstance) => (apps.push(a), a) };
}

t.test('a node without an SM2 certificate skips cosigning an sm3 hub log: one coded warning and one audit entry, not one per round', async (t) => {
  const { hub, store, dataDir, keep } = await smHubAndPlainNode(t);
  const hubCtx = hub.app.hubCtx;
  t.equal(await readHashAlg(store.db), 'sm3', 'the hub log is on SM');
  const lines: { level: number; msg: string; code?: string }[] = [];
  const logStream = new Writable({ write: (c, _e, cb) => (lines.push(...String(c).trim().split('\n').map((l) => JSON.parse(l) as { level: number; msg: string; code?: string })), cb()) });
  const app = keep(await buildApp({ config: nodeConfig(dataDir, { url: hub.url, pollIntervalMs: 100, batchMaxAgeMs: 20, checkpointIntervalMs: 150 }, '430100', { logLevel: 'info' }), logStream }));
  await app.ready();
  const ndb = app.nodeCtx.db;
  t.equal(await readHashAlg(ndb), 'sha256', 'the node log is on sha256 (no SM2 key)');
  const { token } = await mintServiceToken(ndb, app.nodeCtx.config.jwtSecret, '430100', { user: 'alice', role: 'submitter', clearance: 'public', ttlSeconds: 600 });

  // several rounds, each with a new hub checkpoint to show and new node entries to cosign
  for (let i = 0; i < 4; i++) {
    const posted = await app.inject({ method: 'POST', url: '/v1/records', headers: { authorization: `Bearer ${token}` }, payload: [{ type: 'XK', fields: { ...exampleRecord('XK').fields, decisionNo: `长市监食许〔2026〕${201 + i}号` } }] });
    t.equal(posted.statusCode, 201, posted.body);
    const hubCp = (await hubCtx.audit.checkpoint())!;
    t.ok(hubCp.treeSize > 0, `round ${i}: the hub signed checkpoint ${hubCp.treeSize} (SM2)`);
    await new Promise((r) => setTimeout(r, 600)); // several witness rounds (every 150 ms)
  }
  const cos = await eventually("the hub's cosignature of the node's own log", async () => (await latestCosignature(ndb)) ?? undefined);
  t.ok(cos.treeSize > 0, "the node's own checkpoints are still cosigned by the hub");
  t.equal(await latestCosignature(store.db), null, 'the hub log gets no cosignature from this node');

  const audited = (await ndb('audit_log').where({ action: 'hub.checkpoint.cosign' }).select('outcome', 'reason')) as { outcome: string; reason: string }[];
  t.equal(audited.length, 1, `one audit entry for the skip, not one per round (${audited.length})`);
  t.equal(audited[0]?.outcome, 'failure');
  t.match(audited[0]?.reason, /^ERR_AUDIT_ALGORITHM_MIXED: .*credit node init --sm2/, 'coded, and says how to fix it');
  const warned = lines.filter((l) => l.code === 'ERR_AUDIT_ALGORITHM_MIXED');
  t.equal(warned.length, 1, 'logged once');
  t.equal(warned[0]?.level, 40, 'as a warning');
  t.equal(lines.filter((l) => l.level >= 50 && /checkpoint/.test(l.msg)).length, 0, 'no error log about checkpoints');
  const status = await app.nodeCtx.exchange!.status();
  t.not(status.lastError?.code, 'ERR_AUDIT_ALGORITHM_MIXED', 'the witness loop is not failing');
});

// Hostile review M1: the certificate in the witness state is the hub's word. A node that has cosigned
// this hub's (sha256) checkpoints before does not take an SM2-signed one as a reason to go quiet: a
// hub's log algorithm is fixed at creation, so the switch fails checkWitness — an error, audited as
// a refusal at the first round and hourly while it lasts (not every round: a rolled-back hub log is
// refused for good, and an entry every round flooded the node's own log), and shown in the status.
t.test('a node that witnessed the hub before is not silenced by an SM2 checkpoint: a refusal, audited at once and hourly, shown in the status', async (t) => {
  let offset = 0; // one clock for hub and node, moved an hour on below
  const clock = () => new Date(Date.now() + offset);
  const { hub, dataDir, keep } = await smHubAndPlainNode(t, clock);
  // the witness loop runs every hour here, so the cosignature of an earlier (sha256) hub head is in
  // place before the first round this test triggers by hand
  const app = keep(await buildApp({ config: nodeConfig(dataDir, { url: hub.url, pollIntervalMs: 100, batchMaxAgeMs: 20, checkpointIntervalMs: 0 }, '430100', { logLevel: 'silent' }), clock }));
  await app.ready();
  const ndb = app.nodeCtx.db;
  const rootHash = '11'.repeat(32);
  await ndb('audit_witnessed').where({ node_id: '430000' }).delete();
  await ndb('audit_witnessed').insert({ node_id: '430000', tree_size: 1, root_hash: rootHash, checkpoint: JSON.stringify({ nodeId: '430000', treeSize: 1, rootHash }), cosignature: JSON.stringify({ nodeId: '430000', treeSize: 1, rootHash }), cosigned_at: new Date().toISOString() });
  const witness = app.nodeCtx.exchange!.witness!;
  // refusals of the hub's checkpoint (the loop's round at start may have skipped it as ERR_AUDIT_ALGORITHM_MIXED, before the row above)
  const refusals = async () => ((await ndb('audit_log').where({ action: 'hub.checkpoint.cosign', outcome: 'failure' }).orderBy('seq').select('reason')) as { reason: string }[]).filter((a) => !a.reason.startsWith('ERR_AUDIT_ALGORITHM_MIXED'));
  const round = async (i: number) => {
    await hub.app.hubCtx.audit.record({ actor: 'test', action: 'test.entry', object: `n=${i}`, outcome: 'success' });
    await hub.app.hubCtx.audit.checkpoint();
    await app.nodeCtx.audit.record({ actor: 'test', action: 'test.entry', object: `n=${i}`, outcome: 'success' }); // something new of its own, so the round asks the hub
    await witness.witnessOnce();
  };
  for (let i = 0; i < 3; i++) await round(i);
  const first = await refusals();
  t.equal(first.length, 1, `refused and audited at the first round, not at each of the three (${first.length})`);
  t.match(first[0]?.reason, /^ERR_AUDIT_[A-Z_]+: /, 'with the audit code');
  const status = await app.nodeCtx.exchange!.status();
  t.match(status.hubCheckpointRefused, { code: /^ERR_AUDIT_/, rounds: 3 }, 'the status shows the refusal and how many rounds it has lasted');
  t.ok(status.hubCheckpointRefused!.treeSize > 1, 'and the hub head last shown');
  const { token } = await mintServiceToken(ndb, app.nodeCtx.config.jwtSecret, '430100', { user: 'monitor', role: 'officer', clearance: 'public', ttlSeconds: 600 });
  const res = await app.inject({ method: 'GET', url: '/v1/exchange/status', headers: { authorization: `Bearer ${token}` } });
  t.same(JSON.parse(res.body).hubCheckpointRefused, status.hubCheckpointRefused, 'GET /v1/exchange/status carries it');

  offset += REFUSAL_REPORT_MS; // an hour on: audited again, saying since when
  await round(3);
  const later = await refusals();
  t.equal(later.length, 2, 'audited again after an hour');
  t.match(later[1]?.reason, new RegExp(`\\(refused since ${status.hubCheckpointRefused!.since.replace(/[.]/g, '\\.')}, 4 rounds\\)$`));
});

// Hostile review of the throttle: a refusal whose audit write failed is reported at the next round
// (not an hour later); the end of a refusal is audited; the hub's checkpoint fields, unchecked when
// the check failed, never reach the audit entry or the status as they are (a 500-character "tree
// size" made the status answer 500 and the audit write fail).
t.test('refusals of a sha256 hub\'s checkpoints: a failed audit write reported again, hostile fields cleaned, the end audited', async (t) => {
  const { hub, dataDir, keep } = await smHubAndPlainNode(t, undefined, 'sha256');
  const app = keep(await buildApp({ config: nodeConfig(dataDir, { url: hub.url, pollIntervalMs: 100, batchMaxAgeMs: 20, checkpointIntervalMs: 0 }, '430100', { logLevel: 'silent' }) }));
  await app.ready();
  const ndb = app.nodeCtx.db;
  const witness = app.nodeCtx.exchange!.witness!;
  const audit = app.nodeCtx.audit;
  const entries = async () => (await ndb('audit_log').where({ action: 'hub.checkpoint.cosign' }).orderBy('seq').select('outcome', 'reason', 'actor', 'object')) as { outcome: string; reason: string; actor: string; object: string }[];
  const record = audit.record.bind(audit);
  /** One witness round after new entries on both sides; `diskFull`: the node's audit writes fail during it. */
  const round = async (i: number, diskFull = false) => {
    await hub.app.hubCtx.audit.record({ actor: 'test', action: 'test.entry', object: `n=${i}`, outcome: 'success' });
    await hub.app.hubCtx.audit.checkpoint();
    await audit.record({ actor: 'test', action: 'test.entry', object: `n=${i}`, outcome: 'success' });
    if (diskFull) {
      audit.record = async () => {
        throw new Error('disk full');
      };
    }
    try {
      await witness.witnessOnce();
    } finally {
      audit.record = record;
    }
  };
  await round(0); // cosigned as usual (the loop's round at start may have cosigned one before)
  t.equal((await entries()).filter((e) => e.outcome === 'failure').length, 0, 'in step');

  // the hub shows a checkpoint with hostile fields (its signature then fails too)
  const client = app.nodeCtx.exchange!.client();
  const get = client.getWitnessState.bind(client);
  client.getWitnessState = async (...args: Parameters<typeof get>) => {
    const s = await get(...args);
    return s.hub ? { ...s, hub: { ...s.hub, checkpoint: { ...s.hub.checkpoint, treeSize: 'x'.repeat(500) as unknown as number, signerFingerprint: 'y'.repeat(300) } } } : s;
  };
  // and the audit write of the first refusal fails (a full disk): that round fails, the next reports it
  await t.rejects(round(1, true), /disk full/);
  t.equal((await entries()).filter((e) => e.outcome === 'failure').length, 0, 'nothing in the log yet');
  await round(2);
  const failed = (await entries()).filter((e) => e.outcome === 'failure');
  t.equal(failed.length, 1, 'reported at the next round, not an hour later');
  t.match(failed[0], { actor: 'cert:unknown', object: 'node:430000 size=-1' }, 'a size that is no safe integer is -1, a fingerprint that is not 64 hex digits "unknown"');
  t.match(failed[0]!.reason, /^ERR_AUDIT_CHECKPOINT_SIGNATURE: .*\(refused since .*, 2 rounds\)$/);
  const { token } = await mintServiceToken(ndb, app.nodeCtx.config.jwtSecret, '430100', { user: 'monitor', role: 'officer', clearance: 'public', ttlSeconds: 600 });
  const res = await app.inject({ method: 'GET', url: '/v1/exchange/status', headers: { authorization: `Bearer ${token}` } });
  t.equal(res.statusCode, 200, 'the status still answers');
  t.match(JSON.parse(res.body).hubCheckpointRefused, { code: 'ERR_AUDIT_CHECKPOINT_SIGNATURE', treeSize: -1, rounds: 2 });

  // the hub shows its checkpoints as they are again: cosigned, and the end of the refusal audited
  client.getWitnessState = get;
  await round(3);
  const last = (await entries()).at(-1)!;
  t.match(last, { outcome: 'success', actor: /^cert:[0-9a-f]{64}$/ });
  t.match(last.reason, /^cosigned again after 2 refused round\(s\) since \S+ \(ERR_AUDIT_CHECKPOINT_SIGNATURE; last refused tree size -1\)$/);
  t.equal((await app.nodeCtx.exchange!.status()).hubCheckpointRefused, null, 'and the status clears');
});
