/** Renewal: a node with a current certificate gets one for a new key, without a token. */
import t from 'tap';
import { buildCrl, certInfo, createNodeKeys, issueCertificate, listCertificates, renewCertificate, revoke, trustFromCa } from '../../certs/index.js';
import { createMemoryCa, enrolled, openssl, tempDir, writeAll } from './support.js';

const DAY = 86_400_000;

t.test('a valid certificate is renewed for a new key; both verify until the old one is superseded', async (t) => {
  const ca = createMemoryCa();
  const cur = await enrolled(ca, '430100', { grade: 3, now: new Date(Date.now() - 10 * DAY) });
  const next = createNodeKeys('430100');
  const renewed = await renewCertificate(ca, { currentCertPem: cur.certPem, csrPem: next.csrPem });
  t.equal(renewed.nodeId, '430100');
  t.not(renewed.serial, cur.serial);
  t.equal(renewed.previousSerial, cur.serial);
  t.ok(certInfo(renewed.certPem).notAfter > certInfo(cur.certPem).notAfter, 'the new certificate runs longer');
  const reg = await ca.certs.listIssued();
  t.equal(reg.find((r) => r.serial === renewed.serial)?.grade, 3, 'the grade carries over');
  t.equal(reg.find((r) => r.serial === cur.serial)?.status, 'active', 'the old one stays valid by default');
  const dir = await tempDir(t);
  const p = await writeAll(dir, { 'ca.pem': ca.certPem, 'new.pem': renewed.certPem });
  t.equal(openssl(['verify', '-CAfile', p['ca.pem']!, p['new.pem']!]).status, 0, 'openssl accepts the renewed certificate');
});

t.test('supersede: the old certificate is revoked as superseded and listed in the CRL', async (t) => {
  const ca = createMemoryCa();
  const cur = await enrolled(ca, '430100');
  const renewed = await renewCertificate(ca, { currentCertPem: cur.certPem, csrPem: createNodeKeys('430100').csrPem, supersede: true });
  const listed = await listCertificates(ca);
  t.equal(listed.find((r) => r.serial === cur.serial)?.status, 'revoked');
  t.equal(listed.find((r) => r.serial === cur.serial)?.reason, 'superseded');
  t.equal(listed.find((r) => r.serial === renewed.serial)?.status, 'active');
  const trust = await trustFromCa({ caCertPem: ca.certPem, crlPem: await buildCrl(ca) });
  t.throws(() => trust.verifySigner(cur.certPem, new Date()), { code: 'ERR_CERT_REVOKED' });
  t.equal(trust.verifySigner(renewed.certPem, new Date()).nodeId, '430100');
  await t.rejects(renewCertificate(ca, { currentCertPem: cur.certPem, csrPem: createNodeKeys('430100').csrPem }), { code: 'ERR_CERT_REVOKED' }, 'a superseded certificate cannot renew again');
});

t.test('renewal is refused with a code for each reason', async (t) => {
  const ca = createMemoryCa();
  const cur = await enrolled(ca, '430100');

  await t.rejects(renewCertificate(ca, { currentCertPem: cur.certPem, csrPem: createNodeKeys('430200').csrPem }), { code: 'ERR_RENEWAL_DENIED' }, 'CSR for another node id');
  await t.rejects(renewCertificate(ca, { currentCertPem: cur.certPem, csrPem: cur.csrPem }), { code: 'ERR_RENEWAL_DENIED' }, 'CSR for the current key');

  const now = Date.now();
  const old = createNodeKeys('430300');
  const expired = await issueCertificate(ca, old.csrPem, { notBefore: new Date(now - 400 * DAY), notAfter: new Date(now - DAY) });
  await t.rejects(renewCertificate(ca, { currentCertPem: expired.certPem, csrPem: createNodeKeys('430300').csrPem }), { code: 'ERR_CERT_EXPIRED' }, 'expired current certificate');

  const gone = await enrolled(ca, '430400');
  await revoke(ca, { serial: gone.serial, reason: 'keyCompromise' });
  await t.rejects(renewCertificate(ca, { currentCertPem: gone.certPem, csrPem: createNodeKeys('430400').csrPem }), { code: 'ERR_CERT_REVOKED' }, 'revoked current certificate');

  const stranger = await enrolled(createMemoryCa({ cn: 'Other CA' }), '430500');
  await t.rejects(renewCertificate(ca, { currentCertPem: stranger.certPem, csrPem: createNodeKeys('430500').csrPem }), { code: 'ERR_CERT_UNTRUSTED' }, 'certificate of another CA');

  await t.rejects(renewCertificate(ca, { currentCertPem: cur.certPem, csrPem: 'garbage' }), { code: 'ERR_CSR_INVALID' }, 'unreadable CSR');
  t.equal((await ca.certs.listIssued()).filter((r) => r.nodeId === '430100').length, 1, 'no certificate was issued by the refused attempts');
});
