/**
 * EC P-256 node certificates (issue 23): issued from a P-256 CSR by the RSA root, with the RSA
 * leaves' profile but keyUsage digitalSignature + keyAgreement; checked by the real openssl CLI
 * (chain, extensions, CRL), renewed, revoked, and used for mutual TLS as a client certificate.
 */
import { once } from 'node:events';
import tls from 'node:tls';
import t from 'tap';
import { buildCrl, certInfo, createNodeKeys, issueCertificate, peerIdentity, renewCertificate, revoke, tlsClientOptions, tlsServerOptions, trustFromCa } from '../../certs/index.js';
import { certFromPem } from '../../protocol/crypto.js';
import { createMemoryCa, enrolled, openssl, tempDir, writeAll } from './support.js';

const ca = createMemoryCa({ cn: '湖南省公共信用信息中心 CA' }); // a UTF8String issuer, copied byte for byte

t.test('a P-256 CSR gets an EC certificate openssl verifies against the RSA root, with the EC leaf profile', async (t) => {
  const dir = await tempDir(t);
  const keys = createNodeKeys('430100', 'p256');
  const csrFile = await writeAll(dir, { 'node.csr': keys.csrPem });
  const req = openssl(['req', '-in', csrFile['node.csr']!, '-noout', '-verify', '-subject']);
  t.equal(req.status, 0, req.out);
  t.match(req.out, /verify OK/i, 'our EC CSR is a valid PKCS#10 for openssl');
  const issued = await issueCertificate(ca, keys.csrPem, { hosts: ['node-430100.example.cn', '10.0.0.7', '::1', 'fd00::7'] });
  const cert = certFromPem(issued.certPem);
  t.equal(cert.keyKind, 'ec-p256');
  t.equal(cert.cn, '430100');
  t.same(cert.eku, ['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2']);
  const p = await writeAll(dir, { 'ca.pem': ca.certPem, 'node.pem': issued.certPem });
  const v = openssl(['verify', '-CAfile', p['ca.pem']!, '-purpose', 'sslclient', p['node.pem']!]);
  t.equal(v.status, 0, v.out);
  t.match(v.out, /node\.pem: OK/);
  const x = openssl(['x509', '-in', p['node.pem']!, '-noout', '-text']);
  t.match(x.out, /Signature Algorithm: sha256WithRSAEncryption/);
  t.match(x.out, /Public Key Algorithm: id-ecPublicKey[\s\S]*NIST CURVE: P-256/);
  t.match(x.out, /Subject: C\s*=\s*CN, CN\s*=\s*430100/);
  t.match(x.out, /X509v3 Key Usage: critical\s+Digital Signature, Key Agreement\s/);
  t.notMatch(x.out, /Key Encipherment/, 'no key encipherment with an EC key');
  t.match(x.out, /X509v3 Basic Constraints: critical\s+CA:FALSE/);
  t.match(x.out, /TLS Web Server Authentication, TLS Web Client Authentication/);
  for (const san of ['DNS:localhost', 'IP Address:127.0.0.1', 'DNS:node-430100.example.cn', 'IP Address:10.0.0.7', 'IP Address:0:0:0:0:0:0:0:1', 'IP Address:FD00:0:0:0:0:0:0:7']) t.ok(x.out.includes(san), san);
  const caSki = /([0-9A-F]{2}(?::[0-9A-F]{2}){19})/.exec(openssl(['x509', '-in', p['ca.pem']!, '-noout', '-ext', 'subjectKeyIdentifier']).out)?.[1];
  const aki = openssl(['x509', '-in', p['node.pem']!, '-noout', '-ext', 'authorityKeyIdentifier']).out;
  t.ok(caSki !== undefined && aki.includes(caSki), 'AKI = the CA\'s SKI');
  t.match(openssl(['x509', '-in', p['node.pem']!, '-noout', '-ext', 'subjectKeyIdentifier']).out, /[0-9A-F]{2}(:[0-9A-F]{2}){19}/);
  t.equal(openssl(['x509', '-in', p['node.pem']!, '-noout', '-serial']).out.trim(), `serial=${issued.serial}`, 'the register holds the serial the certificate carries');
  const rsaLeaf = certInfo((await enrolled(ca, '430700')).certPem);
  const ecLeaf = certInfo(issued.certPem);
  t.equal(ecLeaf.notAfter.getTime() - ecLeaf.notBefore.getTime(), rsaLeaf.notAfter.getTime() - rsaLeaf.notBefore.getTime(), 'the same validity as an RSA leaf');
  const trust = await trustFromCa({ caCertPem: ca.certPem });
  t.equal(trust.verifySigner(issued.certPem, new Date()).nodeId, '430100', 'the running trust policy accepts it');
});

