/**
 * Issue 13 item 5: a node fetches the hub's CRL (GET /v1/crl, signature checked against the CA,
 * kept in DATADIR/exchange/crl.pem) and checks the hub's certificate against it at TLS (every new
 * connection) and on every envelope the hub signs: a revoked hub certificate → ERR_CERT_REVOKED;
 * past the CRL's nextUpdate every check fails closed → ERR_CRL_STALE. Real hub, real mutual TLS.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import type { FastifyInstance } from 'fastify';
import { initCaDir } from '../../certs/ca-dir.js';
import { certInfo } from '../../certs/pki-crypto.js';
import { revoke } from '../../certs/revoke.js';
import { buildHubConfig, makeToken, startHub } from '../../hub/index.js';
import { CRL_CACHE_MS } from '../../hub/routes/public.js';
import { buildApp } from '../../node/app.js';
import { enrollNode } from '../../node/exchange/enroll.js';
import { exchangePaths } from '../../node/exchange/files.js';
import { openFromHub } from '../../node/exchange/hub-envelopes.js';
import { seal } from '../../protocol/seal.js';
import { sqliteEngine } from '../helpers/db.js';
import { nodeConfig } from './exchange-fixture.js';

const DAY = 86_400_000;

async function setup(t: { teardown(fn: () => unknown): void }) {
  const dir = mkdtempSync(join(tmpdir(), 'node-crl-'));
  const caDir = join(dir, 'ca');
  const { certPem: caCertPem } = await initCaDir(caDir, { cn: 'Test Provincial Credit CA (crl)' });
  const store = await sqliteEngine.open();
  const clocks = { hub: 0, node: 0 };
  const hub = await startHub({ config: buildHubConfig({ dataDir: join(dir, 'hub'), caDir, listen: { host: '127.0.0.1', port: 0 }, rateLimit: { enabled: false }, logLevel: 'silent' }, {}), db: store.db, clock: () => new Date(Date.now() + clocks.hub) });
  let app: FastifyInstance | undefined;
  t.teardown(async () => {
    await app?.close();
    await hub.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const ctx = hub.app.hubCtx;
  const dataDir = join(dir, 'node', 'data');
  const token = (await makeToken(store.db, ctx.ca, { nodeId: '430100', grade: 2, ttlMs: 3_600_000 })).token;
  // an RSA node: the hub's envelopes to it are signed by the hub's RSA certificate, the one revoked below
  await enrollNode({ dataDir, nodeId: '430100', hubUrl: hub.url, token, caCertPem, algorithm: 'rsa' });
  app = await buildApp({ config: nodeConfig(dataDir, { url: hub.url, pollIntervalMs: 60_000 }), clock: () => new Date(Date.now() + clocks.node) });
  await app.ready();
  const exchange = app.nodeCtx.exchange!;
  /** An envelope the hub signs for this node now (as its query answers are). */
  const fromHub = () =>
    seal({ type: 'query-answer', from: '430000', to: '430100', seq: 1, ts: new Date(Date.now() + clocks.node), payload: { hello: 1 }, sender: { keyPem: ctx.identity.keyPem, certPem: ctx.identity.certPem }, recipientCertPem: exchange.identity.current().certPem });
  const open = async () => openFromHub(await fromHub(), 'query-answer', exchange.identity, { now: new Date(Date.now() + clocks.node), fresh: true });
  return { hub, ctx, dataDir, exchange, clocks, open, caCertPem };
}

t.test('a revoked hub certificate: TLS and envelopes refused with ERR_CERT_REVOKED', async (t) => {
  const s = await setup(t);
  const crlFile = join(exchangePaths(s.dataDir).dir, 'crl.pem');
  t.ok(existsSync(crlFile), 'the CRL was fetched at start and stored');
  t.match(readFileSync(crlFile, 'utf8'), /^-----BEGIN X509 CRL-----/);
  t.ok(await s.exchange.client().getProtocol(), 'before: the hub answers');
  t.ok((await s.open()).payload, 'before: its envelopes open');

  await revoke(s.ctx.ca, { serial: certInfo(s.ctx.identity.certPem).serial, reason: 'keyCompromise' });
  s.clocks.hub = CRL_CACHE_MS + 1000; // the hub publishes a new CRL
  await s.exchange.refreshCrl();
  await t.rejects(s.exchange.client().getProtocol(), { code: 'ERR_CERT_REVOKED' }, 'TLS: the hub certificate is refused');
  await t.rejects(s.open(), { code: 'ERR_CERT_REVOKED' }, 'envelopes signed with it are refused');
});

t.test('a CRL past its nextUpdate: every check fails closed with ERR_CRL_STALE', async (t) => {
  const s = await setup(t);
  t.ok(await s.exchange.client().getProtocol(), 'before: the hub answers');
  s.clocks.node = 8 * DAY; // the hub's CRL says nextUpdate in 7 days
  await t.rejects(s.exchange.client().getProtocol(), { code: 'ERR_CRL_STALE' }, 'TLS refused');
  await t.rejects(s.open(), { code: 'ERR_CRL_STALE' }, 'envelopes refused');
});
