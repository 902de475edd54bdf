/** The CA's artefacts checked by the real openssl CLI: CSR, certificate extensions, chain, CRL. */
import t from 'tap';
import { buildCrl, certInfo, createNodeKeys, issueCertificate, parseCrl, revoke } from '../../certs/index.js';
import { createMemoryCa, enrolled, openssl, tempDir, writeAll } from './support.js';

const ca = createMemoryCa({ cn: 'Test Provincial Credit CA' });

t.test('a node CSR verifies with openssl req and names the node id as CN', async (t) => {
  const dir = await tempDir(t);
  const { csrPem } = createNodeKeys('430100');
  const p = await writeAll(dir, { 'node.csr': csrPem });
  const r = openssl(['req', '-in', p['node.csr']!, '-noout', '-verify', '-subject']);
  t.equal(r.status, 0, r.out);
  t.match(r.out, /verify OK/i);
  t.match(r.out, /CN\s*=\s*430100/);
});

t.test('the CA certificate is a CA: basicConstraints critical CA:TRUE, keyCertSign and cRLSign', async (t) => {
  const dir = await tempDir(t);
  const p = await writeAll(dir, { 'ca.pem': ca.certPem });
  const r = openssl(['x509', '-in', p['ca.pem']!, '-noout', '-text']);
  t.equal(r.status, 0, r.out);
  t.match(r.out, /X509v3 Basic Constraints: critical\s+CA:TRUE/);
  t.match(r.out, /Certificate Sign, CRL Sign/);
});

t.test('an issued certificate verifies against the CA and carries what TLS needs', async (t) => {
  const dir = await tempDir(t);
  const node = await enrolled(ca, '430100', { hosts: ['node-430100.example.cn', '10.0.0.7'] });
  const p = await writeAll(dir, { 'ca.pem': ca.certPem, 'node.pem': node.certPem });
  const v = openssl(['verify', '-CAfile', p['ca.pem']!, p['node.pem']!]);
  t.equal(v.status, 0, v.out);
  t.match(v.out, /node\.pem: OK/);
  const x = openssl(['x509', '-in', p['node.pem']!, '-noout', '-text']);
  t.match(x.out, /Subject: C\s*=\s*CN, CN\s*=\s*430100/);
  t.match(x.out, /TLS Web Server Authentication, TLS Web Client Authentication/);
  t.match(x.out, /Digital Signature, Key Encipherment/);
  t.match(x.out, /CA:FALSE/);
  t.match(x.out, /DNS:localhost/);
  t.match(x.out, /IP Address:127\.0\.0\.1/);
  t.match(x.out, /DNS:node-430100\.example\.cn/);
  t.match(x.out, /IP Address:10\.0\.0\.7/);
  t.match(x.out, /X509v3 Subject Key Identifier/);
  t.match(x.out, /X509v3 Authority Key Identifier/);
  // AKI of the leaf = SKI of the CA
  const caText = openssl(['x509', '-in', p['ca.pem']!, '-noout', '-ext', 'subjectKeyIdentifier']).out;
  const caSki = /([0-9A-F]{2}(?::[0-9A-F]{2}){19})/.exec(caText)?.[1];
  t.ok(caSki, 'CA has an SKI');
  t.ok(x.out.includes(caSki!), 'leaf AKI names the CA key');
  // the serial openssl prints is the serial the register holds
  const s = openssl(['x509', '-in', p['node.pem']!, '-noout', '-serial']).out.trim();
  t.equal(s, `serial=${node.serial}`);
  t.match(node.serial, /^[0-9A-F]{32}$/, '128-bit serial, upper-case hex, no leading 00');
});

t.test('a certificate from another CA does not verify', async (t) => {
  const dir = await tempDir(t);
  const other = createMemoryCa({ cn: 'Some Other CA' });
  const stranger = await enrolled(other, '430200');
  const p = await writeAll(dir, { 'ca.pem': ca.certPem, 'node.pem': stranger.certPem });
  const v = openssl(['verify', '-CAfile', p['ca.pem']!, p['node.pem']!]);
  t.not(v.status, 0);
  t.match(v.out, /unable to get local issuer certificate/);
});

