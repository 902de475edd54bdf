/**
 * Issue 21 item 3 at the node: a node enrolled with an SM2 key fetches the hub's SM2 CRL
 * (GET /v1/crl/sm2) beside the RSA one, checks it against the SM2 root, keeps it in
 * DATADIR/exchange/sm2-crl.pem when it is newer, and refuses SM2 certificates it lists. What it
 * refuses, and keeps the CRL it held: a CRL signed by another SM2 key under the root's name, a
 * tampered one, the RSA root's CRL offered as the SM2 one (ERR_CRL_INVALID), one already past its
 * nextUpdate (ERR_CRL_STALE); an older one is not adopted (no rollback). A node enrolled without
 * an SM2 key does not ask for it. Real hub, real mutual TLS.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import type { FastifyInstance } from 'fastify';
import { initCaDir } from '../../certs/ca-dir.js';
import { certInfo } from '../../certs/pki-crypto.js';
import { parseCrl } from '../../certs/crl.js';
import { initSm2CaDir, readSm2Ca } from '../../certs/sm2-ca-dir.js';
import { buildSm2Crl, createSm2Ca } from '../../certs/sm2-x509.js';
import { buildHubConfig, makeToken, revokeNode, startHub } from '../../hub/index.js';
import { buildApp } from '../../node/app.js';
import { enrollNode } from '../../node/exchange/enroll.js';
import { exchangePaths, loadExchangeMaterial } from '../../node/exchange/files.js';
import { sqliteEngine } from '../helpers/db.js';
import { nodeConfig } from './exchange-fixture.js';

const codeOf = (p: Promise<unknown>) => p.then(() => 'no error', (e: { code?: string }) => e.code ?? String(e));
const der = (pem: string) => Buffer.from(pem.replace(/-----[^-]+-----|\s/g, ''), 'base64');
const pemOf = (b: Buffer) => `-----BEGIN X509 CRL-----\n${b.toString('base64')}\n-----END X509 CRL-----\n`;

t.test('an SM2-enrolled node keeps the SM2 CRL, refuses what it lists, and refuses bad SM2 CRLs with their codes', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'node-sm2-crl-'));
  const caDir = join(dir, 'ca');
  const { certPem: caCertPem } = await initCaDir(caDir, { cn: 'Test Provincial Credit CA (node sm2 crl)' });
  const { certPem: sm2CaPem } = initSm2CaDir(caDir, { cn: 'Test Provincial SM2 CA (node sm2 crl)' });
  const store = await sqliteEngine.open();
  let hubOffset = 0;
  const hub = await startHub({ config: buildHubConfig({ dataDir: join(dir, 'hub'), caDir, listen: { host: '127.0.0.1', port: 0 }, rateLimit: { enabled: false }, logLevel: 'silent' }, {}), db: store.db, clock: () => new Date(Date.now() + hubOffset) });
  const apps: FastifyInstance[] = [];
  t.teardown(async () => {
    for (const a of apps) await a.close();
    await hub.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const ctx = hub.app.hubCtx;
  const enrol = async (nodeId: string, sm2: boolean) => {
    const dataDir = join(dir, nodeId, 'data');
    const token = (await makeToken(store.db, ctx.ca, { nodeId, grade: 2, ttlMs: 3_600_000 })).token;
    await enrollNode({ dataDir, nodeId, hubUrl: hub.url, token, caCertPem, sm2 });
    return dataDir;
  };
  const dataDir = await enrol('430100', true);
  const otherDir = await enrol('430700', true);
  const rsaOnlyDir = await enrol('431081', false);
  const other = loadExchangeMaterial(otherDir, '430700').sm2!;

  const app = await buildApp({ config: nodeConfig(dataDir, { url: hub.url, pollIntervalMs: 60_000 }) });
  apps.push(app);
  await app.ready();
  const exchange = app.nodeCtx.exchange!;
  const file = exchangePaths(dataDir).sm2Crl;
  t.ok(existsSync(file), 'the SM2 CRL was fetched at start and stored (exchange/sm2-crl.pem)');
  const first = readFileSync(file, 'utf8');
  t.equal((await parseCrl(first, { caCertPem: sm2CaPem })).revoked.size, 0, 'it verifies with the SM2 root; nobody revoked');
  t.equal(exchange.identity.trust().verifySigner(other.certPem, new Date()).nodeId, '430700', "before: another node's SM2 certificate is trusted");

  await revokeNode(store.db, ctx.ca, { nodeId: '430700', reason: 'keyCompromise' });
  hubOffset = 61_000; // past the hub's 60 s CRL cache
  await exchange.refreshCrl();
  const second = readFileSync(file, 'utf8');
  t.not(second, first, 'the newer SM2 CRL replaced the stored one');
  t.ok((await parseCrl(second, { caCertPem: sm2CaPem })).revoked.has(certInfo(other.certPem).serial), "it lists 430700's SM2 certificate");
  t.equal(exchange.identity.current().sm2CrlPem, second, 'held in memory too');
  t.throws(() => exchange.identity.trust().verifySigner(other.certPem, new Date()), { code: 'ERR_CERT_REVOKED' }, 'the node now refuses that SM2 certificate (the RSA CRL of the same register lists it too)');

  const issuer = readSm2Ca(caDir)!.issuer;
  const impostor = createSm2Ca({ cn: 'Test Provincial SM2 CA (node sm2 crl)' }); // same name, another key
  const signatureFlipped = der(second);
  signatureFlipped[signatureFlipped.length - 40]! ^= 0x01;
  const thisUpdateMoved = der(buildSm2Crl(issuer, [], { number: 1n, now: new Date(Date.now() + 120_000) })); // a good CRL …
  const thisUpdateAt = thisUpdateMoved.indexOf(Buffer.from([0x17, 0x0d])) + 2; // … whose thisUpdate is then moved (signature kept)
  thisUpdateMoved[thisUpdateAt + 11] = thisUpdateMoved[thisUpdateAt + 11] === 0x39 ? 0x38 : thisUpdateMoved[thisUpdateAt + 11]! + 1; // its seconds' last digit
  const rsaCrl = (await hub.app.inject({ method: 'GET', url: '/v1/crl' })).body;
  const cases: [string, string, string][] = [
    ['signed by another SM2 key under the root\'s name', buildSm2Crl(impostor.issuer, [], { number: 9n, now: new Date(Date.now() + 120_000) }), 'ERR_CRL_INVALID'],
    ['tampered: one signature bit', pemOf(signatureFlipped), 'ERR_CRL_INVALID'],
    ['tampered: thisUpdate changed after signing', pemOf(thisUpdateMoved), 'ERR_CRL_INVALID'],
    ['the RSA root\'s CRL offered as the SM2 one', rsaCrl, 'ERR_CRL_INVALID'],
    ['past its nextUpdate', buildSm2Crl(issuer, [], { number: 10n, now: new Date(Date.now() - 10 * 86_400_000), nextUpdateDays: 7 }), 'ERR_CRL_STALE'],
  ];
  for (const [what, pem, code] of cases) {
    t.equal(await codeOf(exchange.identity.setSm2Crl(pem, new Date())), code, `${what}: ${code}`);
    t.equal(readFileSync(file, 'utf8'), second, `${what}: the stored SM2 CRL is kept`);
    t.throws(() => exchange.identity.trust().verifySigner(other.certPem, new Date()), { code: 'ERR_CERT_REVOKED' }, `${what}: revocations still apply`);
  }
  t.equal(await exchange.identity.setSm2Crl(first, new Date()), false, 'an older SM2 CRL (without the revocation) is not adopted');
  t.equal(readFileSync(file, 'utf8'), second);

  // a node enrolled without an SM2 key neither fetches nor stores an SM2 CRL
  const rsaApp = await buildApp({ config: nodeConfig(rsaOnlyDir, { url: hub.url, pollIntervalMs: 60_000 }, '431081') });
  apps.push(rsaApp);
  await rsaApp.ready();
  t.ok(existsSync(exchangePaths(rsaOnlyDir).crl), 'it keeps the RSA CRL');
  t.notOk(existsSync(exchangePaths(rsaOnlyDir).sm2Crl), 'and no SM2 CRL');
  t.equal(await rsaApp.nodeCtx.exchange!.identity.setSm2Crl(second, new Date()), false, 'setSm2Crl without an SM2 identity does nothing');
});

t.test('hostile review L1: an SM-enrolled node warns when the hub stops serving the SM2 CRL (404) and reports the held one on /metrics and /readyz', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'node-sm2-crl-404-'));
  const caDir = join(dir, 'ca');
  const { certPem: caCertPem } = await initCaDir(caDir, { cn: 'Test Provincial Credit CA (sm2 crl 404)' });
  initSm2CaDir(caDir, { cn: 'Test Provincial SM2 CA (sm2 crl 404)' });
  const store = await sqliteEngine.open();
  const hub = await startHub({ config: buildHubConfig({ dataDir: join(dir, 'hub'), caDir, listen: { host: '127.0.0.1', port: 0 }, rateLimit: { enabled: false }, logLevel: 'silent' }, {}), db: store.db });
  let app: FastifyInstance | undefined;
  t.teardown(async () => {
    await app?.close();
    await hub.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const ctx = hub.app.hubCtx;
  const dataDir = join(dir, '430100', 'data');
  await enrollNode({ dataDir, nodeId: '430100', hubUrl: hub.url, token: (await makeToken(store.db, ctx.ca, { nodeId: '430100', grade: 2, ttlMs: 3_600_000 })).token, caCertPem, sm2: true });
  let nodeOffset = 0;
  app = await buildApp({ config: nodeConfig(dataDir, { url: hub.url, pollIntervalMs: 60_000 }), clock: () => new Date(Date.now() + nodeOffset) });
  await app.ready();
  const exchange = app.nodeCtx.exchange!;
  const warnings: Array<Record<string, unknown>> = [];
  const warn = app.log.warn.bind(app.log);
  app.log.warn = ((obj: Record<string, unknown>, ...rest: unknown[]) => {
    warnings.push(obj);
    return (warn as (...a: unknown[]) => void)(obj, ...rest);
  }) as typeof app.log.warn;
  t.ok(exchange.identity.current().sm2CrlPem, 'the SM2 CRL is held from the start');
  const gauge = async () => Number(/^credit_node_crl_valid_seconds\{[^}]*crl="sm2"[^}]*\} (\S+)$/m.exec((await app!.inject({ url: '/metrics' })).body)?.[1] ?? 'NaN');
  t.ok((await gauge()) > 6 * 86_400, '/metrics: the SM2 CRL is current for about 7 days');

  // the hub restarted without its SM2 root (what GET /v1/crl/sm2 reads at each request)
  const sm2 = ctx.ca.sm2;
  (ctx.ca as { sm2?: unknown }).sm2 = undefined;
  t.equal((await hub.app.inject({ url: '/v1/crl/sm2' })).statusCode, 404);
  await exchange.refreshCrl();
  await exchange.refreshCrl();
  t.match(warnings, [{ code: 'ERR_SM2_CA_ABSENT', held: true }], 'warned, once');
  t.equal(warnings.length, 1);
  t.ok(exchange.sm2CrlAbsentSince(), 'and remembered');
  t.equal((await app.inject({ url: '/readyz' })).statusCode, 200, 'the held one is still current: ready');

  nodeOffset = 8 * 86_400_000; // past the held SM2 CRL's nextUpdate (and the RSA one's)
  t.ok((await gauge()) < 0, '/metrics: negative, stale');
  const ready = await app.inject({ url: '/readyz' });
  t.equal(ready.statusCode, 503);
  t.match((ready.json() as { details: { reasons: unknown[] } }).details.reasons, [{ check: 'crl', message: /the hub's CRL is past its nextUpdate/ }, { check: 'crl', message: /the hub's SM2 CRL is past its nextUpdate .*\[ERR_CRL_STALE\]/ }]);
  nodeOffset = 0;
  (ctx.ca as { sm2?: unknown }).sm2 = sm2;
  await exchange.refreshCrl();
  t.equal(exchange.sm2CrlAbsentSince(), null, 'served again: forgotten');
});
