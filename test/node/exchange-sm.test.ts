/**
 * The national suite end to end (issue 21 item 3): a hub whose CA directory holds the SM2 root
 * (`credit ca init --algorithm sm2`) and whose policy is `suites: ["SM"]`, and nodes enrolled with
 * an SM2 key (`credit node init --sm2`) whose policy is `hub.suites: ["SM"]`. Batches, receipts,
 * distributions and province queries are all CF1-SM2-SM4GCM-SM3; TLS stays RSA. Hostile cases:
 * an RSA-sealed envelope to an SM-only node or hub, a forged SM2 certificate, a wrong-curve signer,
 * a revoked SM2 certificate, SM2 requests the hub must refuse.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { exampleRecord } from '../../protocol/catalog.js';
import { certFromPem } from '../../protocol/crypto.js';
import { seal } from '../../protocol/seal.js';
import { SM_SUITE } from '../../protocol/suites.js';
import { initCaDir } from '../../certs/ca-dir.js';
import { initSm2CaDir } from '../../certs/sm2-ca-dir.js';
import { createSm2Ca, createSm2Csr, issueSm2NodeIdentity } from '../../certs/sm2-x509.js';
import { sm2GenerateKeyPem } from '../../protocol/sm-crypto.js';
import { buildHubConfig, makeToken, startHub } from '../../hub/index.js';
import { enrollNode } from '../../node/exchange/enroll.js';
import { exchangePaths, loadExchangeMaterial } from '../../node/exchange/files.js';
import { createHubClient } from '../../node/exchange/hub-client.js';
import { createIdentity } from '../../node/exchange/identity.js';
import { openFromHub, sealToHub } from '../../node/exchange/hub-envelopes.js';
import { main } from '../../scripts/cli.js';
import { sqliteEngine } from '../helpers/db.js';
import { eventually, nodeApp, type NodeApp } from './exchange-fixture.js';

const FAST = { pollIntervalMs: 100, batchMaxAgeMs: 20, checkpointIntervalMs: 500 };
const SUBJECT = exampleRecord('CF').fields.uscc as string;
const rec = (type: string, n: number) => ({ type, fields: { ...exampleRecord(type).fields, decisionNo: `省测〔2026〕${n}号` } });
const codeOf = (p: Promise<unknown>) => p.then(() => 'no error', (e: { code?: string }) => e.code ?? String(e));

t.test('an SM province: enrolment with SM2 certificates, every envelope on CF1-SM2-SM4GCM-SM3, hostile envelopes refused', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'sm-province-'));
  const caDir = join(dir, 'ca');
  const { certPem: caCertPem } = await initCaDir(caDir, { cn: 'Test Provincial Credit CA (sm)' });
  const { certPem: sm2CaPem } = initSm2CaDir(caDir, { cn: 'Test Provincial SM2 CA (sm)' });
  const caFile = join(dir, 'ca.pem');
  const sm2CaFile = join(dir, 'sm2-ca.pem');
  writeFileSync(caFile, caCertPem);
  writeFileSync(sm2CaFile, sm2CaPem);
  const store = await sqliteEngine.open();
  const config = buildHubConfig({ dataDir: join(dir, 'hub'), caDir, listen: { host: '127.0.0.1', port: 0 }, rateLimit: { enabled: false }, logLevel: 'silent', suites: ['SM'] }, {});
  const hub = await startHub({ config, db: store.db });
  const nodes: NodeApp[] = [];
  t.teardown(async () => {
    for (const n of nodes) await n.close();
    await hub.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const hubCtx = hub.app.hubCtx;
  t.ok(hubCtx.identity.sm2, 'the hub made its SM2 identity from the SM2 root');
  t.equal(certFromPem(hubCtx.identity.sm2!.certPem).cn, '430000');
  const token = async (nodeId: string, grade: number) => (await makeToken(store.db, hubCtx.ca, { nodeId, grade, ttlMs: 3_600_000 })).token;

  // enrolment: one node through `credit node init` (its config's hub.suites implies --sm2) with an RSA TLS key (the
  // downgrade attempts below are RSA), one through the API with the default EC P-256 TLS key (issue 23)
  const cs = join(dir, 'node-430100');
  mkdirSync(cs, { recursive: true });
  writeFileSync(join(cs, 'node.json'), JSON.stringify({ nodeId: '430100', dataDir: 'data', hub: { url: hub.url, suites: ['SM'] } }));
  const err: string[] = [];
  const out: string[] = [];
  t.equal(await main(['node', 'init', '--config', join(cs, 'node.json'), '--hub', hub.url, '--token', await token('430100', 3), '--ca', caFile, '--sm2-ca', sm2CaFile, '--algorithm', 'rsa'], { stdout: (s) => void out.push(s), stderr: (s) => void err.push(s) }), 0, err.join(''));
  t.match(out.join(''), /node-sm2\.key \(SM2 private key, 0600\)/);
  const csData = join(cs, 'data');
  const cdData = join(dir, 'node-430700', 'data');
  await enrollNode({ dataDir: cdData, nodeId: '430700', hubUrl: hub.url, token: await token('430700', 2), caCertPem, sm2: true });
  const m = loadExchangeMaterial(csData, '430100');
  t.ok(m.sm2, 'the SM2 identity is stored beside the TLS one');
  const sm2Cert = certFromPem(m.sm2!.certPem);
  t.equal(sm2Cert.cn, '430100', 'SM2 certificate CN = node id');
  t.equal(sm2Cert.keyKind, 'sm2');
  t.equal(certFromPem(m.certPem).keyKind, 'rsa', 'TLS stays RSA (--algorithm rsa)');
  t.equal(certFromPem(loadExchangeMaterial(cdData, '430700').certPem).keyKind, 'ec-p256', 'the other node\'s TLS key is EC P-256 beside its SM2 one');
  t.equal((await store.db('hub_certs').where({ node_id: '430100' })).length, 2, 'both certificates in the hub register');

  const changsha = await nodeApp(csData, { url: hub.url, ...FAST, suites: ['SM'] }, '430100');
  const changde = await nodeApp(cdData, { url: hub.url, ...FAST, suites: ['SM'] }, '430700');
  nodes.push(changsha, changde);

  const post = await changsha.app.inject({ method: 'POST', url: '/v1/records', headers: await changsha.auth('submitter', 'internal'), payload: [rec('CF', 1), rec('SXBZX', 2)] });
  t.equal(post.statusCode, 201);
  const status = async () => (await changsha.app.inject({ method: 'GET', url: '/v1/exchange/status', headers: await changsha.auth('officer', 'public') })).json();
  const batches = await eventually('the batch to be accepted', async () => {
    const rows = await changsha.app.nodeCtx.db('node_batches').where({ status: 'accepted' });
    return rows.length > 0 ? rows : undefined;
  }).catch(async (e: unknown) => {
    t.comment(JSON.stringify(await status()));
    throw e;
  });
  t.ok(batches.every((b: { receipt: string }) => JSON.parse(b.receipt).suite === SM_SUITE), 'receipts sealed SM');
  const env = await store.db('hub_envelopes').where({ from_node: '430100' }).first();
  if (env?.envelope) t.equal(JSON.parse(env.envelope).suite, SM_SUITE, 'the batch the hub kept is SM');
  await eventually('常德 to hold 长沙 records', async () => {
    const rows = await changde.app.nodeCtx.db('node_records').where({ source_node: '430100' });
    return rows.length >= 2 ? rows : undefined;
  });
  t.pass('distributions opened under the SM-only policy');
  const q = await changde.app.inject({ method: 'GET', url: `/v1/subjects/${SUBJECT}?scope=province&purpose=${encodeURIComponent('行政审批 2026-7')}`, headers: await changde.auth('query', 'restricted', 'erin') });
  t.equal(q.statusCode, 200, 'province query and answer on SM');
  t.ok(q.json().records.length >= 1);

  // hostile: an RSA-sealed envelope to an SM-only node
  const identity = await createIdentity(m, undefined, undefined, undefined, ['SM']);
  const rsaDistribution = await seal({ type: 'distribution', from: '430000', to: '430100', seq: 1, payload: { items: [], next: 0, more: false }, sender: hubCtx.identity, recipientCertPem: m.certPem });
  t.equal(await codeOf(openFromHub(rsaDistribution, 'distribution', identity, { now: new Date(), fresh: true })), 'ERR_SUITE_REFUSED', 'RSA envelope to an SM-only node: ERR_SUITE_REFUSED');

  // hostile: an RSA batch to the SM-only hub (a downgrade attempt)
  const client = createHubClient({ url: hub.url, caCertPem, certPem: m.certPem, keyPem: m.keyPem, timeoutMs: 10_000, connections: 1 });
  t.teardown(() => client.close());
  const rsaBatch = await seal({ type: 'batch', from: '430100', to: '430000', seq: 99, payload: { records: [] }, sender: { keyPem: m.keyPem, certPem: m.certPem }, recipientCertPem: m.hubCertPem });
  t.equal(await codeOf(client.postBatch(rsaBatch)), 'ERR_SUITE_REFUSED', 'RSA batch to an SM-only hub: ERR_SUITE_REFUSED');
  // …and the node itself will not seal one
  const noSm2 = await createIdentity({ ...m, sm2: undefined }, undefined, undefined, undefined, ['SM']);
  t.equal(await codeOf(sealToHub(noSm2, { type: 'batch', seq: 1, ts: new Date(), payload: { records: [] } })), 'ERR_SUITE_REFUSED', 'an SM-only node without its SM2 key seals nothing else');

  // hostile: a forged SM2 certificate (another root with the same name) signing for 430100
  const forger = createSm2Ca({ cn: 'Test Provincial SM2 CA (sm)' });
  const forged = issueSm2NodeIdentity(forger.issuer, '430100');
  const forgedBatch = await seal({ type: 'batch', from: '430100', to: '430000', seq: 99, suite: SM_SUITE, payload: { records: [] }, sender: forged, recipientCertPem: m.sm2!.hubCertPem });
  t.equal(await codeOf(client.postBatch(forgedBatch)), 'ERR_CERT_UNTRUSTED', 'forged SM2 certificate: ERR_CERT_UNTRUSTED');
  // hostile: a wrong-curve signer under the SM suite (the node's RSA certificate in x5c)
  const good = await sealToHub(identity, { type: 'batch', seq: 98, ts: new Date(), payload: { records: [] } });
  const wrongCurve = { ...good, x5c: [certFromPem(m.certPem).derB64] };
  t.equal(await codeOf(client.postBatch(wrongCurve)), 'ERR_SIGNATURE_INVALID', 'an RSA signer certificate under the SM suite: ERR_SIGNATURE_INVALID');

  // hostile: SM2 requests the hub refuses before the token is spent
  const other = sm2GenerateKeyPem();
  const anon = createHubClient({ url: hub.url, caCertPem, timeoutMs: 10_000, connections: 1 });
  t.teardown(() => anon.close());
  const tok = await token('431000', 2);
  const { createCsr, generateRsaKeyPair } = await import('../../certs/pki-crypto.js');
  t.equal(await codeOf(anon.enroll({ token: tok, csrPem: createCsr('431000', generateRsaKeyPair()), sm2CsrPem: createSm2Csr('430100', other.privateKeyPem) })), 'ERR_CSR_SUBJECT_INVALID', 'an SM2 request for another node');
  t.equal((await store.db('hub_tokens').whereNotNull('used_at')).length, 2, 'the refusal did not spend the token');

  // hostile: the SM2 certificate revoked (alone): the hub refuses what it signs at once
  await hubCtx.ca.certs.markRevoked(sm2Cert.serial, new Date(Date.now() - 1000), 'keyCompromise');
  const afterRevoke = await sealToHub(identity, { type: 'batch', seq: 97, ts: new Date(), payload: { records: [] } });
  t.equal(await codeOf(client.postBatch(afterRevoke)), 'ERR_CERT_REVOKED', 'revoked SM2 certificate: ERR_CERT_REVOKED');
  t.ok(exchangePaths(csData).sm2Key.endsWith('node-sm2.key'));
});

t.test('a hub without an SM2 root refuses an SM2 request (ERR_CSR_KEY_UNSUPPORTED) before the token is spent', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'sm-none-'));
  const caDir = join(dir, 'ca');
  const { certPem: caCertPem } = await initCaDir(caDir, { cn: 'Test Provincial Credit CA (no sm2)' });
  const store = await sqliteEngine.open();
  const hub = await startHub({ config: buildHubConfig({ dataDir: join(dir, 'hub'), caDir, listen: { host: '127.0.0.1', port: 0 }, rateLimit: { enabled: false }, logLevel: 'silent' }, {}), db: store.db });
  t.teardown(async () => {
    await hub.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const tok = (await makeToken(store.db, hub.app.hubCtx.ca, { nodeId: '430100', grade: 2, ttlMs: 3_600_000 })).token;
  t.equal(await codeOf(enrollNode({ dataDir: join(dir, 'n'), nodeId: '430100', hubUrl: hub.url, token: tok, caCertPem, sm2: true })), 'ERR_CSR_KEY_UNSUPPORTED');
  t.equal((await store.db('hub_tokens').whereNotNull('used_at')).length, 0, 'the token is still good');
});