t.test('an EC certificate renews (to EC or RSA) and is revoked; the CRL refuses it in openssl', async (t) => {
  const dir = await tempDir(t);
  const first = createNodeKeys('430200', 'p256');
  const cur = await issueCertificate(ca, first.csrPem);
  const renewed = await renewCertificate(ca, { currentCertPem: cur.certPem, csrPem: createNodeKeys('430200', 'p256').csrPem, supersede: true });
  t.equal(certFromPem(renewed.certPem).keyKind, 'ec-p256');
  t.equal(renewed.previousSerial, cur.serial);
  await t.rejects(renewCertificate(ca, { currentCertPem: renewed.certPem, csrPem: createNodeKeys('430700', 'p256').csrPem }), { code: 'ERR_RENEWAL_DENIED' }, 'another node id');
  await revoke(ca, { serial: renewed.serial, reason: 'keyCompromise' });
  const crl = await buildCrl(ca);
  const p = await writeAll(dir, { 'ca.pem': ca.certPem, 'crl.pem': crl, 'old.pem': cur.certPem, 'new.pem': renewed.certPem });
  const v = openssl(['verify', '-crl_check', '-CAfile', p['ca.pem']!, '-CRLfile', p['crl.pem']!, p['new.pem']!]);
  t.not(v.status, 0, 'revoked');
  t.match(v.out, /certificate revoked/);
  const old = openssl(['verify', '-crl_check', '-CAfile', p['ca.pem']!, '-CRLfile', p['crl.pem']!, p['old.pem']!]);
  t.not(old.status, 0, 'the superseded one too');
});

t.test('an EC client certificate authenticates in mutual TLS with the RSA server; peerIdentity names it', async (t) => {
  const hub = await enrolled(ca, '430000');
  const keys = createNodeKeys('430181', 'p256');
  const node = await issueCertificate(ca, keys.csrPem);
  const seen: (ReturnType<typeof peerIdentity>)[] = [];
  const server = tls.createServer(tlsServerOptions({ caCertPem: ca.certPem, certPem: hub.certPem, keyPem: hub.keyPem, crlPem: await buildCrl(ca) }), (s) => {
    seen.push(peerIdentity(s));
    s.end('ok\n');
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.teardown(() => new Promise<void>((r) => server.close(() => r())));
  const port = (server.address() as { port: number }).port;
  for (const maxVersion of ['TLSv1.3', 'TLSv1.2'] as const) {
    const got = await new Promise<string>((resolve, reject) => {
      let data = '';
      const s = tls.connect({ host: '127.0.0.1', port, maxVersion, ...tlsClientOptions({ caCertPem: ca.certPem, certPem: node.certPem, keyPem: keys.keyPem, expectNodeId: '430000' }) });
      s.setEncoding('utf8');
      s.on('data', (d: string) => (data += d));
      s.on('error', reject);
      s.on('close', () => resolve(data));
    });
    t.equal(got, 'ok\n', maxVersion);
    t.equal(seen.at(-1)?.nodeId, '430181', `${maxVersion}: the server identifies the EC client`);
    t.equal(seen.at(-1)?.serial, node.serial);
  }
});
