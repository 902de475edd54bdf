/**
 * `credit audit evidence` on a province whose audit logs are on SM (hub and node with
 * `audit.hashAlg: "sm3"`, every envelope on the SM suite): each side's half is signed with its SM2
 * key, names the SM2 root (scripts/cli/exchange-side.ts) and carries the SM2 root's CRL (the hub
 * builds it from its register, the node keeps the last one it fetched from GET /v1/crl/sm2), so
 * the package verifies with the SM2 root alone, and with a CA file holding both roots in either
 * order. A half (signed by its side) whose CRL is not a current CRL of the SM2 root is refused
 * with the CRL's code: the RSA root's CRL (ERR_CRL_INVALID, even when the CA file holds the RSA
 * root too), one signed by another SM2 key (ERR_CRL_INVALID), a tampered one (ERR_CRL_INVALID),
 * one past its nextUpdate when the half was produced (ERR_CRL_STALE). A side whose store's log is
 * on SM but which holds no SM2 key refuses with ERR_AUDIT_ALGORITHM_MIXED: the hub whose CA
 * directory lacks the SM2 root, the node whose SM2 certificate files are gone.
 */
import t from 'tap';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from '../../audit/knex-connect.js';
import { latestCosignature } from '../../audit/cosign-store.js';
import { initCaDir } from '../../certs/ca-dir.js';
import { initSm2CaDir, readSm2Ca, SM2_CA_FILES } from '../../certs/sm2-ca-dir.js';
import { parseCrl } from '../../certs/crl.js';
import { buildSm2Crl, createSm2Ca } from '../../certs/sm2-x509.js';
import { signText } from '../../audit/crypto.js';
import type { EvidencePackage } from '../../audit/evidence-package.js';
import { canonicalize } from '../../protocol/canonical-json.js';
import { loadHubConfig, startHub } from '../../hub/index.js';
import { exchangePaths } from '../../node/exchange/files.js';
import { exampleRecord } from '../../protocol/catalog.js';
import { main } from '../../scripts/cli.js';
import { eventually, nodeApp } from '../node/exchange-fixture.js';

const SM = { suites: ['SM'], audit: { hashAlg: 'sm3' } };

async function cli(...argv: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(argv, { stdout: (s) => void out.push(s), stderr: (s) => void err.push(s) });
  return { code, out: out.join(''), err: err.join('') };
}

