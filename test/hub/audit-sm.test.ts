/**
 * The running servers on SM audit logs (issue 21 items 4 and 7): a hub and a node started with
 * `audit.hashAlg: "sm3"` write sm3 logs (audit_meta), sign their checkpoints with their SM2 keys,
 * witness each other with SM2 cosignatures, and their exported bundles verify with the SM2 root
 * alone (and fail when edited, or against the RSA root). A server whose signer cannot sign its
 * log's algorithm, and an existing sha256 log switched to sm3, refuse to start with
 * ERR_AUDIT_ALGORITHM_MIXED; a bad value is ERR_CONFIG_INVALID.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { exampleRecord } from '../../protocol/catalog.js';
import { certFromPem } from '../../protocol/crypto.js';
import { initCaDir } from '../../certs/ca-dir.js';
import { initSm2CaDir } from '../../certs/sm2-ca-dir.js';
import { exportBundle, toNdjson, verifyBundle } from '../../audit/index.js';
import { readHashAlg } from '../../audit/log-meta.js';
import { certFacts } from '../../audit/crypto.js';
import { latestCheckpoint } from '../../audit/store.js';
import { latestCosignature } from '../../audit/cosign-store.js';
import { buildHub, buildHubConfig, makeToken, readHubConfig, startHub } from '../../hub/index.js';
import { buildApp } from '../../node/app.js';
import { readConfig } from '../../node/config.js';
import { enrollNode } from '../../node/exchange/enroll.js';
import { sqliteEngine } from '../helpers/db.js';
import { eventually, nodeApp, nodeConfig, type NodeApp } from '../node/exchange-fixture.js';

const FAST = { pollIntervalMs: 100, batchMaxAgeMs: 20, checkpointIntervalMs: 300, suites: ['SM'] };
const SM3 = { audit: { hashAlg: 'sm3' } };
const codeOf = (p: Promise<unknown>) => p.then(() => 'no error', (e: { code?: string }) => e.code ?? String(e));
const keyKind = (pem: string) => certFromPem(pem).keyKind;

t.test('hub and node on sm3: SM2 checkpoints and cosignatures, bundles verify with the SM2 root alone', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'sm-audit-run-'));
  const caDir = join(dir, 'ca');
  const { certPem: caCertPem } = await initCaDir(caDir, { cn: 'Test Provincial Credit CA (sm audit)' });
  const { certPem: sm2CaPem } = initSm2CaDir(caDir, { cn: 'Test Provincial SM2 CA (sm audit)' });
  const store = await sqliteEngine.open();
  const hubConfig = buildHubConfig({ dataDir: join(dir, 'hub'), caDir, listen: { host: '127.0.0.1', port: 0 }, rateLimit: { enabled: false }, logLevel: 'silent', suites: ['SM'], ...SM3 }, {});
  t.same(hubConfig.audit, { hashAlg: 'sm3' });
  // the hub clock goes back 200 days for the enrolment only: the node's certificates are then in their renewal window
  let hubOffset = 0;
  const hub = await startHub({ config: hubConfig, db: store.db, clock: () => new Date(Date.now() + hubOffset) });
  const nodes: NodeApp[] = [];
  t.teardown(async () => {
    for (const n of nodes) await n.close();
    await hub.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const hubCtx = hub.app.hubCtx;
  t.equal(await readHashAlg(store.db), 'sm3', 'the hub log is recorded sm3 in audit_meta');
  t.equal(hubCtx.audit.hashAlg, 'sm3');

  const data = join(dir, 'node-430100');
  const token = (await makeToken(store.db, hubCtx.ca, { nodeId: '430100', grade: 3, ttlMs: 3_600_000 })).token;
  hubOffset = -200 * 86_400_000;
  await enrollNode({ dataDir: data, nodeId: '430100', hubUrl: hub.url, token, caCertPem, sm2: true });
  hubOffset = 0;
  const node = await nodeApp(data, { url: hub.url, ...FAST }, '430100', SM3);
  nodes.push(node);
  const ndb = node.app.nodeCtx.db;
  t.equal(await readHashAlg(ndb), 'sm3', 'the node log is recorded sm3 in audit_meta');

  const rec = { type: 'CF', fields: { ...exampleRecord('CF').fields, decisionNo: '省测〔2026〕901号' } };
  t.equal((await node.app.inject({ method: 'POST', url: '/v1/records', headers: await node.auth('submitter', 'internal'), payload: [rec] })).statusCode, 201);
  const cos = await eventually("the hub's cosignature of the node log", async () => (await latestCosignature(ndb)) ?? undefined);
  t.equal(keyKind(cos.certPem), 'sm2', 'the hub cosigned the node log with its SM2 key');
  t.equal(keyKind((await latestCheckpoint(ndb))!.certPem), 'sm2', 'the node signs its checkpoints with its SM2 key');

  // mutual witnessing: the hub's own checkpoint, cosigned by the node with its SM2 key
  const hubCp = (await hubCtx.audit.checkpoint())!;
  t.equal(keyKind((await latestCheckpoint(store.db))!.certPem), 'sm2', 'the hub signs its checkpoints with its SM2 key');
  const hubCos = await eventually("the node's cosignature of the hub log", async () => {
    const c = await latestCosignature(store.db);
    return c && c.treeSize >= hubCp.treeSize ? c : undefined;
  });
  t.equal(keyKind(hubCos.certPem), 'sm2', 'the node cosigned the hub log with its SM2 key');

  // renewal: the renewed SM2 certificate signs the log from then on, and the hub cosigns its checkpoints
  const exchange = node.app.nodeCtx.exchange!;
  const before = exchange.identity.current().sm2!.certPem;
  await exchange.renewal.renewNow();
  const renewed = exchange.identity.current().sm2!.certPem;
  t.not(renewed, before, 'the SM2 certificate was renewed with the TLS one');
  const log = node.app.nodeCtx.audit as unknown as { signerFingerprint(): string | null };
  t.equal(log.signerFingerprint(), certFacts(renewed).fingerprint, 'the audit log signs with the renewed SM2 key');
  await eventually('a cosignature of a checkpoint by the renewed key', async () => {
    const cp = await latestCheckpoint(ndb);
    const c = await latestCosignature(ndb);
    return cp && c && cp.signerFingerprint === certFacts(renewed).fingerprint && c.treeSize === cp.treeSize ? true : undefined;
  });

  for (const [who, db] of [['node 430100', ndb], ['hub', store.db]] as const) {
    const bundle = toNdjson((await exportBundle(db, { witnessed: true })).lines);
    t.match(bundle.split('\n')[0], /"hash":"sm3"/, `${who}: the bundle header declares sm3`);
    const ok = await verifyBundle(bundle, sm2CaPem);
    t.ok(ok.ok, `${who}: verifies with the SM2 root alone: ${ok.reason ?? ''}`);
    t.equal(ok.hash, 'sm3');
    t.ok(ok.cosignatures >= 1, `${who}: carries a witness cosignature`);
    t.equal((await verifyBundle(bundle, caCertPem)).code, 'ERR_AUDIT_UNTRUSTED_SIGNER', `${who}: not with the RSA root`);
    const lines = bundle.split('\n');
    const i = lines.findIndex((l) => l.includes('"type":"entry"'));
    const edited = { ...JSON.parse(lines[i]!), action: 'record.tampered' };
    lines[i] = JSON.stringify(edited);
    t.equal((await verifyBundle(lines.join('\n'), sm2CaPem)).code, 'ERR_AUDIT_ENTRY_MODIFIED', `${who}: an edited entry fails`);
  }
});

t.test('refusals at start: no SM2 key for an sm3 log, sha256 log switched to sm3, bad value', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'sm-audit-refuse-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  t.equal(await codeOf(Promise.resolve().then(() => readHubConfig({ dataDir: join(dir, 'h'), caDir: join(dir, 'ca'), audit: { hashAlg: 'sm2' } }, {}))), 'ERR_CONFIG_INVALID', 'hub: audit.hashAlg sm2 is not a hash');
  t.equal(await codeOf(Promise.resolve().then(() => readConfig({ nodeId: '430100', dataDir: join(dir, 'n'), audit: { hashAlg: 'SHA256' } }, {}))), 'ERR_CONFIG_INVALID', 'node: audit.hashAlg SHA256');
  t.equal(readConfig({ nodeId: '430100', dataDir: join(dir, 'n') }, {}).audit?.hashAlg, undefined, 'absent key: nothing asked (the log keeps what it was created with)');

  // a hub without an SM2 root asked for sm3
  const rsaCaDir = join(dir, 'ca-rsa');
  await initCaDir(rsaCaDir, { cn: 'Test CA (no sm2)' });
  const s1 = await sqliteEngine.open();
  t.teardown(() => s1.close());
  const noSm2 = buildHubConfig({ dataDir: join(dir, 'hub1'), caDir: rsaCaDir, listen: { host: '127.0.0.1', port: 0 }, logLevel: 'silent', ...SM3 }, {});
  const refused = await buildHub({ config: noSm2, db: s1.db }).then(async (app) => { await app.close(); return null; }, (e: { code?: string; message: string }) => e);
  t.equal(refused?.code, 'ERR_AUDIT_ALGORITHM_MIXED', 'hub with sm3 but no SM2 identity refuses to start');
  t.match(refused?.message, /credit ca init --algorithm sm2/, 'and says how to fix it');

  // a hub store created sha256, restarted with sm3
  const caDir = join(dir, 'ca');
  const { certPem: caCertPem } = await initCaDir(caDir, { cn: 'Test CA (sm audit refusals)' });
  initSm2CaDir(caDir, { cn: 'Test SM2 CA (sm audit refusals)' });
  const s2 = await sqliteEngine.open();
  t.teardown(() => s2.close());
  const base = { dataDir: join(dir, 'hub2'), caDir, listen: { host: '127.0.0.1', port: 0 }, rateLimit: { enabled: false }, logLevel: 'silent' };
  const hub = await startHub({ config: buildHubConfig(base, {}), db: s2.db });
  t.equal(await readHashAlg(s2.db), 'sha256');
  t.equal(keyKind((await hub.app.hubCtx.audit.checkpoint().then(() => latestCheckpoint(s2.db)))!.certPem), 'rsa', 'a sha256 hub log is signed with the RSA key');
  const url = hub.url;
  const tokens = [(await makeToken(s2.db, hub.app.hubCtx.ca, { nodeId: '430100', grade: 2, ttlMs: 3_600_000 })).token, (await makeToken(s2.db, hub.app.hubCtx.ca, { nodeId: '430700', grade: 2, ttlMs: 3_600_000 })).token];
  // a node without an SM2 certificate asked for sm3
  const plain = join(dir, 'node-430100');
  await enrollNode({ dataDir: plain, nodeId: '430100', hubUrl: url, token: tokens[0]!, caCertPem });
  const noKey = await buildApp({ config: nodeConfig(plain, { url }, '430100', SM3) }).then(async (app) => { await app.close(); return null; }, (e: { code?: string; message: string }) => e);
  t.equal(noKey?.code, 'ERR_AUDIT_ALGORITHM_MIXED', 'node with sm3 but no SM2 certificate refuses to start');
  t.match(noKey?.message, /credit node init --sm2/, 'and says how to fix it');
  // a node log created sha256 (SM2 identity held), restarted with sm3
  const sm = join(dir, 'node-430700');
  await enrollNode({ dataDir: sm, nodeId: '430700', hubUrl: url, token: tokens[1]!, caCertPem, sm2: true });
  const first = await nodeApp(sm, { url }, '430700');
  await first.app.nodeCtx.audit.record({ actor: 'user:test', action: 'record.read', outcome: 'success' });
  t.equal(await readHashAlg(first.app.nodeCtx.db), 'sha256', 'no audit.hashAlg: a new log is sha256');
  await first.close();
  t.equal(await codeOf(buildApp({ config: nodeConfig(sm, { url }, '430700', SM3) }).then(async (app) => app.close())), 'ERR_AUDIT_ALGORITHM_MIXED', 'node: sha256 log switched to sm3 refuses to start');
  await hub.close();
  t.equal(await codeOf(buildHub({ config: buildHubConfig({ ...base, ...SM3 }, {}), db: s2.db }).then(async (app) => app.close())), 'ERR_AUDIT_ALGORITHM_MIXED', 'hub: sha256 log switched to sm3 refuses to start');
});