t.test('after revoke and crl, openssl verify -crl_check says "certificate revoked"; openssl crl lists serial and reason', async (t) => {
  const dir = await tempDir(t);
  const victim = await enrolled(ca, '430300');
  const bystander = await enrolled(ca, '430400');
  const before = await buildCrl(ca);
  const p0 = await writeAll(dir, { 'ca.pem': ca.certPem, 'victim.pem': victim.certPem, 'bystander.pem': bystander.certPem, 'crl0.pem': before });
  const ok = openssl(['verify', '-crl_check', '-CAfile', p0['ca.pem']!, '-CRLfile', p0['crl0.pem']!, p0['victim.pem']!]);
  t.equal(ok.status, 0, `before revocation: ${ok.out}`);

  t.same(await revoke(ca, { serial: victim.serial.toLowerCase(), reason: 'keyCompromise' }), [victim.serial], 'serial matched whatever its case');
  const crlPem = await buildCrl(ca, { nextUpdateDays: 3 });
  t.match(crlPem, /^-----BEGIN X509 CRL-----\n/);
  const p = await writeAll(dir, { 'crl.pem': crlPem });
  const bad = openssl(['verify', '-crl_check', '-CAfile', p0['ca.pem']!, '-CRLfile', p['crl.pem']!, p0['victim.pem']!]);
  t.not(bad.status, 0);
  t.match(bad.out, /certificate revoked/);
  const still = openssl(['verify', '-crl_check', '-CAfile', p0['ca.pem']!, '-CRLfile', p['crl.pem']!, p0['bystander.pem']!]);
  t.equal(still.status, 0, `other node unaffected: ${still.out}`);

  const text = openssl(['crl', '-in', p['crl.pem']!, '-noout', '-text']);
  t.equal(text.status, 0, text.out);
  t.match(text.out, /Version 2/);
  t.match(text.out, new RegExp(`Serial Number: ${victim.serial}`));
  t.match(text.out, /Key Compromise/);
  t.match(text.out, /Next Update:/);
  t.match(text.out, /X509v3 CRL Number/);
  t.notMatch(text.out, new RegExp(bystander.serial));
  const sig = openssl(['crl', '-in', p['crl.pem']!, '-noout', '-CAfile', p0['ca.pem']!]);
  t.match(sig.out, /verify OK/, 'CRL signature verifies with the CA certificate');

  const parsed = await parseCrl(crlPem, { caCertPem: ca.certPem });
  t.ok(parsed.revoked.has(victim.serial));
  t.equal(parsed.entries.find((e) => e.serial === victim.serial)?.reason, 'keyCompromise');
  t.ok(parsed.nextUpdate && parsed.nextUpdate.getTime() - parsed.thisUpdate.getTime() === 3 * 86_400_000, 'nextUpdate = thisUpdate + 3 days');
});

t.test('superseded and cessationOfOperation reasons are written as such', async (t) => {
  const dir = await tempDir(t);
  const a = await enrolled(ca, '430500');
  const b = await enrolled(ca, '430600');
  await revoke(ca, { serial: a.serial, reason: 'superseded' });
  await revoke(ca, { nodeId: '430600', reason: 'cessationOfOperation' });
  const p = await writeAll(dir, { 'crl.pem': await buildCrl(ca) });
  const text = openssl(['crl', '-in', p['crl.pem']!, '-noout', '-text']).out;
  const block = (serial: string) => text.slice(text.indexOf(serial), text.indexOf(serial) + 300);
  t.match(block(a.serial), /Superseded/);
  t.match(block(b.serial), /Cessation Of Operation/);
});

t.test('an expired certificate fails openssl verify', async (t) => {
  const dir = await tempDir(t);
  const { csrPem } = createNodeKeys('430700');
  const now = Date.now();
  const old = await issueCertificate(ca, csrPem, { notBefore: new Date(now - 10 * 86_400_000), notAfter: new Date(now - 86_400_000) });
  t.ok(certInfo(old.certPem).notAfter.getTime() < now);
  const p = await writeAll(dir, { 'ca.pem': ca.certPem, 'old.pem': old.certPem });
  const v = openssl(['verify', '-CAfile', p['ca.pem']!, p['old.pem']!]);
  t.not(v.status, 0);
  t.match(v.out, /certificate has expired/);
});

t.test('a CA with a Chinese name: UTF8String subject, and its certificates and CRL chain to it', async (t) => {
  const cn = '湖南省公共信用信息中心 CA';
  const zh = createMemoryCa({ cn });
  const dir = await tempDir(t);
  const node = await enrolled(zh, '430100');
  await revoke(zh, { nodeId: '430100', reason: 'keyCompromise' });
  const crlPem = await buildCrl(zh);
  const p = await writeAll(dir, { 'ca.pem': zh.certPem, 'node.pem': node.certPem, 'crl.pem': crlPem });
  t.match(openssl(['x509', '-in', p['ca.pem']!, '-noout', '-subject', '-nameopt', 'utf8']).out, new RegExp(`CN\\s*=\\s*${cn}`), 'the name reads back as written');
  const v = openssl(['verify', '-CAfile', p['ca.pem']!, p['node.pem']!]);
  t.equal(v.status, 0, v.out);
  const c = openssl(['crl', '-in', p['crl.pem']!, '-CAfile', p['ca.pem']!, '-noout']);
  t.match(c.out, /verify OK/i, 'the CRL names the same issuer');
  t.equal((await parseCrl(crlPem, { caCertPem: zh.certPem })).revoked.size, 1, 'and parseCrl checks its signature');
});
