/**
 * Certificates and requests are built by forge but signed by node:crypto (certs/pki-crypto.ts
 * nativeRsaSigner): RSASSA-PKCS1-v1_5 is deterministic, so the signature must be byte for byte the one
 * forge's own JavaScript RSA makes over the same TBS bytes, and openssl must accept what comes out.
 */
import t from 'tap';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { X509Certificate } from 'node:crypto';
import forge from 'node-forge';
import { createCaCertificate, createCsr, generateRsaKeyPair, nativeRsaSigner } from '../../certs/pki-crypto.js';

t.test('the native signature is forge\'s signature, for 2048- and 4096-bit keys', async (t) => {
  for (const bits of [2048, 4096]) {
    const kp = generateRsaKeyPair(bits);
    const md = () => {
      const m = forge.md.sha256.create();
      m.update('tbs bytes ' + bits);
      return m;
    };
    const ours = nativeRsaSigner(kp.privateKeyPem).sign(md());
    const forges = forge.pki.privateKeyFromPem(kp.privateKeyPem).sign(md());
    t.equal(Buffer.from(ours, 'binary').toString('hex'), Buffer.from(forges, 'binary').toString('hex'), `${bits} bits`);
  }
});

t.test('only SHA-256 is signed (the DigestInfo prefix is SHA-256\'s)', async (t) => {
  const kp = generateRsaKeyPair();
  t.throws(() => nativeRsaSigner(kp.privateKeyPem).sign(forge.md.sha1.create()), /SHA-256 only/);
});

t.test('a CA certificate and a CSR signed natively verify with node:crypto and openssl', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'native-sign-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const kp = generateRsaKeyPair();
  const caPem = createCaCertificate({ cn: '湖南省公共信用信息中心 CA', keyPair: kp, notBefore: new Date(Date.now() - 60_000), notAfter: new Date(Date.now() + 86400_000) });
  const ca = new X509Certificate(caPem);
  t.ok(ca.verify(ca.publicKey), 'self-signature verifies');
  writeFileSync(join(dir, 'ca.pem'), caPem);
  t.match(execFileSync('openssl', ['verify', '-CAfile', join(dir, 'ca.pem'), join(dir, 'ca.pem')], { encoding: 'utf8' }), /: OK/);
  writeFileSync(join(dir, 'req.csr'), createCsr('430100', generateRsaKeyPair()));
  const req = spawnSync('openssl', ['req', '-in', join(dir, 'req.csr'), '-verify', '-noout'], { encoding: 'utf8' });
  t.equal(req.status, 0, 'openssl req -verify exits 0');
  t.match(req.stdout + req.stderr, /verify OK/i);
});
