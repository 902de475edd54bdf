/**
 * The witness reset after a restore (test/node/backup-restore.test.ts) on a province whose audit
 * logs are on SM (`audit.hashAlg: "sm3"` at hub and node, SM2 roots beside the RSA ones): the node
 * is backed up (`credit node backup`), goes on and is cosigned past the backup, loses its store and
 * is restored (`credit node restore`); its log is then behind what the hub witnessed. The operator
 * arms the reset (`credit hub witness reset-arm`), the node's witness loop has it taken, and the hub
 * signs the reset record with its SM2 key (the key of the log's algorithm, hub/witness-service.ts).
 * The auditor's view: the reset record verifies with the SM2 root and not with the RSA root; the
 * node's exported bundle with the hub's witness export verifies with the SM2 root (`credit audit
 * verify`, WITNESS BREAK reported) and fails with the RSA root.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import type { Knex } from 'knex';
import { exampleRecord } from '../../protocol/catalog.js';
import { certFromPem } from '../../protocol/crypto.js';
import { initCaDir } from '../../certs/ca-dir.js';
import { initSm2CaDir } from '../../certs/sm2-ca-dir.js';
import { readHashAlg } from '../../audit/log-meta.js';
import { latestCosignature } from '../../audit/cosign-store.js';
import { lastSeq } from '../../audit/store.js';
import { verifyReset, type WitnessReset } from '../../audit/witness-reset.js';
import { witnessResetStore } from '../../hub/witness-reset-store.js';
import { buildHubConfig, makeToken, startHub, type RunningHub } from '../../hub/index.js';
import { enrollNode } from '../../node/exchange/enroll.js';
import { main } from '../../scripts/cli.js';
import { connect } from '../../audit/knex-connect.js';
import { eventually, nodeApp, type NodeApp } from './exchange-fixture.js';

const FAST = { pollIntervalMs: 100, batchMaxAgeMs: 20, checkpointIntervalMs: 300, suites: ['SM'] };
const SM3 = { audit: { hashAlg: 'sm3' } };

async function cli(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await main(args, { stdout: (s) => void (out += s), stderr: (s) => void (err += s) });
  return { code, out, err };
}

t.test('an SM node restored from a backup behind its witnessed head: the hub signs the reset with its SM2 key, the bundle verifies with the SM2 root only', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'node-backup-sm-'));
  const caDir = join(dir, 'ca');
  const { certPem: caCertPem } = await initCaDir(caDir, { cn: 'Test Provincial Credit CA (backup sm)' });
  const { certPem: sm2CaPem } = initSm2CaDir(caDir, { cn: 'Test Provincial SM2 CA (backup sm)' });
  mkdirSync(join(dir, 'hub'), { recursive: true });
  const hubDb: Knex = await connect(join(dir, 'hub', 'hub.sqlite')); // where `credit hub …` admin commands find it
  const hubConfigFile = join(dir, 'hub.json');
  writeFileSync(hubConfigFile, JSON.stringify({ dataDir: join(dir, 'hub'), caDir, suites: ['SM'], ...SM3 }));
  const hub: RunningHub = await startHub({ config: buildHubConfig({ dataDir: join(dir, 'hub'), caDir, listen: { host: '127.0.0.1', port: 0 }, rateLimit: { enabled: false }, logLevel: 'silent', suites: ['SM'], ...SM3 }, {}), db: hubDb });
  let node: NodeApp | undefined;
  t.teardown(async () => {
    await node?.close();
    await hub.close();
    await hubDb.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  const nodeDir = join(dir, 'node-430100');
  const dataDir = join(nodeDir, 'data');
  mkdirSync(nodeDir, { recursive: true });
  const token = (await makeToken(hubDb, hub.app.hubCtx.ca, { nodeId: '430100', grade: 3, ttlMs: 3_600_000 })).token;
  await enrollNode({ dataDir, nodeId: '430100', hubUrl: hub.url, token, caCertPem, sm2: true });
  const configFile = join(nodeDir, 'node.json');
  writeFileSync(configFile, JSON.stringify({ nodeId: '430100', dataDir: 'data', hub: { url: hub.url, ...FAST }, ...SM3 }));
  node = await nodeApp(dataDir, { url: hub.url, ...FAST }, '430100', SM3);
  t.equal(await readHashAlg(node.app.nodeCtx.db), 'sm3', 'the node log is on SM');

  let n = 0;
  const post = async (k: number) => {
    const recs = Array.from({ length: k }, () => ({ type: 'CF', fields: { ...exampleRecord('CF').fields, decisionNo: `省测〔2026〕${++n}号` } }));
    const r = await node!.app.inject({ method: 'POST', url: '/v1/records', headers: await node!.auth('submitter', 'public'), payload: recs });
    if (r.statusCode !== 201) throw new Error(`POST /v1/records: ${r.statusCode} ${r.body}`);
  };
  const hubHeads = async () => (await hubDb('hub_witness').where({ node_id: '430100' }).orderBy('tree_size')) as { tree_size: number | string }[];

  // a head the hub cosigned before the backup; the backup; then heads cosigned after it
  await post(2);
  const before = await eventually('a head cosigned before the backup', async () => (await latestCosignature(node!.app.nodeCtx.db)) ?? undefined);
  t.equal(certFromPem(before.certPem).keyKind, 'sm2', 'the hub cosigns the SM log with its SM2 key');
  const backupDir = join(dir, 'backup');
  const made = await cli(['node', 'backup', '--config', configFile, '--out', backupDir]);
  t.equal(made.code, 0, made.err);
  const manifest = JSON.parse(readFileSync(join(backupDir, 'manifest.json'), 'utf8')) as { createdAt: string };
  // The log's size (its last seq) once the backup is made: an upper bound of what the backup holds.
  // The hub must cosign a head beyond it, or the restored log may extend every head the hub witnessed
  // (no reset then): a head cosigned after the backup can be of a checkpoint the node signed before
  // it — under load the node's log grew past the hub's last head before the backup was taken.
  const sizeAtBackup = await lastSeq(node.app.nodeCtx.db);
  await post(3);
  await eventually('a head cosigned beyond the backup', async () => {
    const heads = await hubHeads();
    return heads.some((h) => Number(h.tree_size) > sizeAtBackup) ? true : undefined;
  }, 60_000);

  // the store is lost and restored: the log is behind what the hub witnessed
  await node.close();
  const restored = await cli(['node', 'restore', '--config', configFile, '--from', backupDir]);
  t.equal(restored.code, 0, restored.err);
  node = await nodeApp(dataDir, { url: hub.url, ...FAST }, '430100', SM3);
  t.equal(await readHashAlg(node.app.nodeCtx.db), 'sm3', 'the restored log is still on SM');
  await post(1);
  // the hub's audit entry of the refusal: the node's status shows one lastError for all its loops, and
  // another loop's transient error can hide the witness's until its next retry (a timeout under CI load)
  await eventually('the witness refused without an arm', async () => (await hubDb('audit_log').where({ action: 'witness.reset', outcome: 'failure', actor_node: '430100' }).where('reason', 'like', 'ERR_AUDIT_RESET_NOT_ARMED%').first()) ?? undefined, 60_000);
  const armed = await cli(['hub', 'witness', 'reset-arm', '--config', hubConfigFile, '--node', '430100', '--reason', 'store lost, restored from the backup (ticket OPS-21)', '--backup-created-at', manifest.createdAt]);
  t.equal(armed.code, 0, armed.err);
  t.match(armed.out, /witness reset 1 armed for node 430100/);
  await eventually('the witness reset taken', async () => (existsSync(join(dataDir, 'restored.json')) ? undefined : true));

  // the reset record: signed by the hub's SM2 key, chained to the SM2 root, not the RSA one
  const records = (await witnessResetStore.records(hubDb, '430100')).map((j) => JSON.parse(j) as WitnessReset);
  t.equal(records.length, 1, 'one reset record');
  t.match(records[0], { nodeId: '430100', epoch: 1, backupCreatedAt: manifest.createdAt, reason: 'store lost, restored from the backup (ticket OPS-21)' });
  t.ok(records[0]!.abandoned.length >= 1, 'the heads cosigned after the backup are abandoned');
  t.doesNotThrow(() => verifyReset(records[0]!, [sm2CaPem]), 'the reset record verifies with the SM2 root');
  t.equal(certFromPem(records[0]!.certPem).keyKind, 'sm2', 'signed with the hub SM2 key');
  t.equal(certFromPem(records[0]!.certPem).fingerprint, certFromPem(hub.app.hubCtx.identity.sm2!.certPem).fingerprint, "the hub's own SM2 certificate");
  t.throws(() => verifyReset(records[0]!, [caCertPem]), { code: 'ERR_AUDIT_UNTRUSTED_SIGNER' }, 'and not with the RSA root');
  const resetCos = await latestCosignature(node.app.nodeCtx.db);
  t.equal(resetCos?.epoch, 1, "the node stored the hub's reset cosignature");
  t.equal(certFromPem(resetCos!.certPem).keyKind, 'sm2', 'the reset cosignature is SM2 as well');
  const cosigs = async () => Number(((await node!.app.nodeCtx.db('audit_cosignatures').count({ n: '*' })) as { n: number | string }[])[0]!.n);
  const afterReset = await cosigs();
  await post(1);
  await eventually('the witness in step again (an ordinary cosignature after the reset)', async () => ((await cosigs()) > afterReset ? true : undefined));

  // the auditor: the hub's witness export and the node's bundle, verified offline with one root each
  writeFileSync(join(dir, 'ca.pem'), caCertPem);
  writeFileSync(join(dir, 'sm2-ca.pem'), sm2CaPem);
  const wexp = await cli(['audit', 'witness-export', '--db', join(dir, 'hub', 'hub.sqlite'), '--node', '430100', '--out', join(dir, 'witness.ndjson')]);
  t.equal(wexp.code, 0, wexp.err);
  t.match(wexp.out, /, 1 witness resets and \d+ archived \(abandoned\) cosignatures of node 430100/);
  const bexp = await cli(['audit', 'export', '--db', join(dataDir, 'node.sqlite'), '--witnessed', '--out', join(dir, 'bundle.ndjson')]);
  t.equal(bexp.code, 0, bexp.err);
  t.match(readFileSync(join(dir, 'bundle.ndjson'), 'utf8').split('\n')[0], /"hash":"sm3"/, 'the bundle declares sm3');
  const verify = (ca: string, witness = 'witness.ndjson') => cli(['audit', 'verify', join(dir, 'bundle.ndjson'), '--ca', join(dir, ca), '--node', '430100', '--witness', join(dir, witness)]);
  const sm = await verify('sm2-ca.pem');
  t.equal(sm.code, 0, `${sm.out}${sm.err}`);
  t.match(sm.out, /WITNESS BREAK node 430100 epoch 1: .*reason: "store lost, restored from the backup \(ticket OPS-21\)"/, 'the break is reported');
  const rsa = await verify('ca.pem');
  t.not(rsa.code, 0, `the RSA root does not verify the SM log: ${rsa.out}${rsa.err}`);
  t.match(`${rsa.out}${rsa.err}`, /ERR_AUDIT_UNTRUSTED_SIGNER: witness records/, 'the SM2-signed witness records are not issued by the RSA root');
  const alone = (ca: string) => cli(['audit', 'verify', join(dir, 'bundle.ndjson'), '--ca', join(dir, ca), '--node', '430100']);
  const plain = await alone('sm2-ca.pem');
  t.equal(plain.code, 0, `the bundle alone verifies with the SM2 root: ${plain.out}${plain.err}`);
  const plainRsa = await alone('ca.pem');
  t.not(plainRsa.code, 0, 'the bundle alone fails with the RSA root');
  t.match(`${plainRsa.out}${plainRsa.err}`, /ERR_AUDIT_UNTRUSTED_SIGNER/);
  writeFileSync(join(dir, 'witness-dropped.ndjson'), readFileSync(join(dir, 'witness.ndjson'), 'utf8').split('\n').filter((l) => !l.includes('"type":"witness-reset"')).join('\n'));
  const hidden = await verify('sm2-ca.pem', 'witness-dropped.ndjson');
  t.not(hidden.code, 0, 'a dropped reset record fails verify');
  t.match(`${hidden.out}${hidden.err}`, /ERR_AUDIT_RESET_MISSING/);
});
