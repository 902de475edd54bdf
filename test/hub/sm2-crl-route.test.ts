/**
 * GET /v1/crl/sm2 (issue 21 item 3): the hub signs an SM2 CRL (SM2-with-SM3, ID 1234567812345678)
 * from its certificate register with its SM2 root, beside the RSA CRL of GET /v1/crl. A revoked
 * node's SM2 certificate is listed in the next one (after the 60 s cache, like the RSA CRL), with
 * its reason; the RSA root does not verify it (ERR_CRL_INVALID), and a hub without an SM2 root
 * answers 404 ERR_SM2_CA_ABSENT. Interop: OpenSSL 3.0 parses the CRL and lists the serial, but
 * checks SM2 CRL signatures only with the empty ID, so it says "verify failure" for the standard
 * ID; the variant signed for OpenSSL (`credit hub crl --sm2 --openssl`) verifies there, and
 * `openssl verify -crl_check` reports the revoked SM2 node certificate as revoked.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { initCaDir } from '../../certs/ca-dir.js';
import { parseCrl } from '../../certs/crl.js';
import { createNodeKeys } from '../../certs/node-keys.js';
import { buildSm2RegisterCrl } from '../../certs/revoke.js';
import { initSm2CaDir } from '../../certs/sm2-ca-dir.js';
import { createSm2Csr } from '../../certs/sm2-x509.js';
import { buildHubConfig, makeToken, revokeNode, startHub } from '../../hub/index.js';
import type { EnrollResponse } from '../../protocol/exchange.js';
import { sm2GenerateKeyPem } from '../../protocol/sm-crypto.js';
import { sqliteEngine } from '../helpers/db.js';
import { hubFixture } from './fixture.js';

function openssl(args: string[], cwd: string): { out: string; status: number | null } {
  const r = spawnSync('openssl', args, { cwd, encoding: 'utf8' });
  return { out: `${r.stdout}${r.stderr}`, status: r.status };
}

t.test('GET /v1/crl/sm2: signed by the SM2 root from the register; a revoked SM2 certificate is listed in the next CRL', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'sm2-crl-route-'));
  const caDir = join(dir, 'ca');
  const { certPem: caCertPem } = await initCaDir(caDir, { cn: 'Test Provincial Credit CA (sm2 crl)' });
  const { certPem: sm2CaPem } = initSm2CaDir(caDir, { cn: 'Test Provincial SM2 CA (sm2 crl)' });
  const store = await sqliteEngine.open();
  let offset = 0;
  const hub = await startHub({ config: buildHubConfig({ dataDir: join(dir, 'hub'), caDir, listen: { host: '127.0.0.1', port: 0 }, rateLimit: { enabled: false }, logLevel: 'silent' }, {}), db: store.db, clock: () => new Date(Date.now() + offset) });
  t.teardown(async () => {
    await hub.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const ctx = hub.app.hubCtx;
  const get = async (url: string) => hub.app.inject({ method: 'GET', url });

  const token = (await makeToken(ctx.db, ctx.ca, { nodeId: '430100', grade: 3, ttlMs: 3_600_000 })).token;
  const { privateKeyPem: sm2KeyPem } = sm2GenerateKeyPem();
  const enrolled = await hub.app.inject({ method: 'POST', url: '/v1/enroll', payload: { token, csrPem: createNodeKeys('430100').csrPem, sm2CsrPem: createSm2Csr('430100', sm2KeyPem) } });
  t.equal(enrolled.statusCode, 200, enrolled.body);
  const sm2Cert = (enrolled.json() as EnrollResponse).sm2!;
  const sm2Serial = sm2Cert.serial;
  const tlsSerial = (enrolled.json() as EnrollResponse).serial;

  const first = await get('/v1/crl/sm2');
  t.equal(first.statusCode, 200);
  t.match(first.headers['content-type'], /application\/pkix-crl/);
  t.match(first.headers['cache-control'], /max-age=60/);
  const empty = await parseCrl(first.body, { caCertPem: sm2CaPem });
  t.equal(empty.revoked.size, 0, 'verifies with the SM2 root alone; nobody revoked yet');
  t.ok(empty.nextUpdate && empty.nextUpdate.getTime() - empty.thisUpdate.getTime() === 7 * 86_400_000, 'nextUpdate = thisUpdate + 7 days');
  const der = Buffer.from(first.body.replace(/-----[^-]+-----|\s/g, ''), 'base64');
  t.ok(der.includes(Buffer.from('06082a811ccf55018375', 'hex')), 'signature algorithm sm2-with-SM3 (1.2.156.10197.1.501)');
  await t.rejects(parseCrl(first.body, { caCertPem }), { code: 'ERR_CRL_INVALID' }, 'the RSA root does not verify the SM2 CRL');
  await t.rejects(parseCrl((await get('/v1/crl')).body, { caCertPem: sm2CaPem }), { code: 'ERR_CRL_INVALID' }, 'nor the SM2 root the RSA CRL');

  await revokeNode(ctx.db, ctx.ca, { nodeId: '430100', reason: 'keyCompromise' });
  t.equal((await get('/v1/crl/sm2')).body, first.body, 'within 60 s the cached CRL is served');
  offset = 61_000;
  const next = await get('/v1/crl/sm2');
  const crl = await parseCrl(next.body, { caCertPem: sm2CaPem });
  t.ok(crl.revoked.has(sm2Serial), 'the next SM2 CRL lists the SM2 certificate');
  t.ok(crl.revoked.has(tlsSerial), 'and, from the same register, the TLS certificate (as the RSA CRL lists both)');
  t.equal(crl.entries.find((e) => e.serial === sm2Serial)?.reason, 'keyCompromise', 'with its reason code');
  t.ok(crl.thisUpdate > empty.thisUpdate, 'a newer thisUpdate (and cRLNumber)');
  t.ok((await parseCrl((await get('/v1/crl')).body, { caCertPem })).revoked.has(sm2Serial), 'the RSA CRL lists it too, as before');

  // interop with OpenSSL 3.0
  writeFileSync(join(dir, 'sm2root.pem'), sm2CaPem);
  writeFileSync(join(dir, 'sm2crl.pem'), next.body);
  writeFileSync(join(dir, 'node-sm2.pem'), sm2Cert.certPem);
  const text = openssl(['crl', '-in', 'sm2crl.pem', '-noout', '-text'], dir);
  t.equal(text.status, 0, 'openssl crl -text reads the SM2 CRL');
  t.match(text.out, /Signature Algorithm: SM2-with-SM3/);
  t.match(text.out, new RegExp(`Serial Number: ${sm2Serial}`), 'openssl lists the revoked SM2 serial');
  t.match(text.out, /Key Compromise/, 'with its reason');
  // OpenSSL 3.0's `openssl crl -CAfile` checks an SM2 CRL signature with the empty ID only (no distid option for CRLs)
  const std = openssl(['crl', '-in', 'sm2crl.pem', '-CAfile', 'sm2root.pem', '-noout'], dir);
  const version = execFileSync('openssl', ['version'], { encoding: 'utf8' });
  if (/^OpenSSL 3\.0\./.test(version)) t.match(std.out, /verify failure/, `${version.trim()}: openssl crl -CAfile cannot check the standard ID (docs/compliance.md says so)`);
  else t.match(std.out, /verify (OK|failure)/, `${version.trim()}: openssl crl -CAfile says ${std.out.trim()}`);
  const forOpenssl = await buildSm2RegisterCrl(ctx.ca, ctx.ca.sm2!.issuer, { now: new Date(Date.now() + offset), openssl: true });
  writeFileSync(join(dir, 'sm2crl-openssl.pem'), forOpenssl);
  t.match(openssl(['crl', '-in', 'sm2crl-openssl.pem', '-CAfile', 'sm2root.pem', '-noout'], dir).out, /verify OK/, 'the empty-ID variant: openssl crl -CAfile says verify OK');
  const revoked = openssl(['verify', '-crl_check', '-CAfile', 'sm2root.pem', '-CRLfile', 'sm2crl-openssl.pem', '-vfyopt', 'distid:1234567812345678', 'node-sm2.pem'], dir);
  t.not(revoked.status, 0);
  t.match(revoked.out, /certificate revoked/, 'openssl verify -crl_check: the SM2 node certificate is revoked');
  t.equal((await parseCrl(forOpenssl, { caCertPem: sm2CaPem })).revoked.has(sm2Serial), true, 'the in-repo verifier reads the empty-ID variant too');
});

t.test('a hub without an SM2 root: GET /v1/crl/sm2 is 404 ERR_SM2_CA_ABSENT; GET /v1/crl is unchanged', async (t) => {
  const f = await hubFixture(t);
  const r = await f.hub.app.inject({ method: 'GET', url: '/v1/crl/sm2' });
  t.equal(r.statusCode, 404);
  t.equal((r.json() as { code: string }).code, 'ERR_SM2_CA_ABSENT');
  t.equal((await f.hub.app.inject({ method: 'GET', url: '/v1/crl' })).statusCode, 200);
});

t.test('hostile review L3: at cache expiry, concurrent requests for a CRL await one build (GET /v1/crl/sm2 and GET /v1/crl)', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'sm2-crl-flight-'));
  const caDir = join(dir, 'ca');
  const { certPem: caCertPem } = await initCaDir(caDir, { cn: 'Test Provincial Credit CA (crl flight)' });
  const { certPem: sm2CaPem } = initSm2CaDir(caDir, { cn: 'Test Provincial SM2 CA (crl flight)' });
  const store = await sqliteEngine.open();
  // every reading of the clock is a millisecond later: two builds can never sign the same CRL (its number is the build's time)
  let offset = 0;
  let tick = 0;
  const hub = await startHub({ config: buildHubConfig({ dataDir: join(dir, 'hub'), caDir, listen: { host: '127.0.0.1', port: 0 }, rateLimit: { enabled: false }, logLevel: 'silent' }, {}), db: store.db, clock: () => new Date(Date.now() + offset + tick++) });
  t.teardown(async () => {
    await hub.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const builds = async (crl: string) => {
    const text = (await hub.app.inject({ method: 'GET', url: '/metrics' })).body;
    return Number(new RegExp(`^credit_hub_crl_builds_total\\{[^}]*crl="${crl}"[^}]*\\} (\\d+)$`, 'm').exec(text)?.[1] ?? 'NaN');
  };
  for (const [url, crl, root] of [['/v1/crl/sm2', 'sm2', sm2CaPem], ['/v1/crl', 'rsa', caCertPem]] as const) {
    const first = await hub.app.inject({ method: 'GET', url });
    t.equal(first.statusCode, 200);
    t.equal(await builds(crl), 1, `${url}: one build for the first request`);
    offset += 61_000; // past the 60 s cache
    const burst = await Promise.all(Array.from({ length: 12 }, () => hub.app.inject({ method: 'GET', url })));
    t.ok(burst.every((r) => r.statusCode === 200));
    const bodies = new Set(burst.map((r) => r.body));
    t.equal(bodies.size, 1, `${url}: 12 concurrent requests at expiry are answered with one CRL`);
    t.not([...bodies][0], first.body, 'a new one');
    t.equal(await builds(crl), 2, `${url}: one more build, not 12`);
    t.ok((await parseCrl([...bodies][0]!, { caCertPem: root })).thisUpdate > (await parseCrl(first.body, { caCertPem: root })).thisUpdate);
    t.equal((await hub.app.inject({ method: 'GET', url })).body, [...bodies][0], 'then served from the cache');
  }
});
