import t from 'tap';
import { execFileSync } from 'node:child_process';
import { createPublicKey, X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { issue, makeCa } from '../helpers/pki.js';
import { caTrust } from '../../protocol/ca-trust.js';
import { createCaCertificate } from '../../certs/pki-crypto.js';
import { certFromPem } from '../../protocol/crypto.js';
import { codeOf } from '../helpers/code-of.js';

const ca = makeCa();
const node = issue(ca, '430100');
const trust = caTrust({ caCertPems: [ca.certPem] });
const now = new Date();

const dir = mkdtempSync(join(tmpdir(), 'cf-catrust-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const openssl = (...args: string[]) => execFileSync('openssl', args, { stdio: ['ignore', 'pipe', 'pipe'] }).toString();
const file = (name: string, text: string) => {
  const p = join(dir, name);
  writeFileSync(p, text, { mode: 0o600 });
  return p;
};

t.test('a node certificate from the CA gives its identity', async (t) => {
  const id = trust.verifySigner(node.certPem, now);
  const x = new X509Certificate(node.certPem);
  t.equal(id.nodeId, '430100');
  t.equal(id.serial, x.serialNumber);
  t.equal(id.fingerprint, x.fingerprint256.replace(/:/g, '').toLowerCase());
  t.equal(id.notAfter.getTime(), new Date(x.validTo).getTime());
  t.match(openssl('verify', '-CAfile', file('ca.pem', ca.certPem), file('node.pem', node.certPem)), /OK/, 'openssl agrees');
});

t.test('other CAs: untrusted, even one with the same name; any of several CAs is enough', async (t) => {
  const other = makeCa();
  const stranger = issue(other, '430100');
  t.equal(codeOf(() => trust.verifySigner(stranger.certPem, now)), 'ERR_CERT_UNTRUSTED');
  const twin = makeCa('Hunan Provincial Credit CA (test)');
  t.equal(codeOf(() => trust.verifySigner(issue(twin, '430100').certPem, now)), 'ERR_CERT_UNTRUSTED', 'same issuer name, different key');
  const both = caTrust({ caCertPems: [other.certPem, ca.certPem] });
  t.equal(both.verifySigner(node.certPem, now).nodeId, '430100', 'CA roll-over: old and new CA side by side');
  t.equal(both.verifySigner(stranger.certPem, now).nodeId, '430100');
  let failed = false;
  try {
    openssl('verify', '-CAfile', file('ca2.pem', ca.certPem), file('stranger.pem', stranger.certPem));
  } catch {
    failed = true;
  }
  t.ok(failed, 'openssl agrees that the stranger does not verify');
});

t.test('validity window: expired, not yet valid, the CA itself expired', async (t) => {
  const day = 86400_000;
  const caStart = certFromPem(ca.certPem).notBefore.getTime();
  const expired = issue(ca, '430100', { notBefore: new Date(caStart), notAfter: new Date(caStart + 20_000) });
  t.match(codeOf(() => trust.verifySigner(expired.certPem, now)), 'ERR_CERT_EXPIRED');
  t.equal(trust.verifySigner(expired.certPem, new Date(caStart + 10_000)).nodeId, '430100', 'valid at a time inside its window');
  t.equal(codeOf(() => trust.verifySigner(node.certPem, new Date(caStart - 1000))), 'ERR_CERT_EXPIRED', 'before the CA was valid');
  const early = issue(ca, '430100', { notBefore: new Date(Date.now() + day), notAfter: new Date(Date.now() + 2 * day) });
  t.equal(codeOf(() => trust.verifySigner(early.certPem, now)), 'ERR_CERT_EXPIRED');
  const outlives = issue(ca, '430100', { notAfter: new Date(Date.now() + 20 * 365 * day) });
  const afterCa = new Date(certFromPem(ca.certPem).notAfter.getTime() + day);
  t.throws(() => trust.verifySigner(outlives.certPem, afterCa), { code: 'ERR_CERT_EXPIRED', details: { ca: 'Hunan Provincial Credit CA (test)' } }, 'the issuing CA expired');
});

t.test('revocation is asked with the serial as X509Certificate reports it', async (t) => {
  const asked: string[] = [];
  const revoked = caTrust({ caCertPems: [ca.certPem], isRevoked: (s) => (asked.push(s), s === new X509Certificate(node.certPem).serialNumber) });
  t.equal(codeOf(() => revoked.verifySigner(node.certPem, now)), 'ERR_CERT_REVOKED');
  t.equal(revoked.verifySigner(issue(ca, '430100').certPem, now).nodeId, '430100', 'a new certificate for the same node is fine');
  t.match(asked[0], /^[0-9A-F]+$/);
});

t.test('only end-entity certificates whose CN is a node id', async (t) => {
  t.equal(codeOf(() => trust.verifySigner(issue(ca, 'hub.example.cn').certPem, now)), 'ERR_CERT_UNTRUSTED', 'CN is not 6 digits');
  t.equal(codeOf(() => trust.verifySigner(issue(ca, '4301000').certPem, now)), 'ERR_CERT_UNTRUSTED', '7 digits');
  t.equal(codeOf(() => trust.verifySigner(ca.certPem, now)), 'ERR_CERT_UNTRUSTED', 'the CA certificate itself');
  t.equal(codeOf(() => trust.verifySigner('not a certificate', now)), 'ERR_CERT_UNTRUSTED', 'garbage');
});

t.test('a node certificate is not a CA: what it signs is untrusted', async (t) => {
  // 430100 (no CA:TRUE) signs a certificate for 430700 with the real openssl CLI.
  const key = join(dir, 'sub.key');
  openssl('genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', key);
  openssl('req', '-new', '-key', key, '-subj', '/CN=430700/C=CN', '-out', join(dir, 'sub.csr'));
  openssl('x509', '-req', '-in', join(dir, 'sub.csr'), '-CA', file('n.pem', node.certPem), '-CAkey', file('n.key', node.keyPem), '-set_serial', '7', '-days', '2', '-out', join(dir, 'sub.pem'));
  const sub = readFileSync(join(dir, 'sub.pem'), 'utf8');
  const viaNode = caTrust({ caCertPems: [ca.certPem, node.certPem] });
  t.equal(codeOf(() => viaNode.verifySigner(sub, now)), 'ERR_CERT_UNTRUSTED');
});

t.test('caTrust needs readable CA certificates', async (t) => {
  t.equal(codeOf(() => caTrust({ caCertPems: [] })), 'ERR_CERT_UNTRUSTED');
  t.equal(codeOf(() => caTrust({ caCertPems: ['garbage'] })), 'ERR_CERT_UNTRUSTED');
});

/** A certificate for `subj` signed by the test CA with the openssl CLI, with extra x509 extensions. */
function opensslLeaf(name: string, subj: string, ext: string): string {
  const key = join(dir, `${name}.key`);
  openssl('genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', key);
  openssl('req', '-new', '-key', key, '-subj', subj, '-out', join(dir, `${name}.csr`));
  writeFileSync(join(dir, `${name}.ext`), ext);
  openssl('x509', '-req', '-in', join(dir, `${name}.csr`), '-CA', file('ca2.pem', ca.certPem), '-CAkey', file('ca2.key', ca.keyPem), '-set_serial', String(Date.now()), '-days', '2', '-extfile', join(dir, `${name}.ext`), '-out', join(dir, `${name}.pem`));
  return readFileSync(join(dir, `${name}.pem`), 'utf8');
}

t.test('a subject with two CNs is refused: it could speak for either node', async (t) => {
  const two = opensslLeaf('two-cn', '/CN=430100/CN=430700/C=CN', 'basicConstraints=CA:FALSE\n');
  t.equal(certFromPem(two).cn, null, 'no single CN');
  t.equal(codeOf(() => trust.verifySigner(two, new Date())), 'ERR_CERT_UNTRUSTED');
});

t.test('extended key usage must allow clientAuth when the certificate has one', async (t) => {
  const serverOnly = opensslLeaf('server-only', '/CN=430100/C=CN', 'basicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n');
  t.equal(codeOf(() => trust.verifySigner(serverOnly, new Date())), 'ERR_CERT_UNTRUSTED', 'serverAuth only');
  const both = opensslLeaf('both', '/CN=430100/C=CN', 'basicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth,clientAuth\n');
  t.equal(trust.verifySigner(both, new Date()).nodeId, '430100', 'serverAuth + clientAuth');
  t.same(certFromPem(node.certPem).eku, ['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2'], "the CA's own node certificates carry both");
});

t.test('CA rollover: of two CA certificates over the same key, the one valid now is used', async (t) => {
  const pub = createPublicKey(ca.keyPem).export({ type: 'spki', format: 'pem' }).toString();
  const day = 86_400_000;
  const old = createCaCertificate({ cn: 'Hunan Provincial Credit CA (test)', keyPair: { publicKeyPem: pub, privateKeyPem: ca.keyPem }, notBefore: new Date(now.getTime() - 30 * day), notAfter: new Date(now.getTime() - day) });
  t.equal(codeOf(() => caTrust({ caCertPems: [old] }).verifySigner(node.certPem, now)), 'ERR_CERT_EXPIRED', 'only the expired one');
  t.equal(caTrust({ caCertPems: [old, ca.certPem] }).verifySigner(node.certPem, now).nodeId, '430100', 'expired one listed first');
});
