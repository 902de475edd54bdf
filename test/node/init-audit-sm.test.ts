/**
 * `credit node init` for a node whose config asks `audit.hashAlg: "sm3"` (and nothing else about SM:
 * no `--sm2`, no `--sm2-ca`, no `hub.suites`): the config alone makes init obtain an SM2 certificate
 * (scripts/cli/node-keys.ts), the node then starts on that config and signs its sm3 checkpoints with
 * the SM2 key, cosigned by the hub with its SM2 key. Against a hub without an SM2 root the same init
 * fails with ERR_CSR_KEY_UNSUPPORTED before the token is spent, and writes no key.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { exampleRecord } from '../../protocol/catalog.js';
import { certFromPem } from '../../protocol/crypto.js';
import { initCaDir } from '../../certs/ca-dir.js';
import { initSm2CaDir } from '../../certs/sm2-ca-dir.js';
import { exportBundle, toNdjson, verifyBundle } from '../../audit/index.js';
import { readHashAlg } from '../../audit/log-meta.js';
import { latestCheckpoint } from '../../audit/store.js';
import { latestCosignature } from '../../audit/cosign-store.js';
import { buildHubConfig, makeToken, startHub } from '../../hub/index.js';
import { buildApp } from '../../node/app.js';
import { loadConfig } from '../../node/config.js';
import { exchangePaths, loadExchangeMaterial } from '../../node/exchange/files.js';
import { main } from '../../scripts/cli.js';
import { sqliteEngine } from '../helpers/db.js';
import { mintServiceToken } from '../../node/tokens.js';
import { eventually } from './exchange-fixture.js';

const FAST = { pollIntervalMs: 100, batchMaxAgeMs: 20, checkpointIntervalMs: 300 };

async function cli(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await main(args, { stdout: (s) => void (out += s), stderr: (s) => void (err += s) });
  return { code, out, err };
}

/** A node directory whose node.json asks for an SM audit log and says nothing else about SM. */
function nodeDir(dir: string, nodeId: string, hubUrl: string): string {
  const d = join(dir, `node-${nodeId}`);
  mkdirSync(d, { recursive: true });
  writeFileSync(join(d, 'node.json'), JSON.stringify({ nodeId, dataDir: 'data', listen: { host: '127.0.0.1', port: 0 }, rateLimit: { enabled: false }, disclosureJob: { intervalMinutes: 0 }, logLevel: 'silent', hub: { url: hubUrl, ...FAST }, audit: { hashAlg: 'sm3' } }));
  return join(d, 'node.json');
}