t.test('evidence on SM logs: halves signed with the SM2 keys, verified with the SM2 root alone; no SM2 key: ERR_AUDIT_ALGORITHM_MIXED', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'evidence-cli-sm-'));
  const f = (n: string) => join(dir, n);
  const { certPem: caCertPem } = await initCaDir(f('ca'), { cn: 'Test Provincial Credit CA (evidence sm)' });
  const { certPem: sm2CaPem } = initSm2CaDir(f('ca'), { cn: 'Test Provincial SM2 CA (evidence sm)' });
  writeFileSync(f('ca.pem'), caCertPem);
  writeFileSync(f('sm2-ca.pem'), sm2CaPem);
  writeFileSync(f('hub.json'), JSON.stringify({ dataDir: 'hub', caDir: 'ca', listen: { host: '127.0.0.1', port: 0 }, rateLimit: { enabled: false }, logLevel: 'silent', ...SM }));
  const hub = await startHub({ config: loadHubConfig(f('hub.json')) });
  let node: Awaited<ReturnType<typeof nodeApp>> | undefined;
  let nodeDb: Awaited<ReturnType<typeof connect>> | undefined;
  t.teardown(async () => {
    await nodeDb?.destroy();
    await node?.close();
    await hub.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const token = (await cli('hub', 'token', '--config', f('hub.json'), '--node', '430100', '--grade', '3')).out.trim();
  mkdirSync(f('node'));
  writeFileSync(f('node/node.json'), JSON.stringify({ nodeId: '430100', dataDir: 'data', hub: { url: hub.url, suites: ['SM'] }, audit: SM.audit }));
  const init = await cli('node', 'init', '--config', f('node/node.json'), '--hub', hub.url, '--token', token, '--ca', f('ca.pem'));
  t.equal(init.code, 0, init.err);
  node = await nodeApp(f('node/data'), { url: hub.url, pollIntervalMs: 100, batchMaxAgeMs: 20, checkpointIntervalMs: 300, suites: ['SM'] }, '430100', { audit: SM.audit });
  const ndb = await connect(f('node/data/node.sqlite'));
  nodeDb = ndb;

  const posted = await node.app.inject({ method: 'POST', url: '/v1/records', headers: await node.auth('submitter', 'public'), payload: [{ type: 'XK', fields: exampleRecord('XK').fields }] });
  t.equal(posted.statusCode, 201, posted.body);
  const batch = await eventually('the batch receipt', async () => (await ndb('node_batches').whereNotNull('receipt').first()) as { id: string } | undefined);
  const receiptSeq = Number(((await ndb('audit_log').where({ action: 'batch.receipt', object: batch.id }).first()) as { seq: number }).seq);
  await eventually('a cosigned checkpoint over the receipt entry', async () => ((await latestCosignature(ndb))?.treeSize ?? 0) >= receiptSeq || undefined);

  const hubHalf = await cli('audit', 'evidence', '--config', f('hub.json'), '--envelope', batch.id, '--out', f('hub-half.json'));
  t.equal(hubHalf.code, 0, hubHalf.err);
  const full = await cli('audit', 'evidence', '--config', f('node/node.json'), '--envelope', batch.id, '--with', f('hub-half.json'), '--out', f('package.json'));
  t.equal(full.code, 0, full.err);
  const v = await cli('audit', 'evidence', 'verify', f('package.json'), '--ca', f('sm2-ca.pem'));
  t.match(v.out, /halves of 430000, 430100/);
  t.notMatch(v.out, /ERR_EVIDENCE_SIGNATURE|ERR_AUDIT_/, 'with the SM2 root alone: both halves, their SM2 signatures and audit proofs verify');
  t.equal(v.code, 0, `verifies with the SM2 root alone: ${v.out}${v.err}`);
  t.match(v.out, /430000 \(hub\):[^\n]*CRL included/, 'the hub half carries a CRL');
  t.match(v.out, /430100 \(node\):[^\n]*CRL included/, 'the node half carries a CRL');
  const pkg = JSON.parse(readFileSync(f('package.json'), 'utf8')) as EvidencePackage;
  for (const h of pkg.halves) {
    const crl = await parseCrl(h.half.crl!, { caCertPem: sm2CaPem });
    t.ok(crl.nextUpdate! > new Date(), `${h.half.side}: the SM2 root's CRL, current`);
  }
  writeFileSync(f('both-roots.pem'), caCertPem + sm2CaPem);
  const both = await cli('audit', 'evidence', 'verify', f('package.json'), '--ca', f('both-roots.pem'));
  t.equal(both.code, 0, `verifies with the RSA and SM2 roots: ${both.out}${both.err}`);
  writeFileSync(f('both-roots-sm2-first.pem'), sm2CaPem + caCertPem);
  t.equal((await cli('audit', 'evidence', 'verify', f('package.json'), '--ca', f('both-roots-sm2-first.pem'))).code, 0, 'and with the SM2 root first');
  const rsa = await cli('audit', 'evidence', 'verify', f('package.json'), '--ca', f('ca.pem'));
  t.not(rsa.code, 0, `not with the RSA root: ${rsa.out}`);

  // the hub operator writes the same SM2 CRL from the register
  const written = await cli('hub', 'crl', '--config', f('hub.json'), '--sm2', '--out', f('sm2-crl.pem'));
  t.equal(written.code, 0, written.err);
  t.match(written.out, /^SM2 CRL with 0 revoked certificate\(s\)/);
  t.equal((await parseCrl(readFileSync(f('sm2-crl.pem'), 'utf8'), { caCertPem: sm2CaPem })).revoked.size, 0, 'credit hub crl --sm2 writes a CRL the SM2 root verifies');
  const rsaCrl = await cli('hub', 'crl', '--config', f('hub.json'), '--out', f('rsa-crl.pem'));
  t.equal(rsaCrl.code, 0, rsaCrl.err);
  // the exchange log of the hub (SM envelopes) checks revocation against the SM2 CRL, with the SM2 root alone or with both roots
  t.equal((await cli('exchange', 'export', '--config', f('hub.json'), '--out', f('hub-exchange.ndjson'))).code, 0);
  for (const roots of ['sm2-ca.pem', 'both-roots.pem']) {
    const ex = await cli('exchange', 'verify', f('hub-exchange.ndjson'), '--ca', f(roots), '--crl', f('sm2-crl.pem'));
    t.equal(ex.code, 0, `credit exchange verify --ca ${roots} --crl sm2-crl.pem: ${ex.out}${ex.err}`);
  }
  const rsaCrlForSm2 = await cli('exchange', 'verify', f('hub-exchange.ndjson'), '--ca', f('sm2-ca.pem'), '--crl', f('rsa-crl.pem'));
  t.not(rsaCrlForSm2.code, 0);
  t.match(rsaCrlForSm2.err, /ERR_CRL_INVALID/, 'the RSA CRL with the SM2 root alone: ERR_CRL_INVALID');
  const opensslOnly = await cli('hub', 'crl', '--config', f('hub.json'), '--openssl', '--out', f('x.pem'));
  t.equal(opensslOnly.code, 2);
  t.match(opensslOnly.err, /ERR_USAGE/, '--openssl without --sm2: ERR_USAGE');

  // a half honestly signed by the hub but carrying a CRL that is not a current CRL of the SM2 root
  const hubSm2Key = readFileSync(f('hub/hub-sm2.key'), 'utf8');
  const sm2Root = readSm2Ca(f('ca'))!;
  const withHubCrl = (crl: string) => {
    const halves = pkg.halves.map((h) => {
      if (h.half.side !== '430000') return h;
      const half = { ...h.half, crl };
      return { ...h, half, signature: signText(hubSm2Key, canonicalize(half)) };
    });
    return canonicalize({ ...pkg, halves }) + '\n';
  };
  const sm2Crl = readFileSync(f('sm2-crl.pem'), 'utf8');
  writeFileSync(f('resigned.json'), withHubCrl(sm2Crl));
  t.equal((await cli('audit', 'evidence', 'verify', f('resigned.json'), '--ca', f('sm2-ca.pem'))).code, 0, 'control: re-signed with a good SM2 CRL, it verifies');
  const tamperedDer = Buffer.from(sm2Crl.replace(/-----[^-]+-----|\s/g, ''), 'base64');
  tamperedDer[tamperedDer.length - 40]! ^= 0x01; // a bit of the signature value
  const tampered = `-----BEGIN X509 CRL-----\n${tamperedDer.toString('base64')}\n-----END X509 CRL-----\n`;
  const movedDer = Buffer.from(sm2Crl.replace(/-----[^-]+-----|\s/g, ''), 'base64');
  const nextUpdateAt = movedDer.indexOf(Buffer.from([0x17, 0x0d]), movedDer.indexOf(Buffer.from([0x17, 0x0d])) + 1) + 2; // the second UTCTime: nextUpdate
  movedDer[nextUpdateAt + 1] = movedDer[nextUpdateAt + 1] === 0x39 ? 0x38 : movedDer[nextUpdateAt + 1]! + 1; // its year's last digit
  const moved = `-----BEGIN X509 CRL-----\n${movedDer.toString('base64')}\n-----END X509 CRL-----\n`;
  const impostor = createSm2Ca({ cn: 'Test Provincial SM2 CA (evidence sm)' }); // same name, another key
  const cases: [string, string, string, string][] = [
    ['the RSA root\'s CRL, SM2 root alone', readFileSync(f('rsa-crl.pem'), 'utf8'), 'sm2-ca.pem', 'ERR_CRL_INVALID'],
    ['the RSA root\'s CRL, both roots (RSA first)', readFileSync(f('rsa-crl.pem'), 'utf8'), 'both-roots.pem', 'ERR_CRL_INVALID'],
    ['an SM2 CRL signed by another key under the same name', buildSm2Crl(impostor.issuer, [], { number: 1n }), 'sm2-ca.pem', 'ERR_CRL_INVALID'],
    ['a tampered SM2 CRL (one signature bit)', tampered, 'sm2-ca.pem', 'ERR_CRL_INVALID'],
    ['a tampered SM2 CRL (nextUpdate moved by a year, signature kept)', moved, 'sm2-ca.pem', 'ERR_CRL_INVALID'],
    ['an SM2 CRL past its nextUpdate when the half was made', buildSm2Crl(sm2Root.issuer, [], { number: 2n, now: new Date(Date.now() - 10 * 86_400_000), nextUpdateDays: 7 }), 'sm2-ca.pem', 'ERR_CRL_STALE'],
  ];
  for (const [what, crl, caFile, code] of cases) {
    writeFileSync(f('bad.json'), withHubCrl(crl));
    const r = await cli('audit', 'evidence', 'verify', f('bad.json'), '--ca', f(caFile));
    t.not(r.code, 0, `${what}: refused`);
    t.match(r.out, new RegExp(`${code}[^\n]*430000: its CRL`), `${what}: ${code}`);
  }

  // the hub's store is on SM, but this config's CA directory has no SM2 root
  cpSync(f('ca'), f('ca-rsa'), { recursive: true });
  for (const k of Object.values(SM2_CA_FILES)) rmSync(join(f('ca-rsa'), k), { force: true });
  writeFileSync(f('hub-rsa.json'), JSON.stringify({ dataDir: 'hub', caDir: 'ca-rsa', logLevel: 'silent' }));
  const noRoot = await cli('audit', 'evidence', '--config', f('hub-rsa.json'), '--envelope', batch.id, '--out', f('x.json'));
  t.not(noRoot.code, 0);
  t.match(noRoot.err, /ERR_AUDIT_ALGORITHM_MIXED/, 'hub: an SM log without the SM2 root');
  // the node's store is on SM, but its SM2 certificate files are gone
  await node.close();
  const p = exchangePaths(f('node/data'));
  renameSync(p.sm2Cert, `${p.sm2Cert}.gone`);
  const noKey = await cli('audit', 'evidence', '--config', f('node/node.json'), '--envelope', batch.id, '--out', f('y.json'));
  t.not(noKey.code, 0);
  t.match(noKey.err, /ERR_AUDIT_ALGORITHM_MIXED/, 'node: an SM log without the SM2 certificate');
  t.match(noKey.err, /credit node init --sm2/, 'and says how to fix it');
});