t.test('credit node init with audit.hashAlg sm3 obtains an SM2 certificate; the node starts and signs sm3 checkpoints with it', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'init-audit-sm-'));
  const caDir = join(dir, 'ca');
  const { certPem: caCertPem } = await initCaDir(caDir, { cn: 'Test Provincial Credit CA (init sm audit)' });
  const { certPem: sm2CaPem } = initSm2CaDir(caDir, { cn: 'Test Provincial SM2 CA (init sm audit)' });
  const caFile = join(dir, 'ca.pem');
  writeFileSync(caFile, caCertPem);
  const store = await sqliteEngine.open();
  const hub = await startHub({ config: buildHubConfig({ dataDir: join(dir, 'hub'), caDir, listen: { host: '127.0.0.1', port: 0 }, rateLimit: { enabled: false }, logLevel: 'silent', audit: { hashAlg: 'sm3' } }, {}), db: store.db });
  let app: Awaited<ReturnType<typeof buildApp>> | undefined;
  t.teardown(async () => {
    await app?.close();
    await hub.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const configFile = nodeDir(dir, '430100', hub.url);
  const token = (await makeToken(store.db, hub.app.hubCtx.ca, { nodeId: '430100', grade: 3, ttlMs: 3_600_000 })).token;
  const init = await cli(['node', 'init', '--config', configFile, '--hub', hub.url, '--token', token, '--ca', caFile]);
  t.equal(init.code, 0, init.err);
  t.match(init.out, /node-sm2\.key \(SM2 private key, 0600\)/, 'init says it made the SM2 key');

  const config = loadConfig(configFile);
  t.equal(config.audit?.hashAlg, 'sm3');
  const m = loadExchangeMaterial(config.dataDir, '430100');
  t.ok(m.sm2, 'the SM2 identity is stored beside the TLS one');
  t.equal(certFromPem(m.sm2!.certPem).keyKind, 'sm2');
  t.equal(certFromPem(m.sm2!.certPem).cn, '430100');
  t.equal(certFromPem(m.sm2!.caCertPem).fingerprint, certFromPem(sm2CaPem).fingerprint, 'issued by the provincial SM2 root');
  t.ok(existsSync(exchangePaths(config.dataDir).sm2Key));

  // the node starts on the config init wrote to, and its log is on SM
  app = await buildApp({ config });
  await app.ready();
  const ndb = app.nodeCtx.db;
  t.equal(await readHashAlg(ndb), 'sm3', 'the node log is created sm3');
  const auth = { authorization: `Bearer ${(await mintServiceToken(ndb, config.jwtSecret, '430100', { user: 'alice', role: 'submitter', clearance: 'internal', ttlSeconds: 3600 })).token}` };
  const rec = { type: 'CF', fields: { ...exampleRecord('CF').fields, decisionNo: '省测〔2026〕911号' } };
  t.equal((await app.inject({ method: 'POST', url: '/v1/records', headers: auth, payload: [rec] })).statusCode, 201);
  const cos = await eventually("the hub's cosignature of the node log", async () => (await latestCosignature(ndb)) ?? undefined);
  const cp = (await latestCheckpoint(ndb))!;
  t.equal(certFromPem(cp.certPem).keyKind, 'sm2', 'the checkpoints are signed with the SM2 key');
  t.equal(certFromPem(cp.certPem).fingerprint, certFromPem(m.sm2!.certPem).fingerprint, 'the SM2 certificate init obtained');
  t.equal(certFromPem(cos.certPem).keyKind, 'sm2', 'the hub cosigned with its SM2 key');
  const bundle = toNdjson((await exportBundle(ndb, { witnessed: true })).lines);
  const ok = await verifyBundle(bundle, sm2CaPem);
  t.ok(ok.ok, ok.reason ?? 'the bundle verifies with the SM2 root');
  t.equal(ok.hash, 'sm3');
  t.equal((await verifyBundle(bundle, caCertPem)).code, 'ERR_AUDIT_UNTRUSTED_SIGNER', 'not with the RSA root');
});

t.test('credit node init with audit.hashAlg sm3 against a hub without an SM2 root: ERR_CSR_KEY_UNSUPPORTED, the token unspent', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'init-audit-sm-none-'));
  const caDir = join(dir, 'ca');
  const { certPem: caCertPem } = await initCaDir(caDir, { cn: 'Test Provincial Credit CA (no sm2)' });
  const caFile = join(dir, 'ca.pem');
  writeFileSync(caFile, caCertPem);
  const store = await sqliteEngine.open();
  const hub = await startHub({ config: buildHubConfig({ dataDir: join(dir, 'hub'), caDir, listen: { host: '127.0.0.1', port: 0 }, rateLimit: { enabled: false }, logLevel: 'silent' }, {}), db: store.db });
  t.teardown(async () => {
    await hub.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const configFile = nodeDir(dir, '430100', hub.url);
  const token = (await makeToken(store.db, hub.app.hubCtx.ca, { nodeId: '430100', grade: 3, ttlMs: 3_600_000 })).token;
  const init = await cli(['node', 'init', '--config', configFile, '--hub', hub.url, '--token', token, '--ca', caFile]);
  t.not(init.code, 0, 'init fails');
  t.match(init.err, /ERR_CSR_KEY_UNSUPPORTED/, 'with the documented code');
  t.match(init.err, /no SM2 CA/, 'and says why');
  t.equal((await store.db('hub_tokens').whereNotNull('used_at')).length, 0, 'the token is still good');
  const dataDir = loadConfig(configFile).dataDir;
  t.notOk(existsSync(exchangePaths(dataDir).cert), 'no certificate written');
});
