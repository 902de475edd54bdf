/**
 * Issuance checks (CSR signature, node id, hosts), revocation, the CRL as data, the register
 * listing, and trustFromCa — the policy protocol/'s verify step and the servers use.
 */
import { join } from 'node:path';
import { readFile } from 'node:fs/promises';
import t from 'tap';
import {
  buildCrl, createCsr, createNodeKeys, generateRsaKeyPair, issueCertificate, listCertificates, normaliseSerial, parseCrl, revoke, revokedSerials, trustFromCa,
} from '../../certs/index.js';
import { createMemoryCa, enrolled, openssl, tempDir } from './support.js';

const DAY = 86_400_000;
const ca = createMemoryCa({ cn: 'Test Provincial Credit CA' });

function pemToDer(pem: string): Buffer {
  return Buffer.from(pem.replace(/-----[^-]+-----|\s/g, ''), 'base64');
}
function derToPem(der: Buffer, label: string): string {
  return `-----BEGIN ${label}-----\n${der.toString('base64').replace(/(.{64})/g, '$1\n').replace(/\n$/, '')}\n-----END ${label}-----\n`;
}

t.test('a CSR whose signature or content was tampered with is ERR_CSR_INVALID', async (t) => {
  const { csrPem } = createNodeKeys('430100');
  const der = pemToDer(csrPem);
  const sigFlipped = Buffer.from(der);
  sigFlipped[sigFlipped.length - 5]! ^= 0x01;
  await t.rejects(issueCertificate(ca, derToPem(sigFlipped, 'CERTIFICATE REQUEST')), { code: 'ERR_CSR_INVALID' }, 'signature byte flipped');
  const at = der.indexOf(Buffer.from('430100'));
  t.ok(at > 0, 'the CN is in the DER');
  const cnChanged = Buffer.from(der);
  cnChanged.write('430200', at, 'latin1');
  await t.rejects(issueCertificate(ca, derToPem(cnChanged, 'CERTIFICATE REQUEST')), { code: 'ERR_CSR_INVALID' }, 'CN changed after signing');
  await t.rejects(issueCertificate(ca, 'not a CSR'), { code: 'ERR_CSR_INVALID' }, 'not PEM');
  const keyFlipped = Buffer.from(der);
  keyFlipped[der.length >> 1]! ^= 0x10; // inside the public key
  await t.rejects(issueCertificate(ca, derToPem(keyFlipped, 'CERTIFICATE REQUEST')), { code: 'ERR_CSR_INVALID' }, 'public key byte flipped');
  t.same(await ca.certs.listIssued().then((l) => l.filter((c) => c.nodeId === '430100' || c.nodeId === '430200')), [], 'nothing issued');
});

t.test('a CSR whose CN is not a node id is ERR_INVALID_NODE_ID', async (t) => {
  for (const cn of ['hub', '43010', '4301000', 'Hunan Provincial Public Credit CA']) {
    await t.rejects(issueCertificate(ca, createCsr(cn, generateRsaKeyPair())), { code: 'ERR_INVALID_NODE_ID' }, cn);
  }
});

t.test('a CSR made by openssl itself is accepted (interoperability)', async (t) => {
  const dir = await tempDir(t);
  const r = openssl(['req', '-new', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(dir, 'k.pem'), '-out', join(dir, 'r.csr'), '-subj', '/C=CN/CN=431100']);
  t.equal(r.status, 0, r.out);
  const issued = await issueCertificate(ca, await readFile(join(dir, 'r.csr'), 'utf8'));
  t.equal(issued.nodeId, '431100');
});

t.test('hosts must be DNS names or IP addresses (ERR_HOST_INVALID)', async (t) => {
  const { csrPem } = createNodeKeys('430100');
  for (const h of ['bad host', 'a/b', '', '-x.example']) {
    await t.rejects(issueCertificate(ca, csrPem, { hosts: [h] }), { code: 'ERR_HOST_INVALID' }, JSON.stringify(h));
  }
  const ok = await issueCertificate(ca, csrPem, { hosts: ['::1', 'hub.example.cn'] });
  t.match(openssl(['x509', '-noout', '-ext', 'subjectAltName'], ok.certPem).out, /IP Address:0:0:0:0:0:0:0:1|IP Address:::1/);
});

t.test('revoke by serial or node id; unknown targets and reasons have their own codes', async (t) => {
  const local = createMemoryCa();
  const a1 = await enrolled(local, '430100');
  const a2 = await enrolled(local, '430100');
  const b = await enrolled(local, '430200');
  t.same(await revoke(local, { nodeId: '430100', reason: 'cessationOfOperation' }), [a1.serial, a2.serial], 'every active certificate of the node');
  t.same(await revoke(local, { serial: a1.serial, reason: 'keyCompromise' }), [], 'revoking again changes nothing');
  t.equal((await local.certs.listIssued()).find((c) => c.serial === a1.serial)?.reason, 'cessationOfOperation', 'first reason kept');
  await t.rejects(revoke(local, { nodeId: '430100', reason: 'keyCompromise' }), { code: 'ERR_CERT_NOT_FOUND' }, 'node has no active certificate left');
  await t.rejects(revoke(local, { serial: 'ABCDEF', reason: 'keyCompromise' }), { code: 'ERR_CERT_NOT_FOUND' }, 'unknown serial');
  await t.rejects(revoke(local, { nodeId: '439900', reason: 'keyCompromise' }), { code: 'ERR_CERT_NOT_FOUND' }, 'unknown node');
  await t.rejects(revoke(local, { serial: b.serial, reason: 'bored' as never }), { code: 'ERR_REVOCATION_REASON' });
  t.same([...(await revokedSerials(local))].sort(), [a1.serial, a2.serial].sort());
  t.equal((await listCertificates(local)).find((c) => c.serial === b.serial)?.status, 'active', 'b untouched');
});

t.test('ca list statuses: active, revoked, expired; the CRL leaves out expired certificates', async (t) => {
  const local = createMemoryCa();
  const now = Date.now();
  const live = await enrolled(local, '430100');
  const gone = await enrolled(local, '430200');
  const old = await enrolled(local, '430300', { notBefore: new Date(now - 20 * DAY), notAfter: new Date(now - 10 * DAY) });
  const oldRevoked = await enrolled(local, '430400', { notBefore: new Date(now - 20 * DAY), notAfter: new Date(now - 10 * DAY) });
  await revoke(local, { serial: gone.serial, reason: 'keyCompromise' });
  await revoke(local, { serial: oldRevoked.serial, reason: 'keyCompromise' });
  const st = Object.fromEntries((await listCertificates(local)).map((c) => [c.nodeId, c.status]));
  t.same(st, { '430100': 'active', '430200': 'revoked', '430300': 'expired', '430400': 'revoked' });
  const crl = await parseCrl(await buildCrl(local), { caCertPem: local.certPem });
  t.same([...crl.revoked], [gone.serial], 'only the unexpired revoked certificate');
  t.notOk(crl.revoked.has(live.serial) || crl.revoked.has(old.serial));
});

t.test('parseCrl refuses garbage and CRLs not signed by the CA (ERR_CRL_INVALID)', async (t) => {
  const other = createMemoryCa({ cn: 'Other CA' });
  await t.rejects(parseCrl('nonsense'), { code: 'ERR_CRL_INVALID' });
  const foreign = await buildCrl(other);
  await t.rejects(parseCrl(foreign, { caCertPem: ca.certPem }), { code: 'ERR_CRL_INVALID' }, 'signed by another CA');
  const der = pemToDer(await buildCrl(ca));
  der[der.length - 3]! ^= 0x01;
  await t.rejects(parseCrl(derToPem(der, 'X509 CRL'), { caCertPem: ca.certPem }), { code: 'ERR_CRL_INVALID' }, 'signature damaged');
  t.ok((await parseCrl(derToPem(der, 'X509 CRL'))).revoked instanceof Set, 'without a CA it is only read');
  await t.rejects(trustFromCa({ caCertPem: ca.certPem, crlPem: foreign }), { code: 'ERR_CRL_INVALID' }, 'trustFromCa checks the CRL');
});

t.test('trustFromCa: the verify policy for envelopes and servers', async (t) => {
  const local = createMemoryCa();
  const good = await enrolled(local, '430100');
  const bad = await enrolled(local, '430200');
  const spare = await enrolled(local, '430300');
  const now = Date.now();
  const old = await enrolled(local, '430400', { notBefore: new Date(now - 20 * DAY), notAfter: new Date(now - 10 * DAY) });
  const stranger = await enrolled(createMemoryCa({ cn: 'Other CA' }), '430500');
  await revoke(local, { serial: bad.serial, reason: 'keyCompromise' });
  const crlPem = await buildCrl(local);

  const trust = await trustFromCa({ caCertPem: local.certPem, crlPem, revokedSerials: [`00${spare.serial.toLowerCase()}`] });
  const id = trust.verifySigner(good.certPem, new Date());
  t.equal(id.nodeId, '430100');
  t.equal(id.serial, good.serial);
  t.throws(() => trust.verifySigner(bad.certPem, new Date()), { code: 'ERR_CERT_REVOKED' }, 'from the CRL');
  t.throws(() => trust.verifySigner(spare.certPem, new Date()), { code: 'ERR_CERT_REVOKED' }, 'from the extra list, normalised');
  t.throws(() => trust.verifySigner(old.certPem, new Date()), { code: 'ERR_CERT_EXPIRED' });
  t.throws(() => trust.verifySigner(stranger.certPem, new Date()), { code: 'ERR_CERT_UNTRUSTED' });
  const noCrl = await trustFromCa({ caCertPem: local.certPem });
  t.equal(noCrl.verifySigner(bad.certPem, new Date()).nodeId, '430200', 'without a CRL the revocation is not known');
});

t.test('normaliseSerial prints serials as node:crypto and openssl do', async (t) => {
  t.equal(normaliseSerial('00ab'), 'AB');
  t.equal(normaliseSerial('0x0abc'), '0ABC');
  t.equal(normaliseSerial('ab:cd:ef'), 'ABCDEF');
  t.equal(normaliseSerial('f'), '0F');
  t.equal(normaliseSerial('00'), '00');
  const x = await enrolled(ca, '430100');
  const printed = openssl(['x509', '-noout', '-serial'], x.certPem).out.trim().replace('serial=', '');
  t.equal(normaliseSerial(printed.toLowerCase()), x.serial);
});

t.test('trustFromCa: a CRL past its nextUpdate is refused by every check (ERR_CRL_STALE)', async (t) => {
  const local = createMemoryCa();
  const good = await enrolled(local, '430100');
  const now = Date.now();
  const stale = await buildCrl(local, { now: new Date(now - 20 * DAY), nextUpdateDays: 7 });
  const trust = await trustFromCa({ caCertPem: local.certPem, crlPem: stale });
  t.throws(() => trust.verifySigner(good.certPem, new Date(now)), { code: 'ERR_CRL_STALE' }, '20 days old, 13 days past its nextUpdate');
  const fresh = await trustFromCa({ caCertPem: local.certPem, crlPem: await buildCrl(local) });
  t.equal(fresh.verifySigner(good.certPem, new Date(now)).nodeId, '430100');
  t.throws(() => fresh.verifySigner(good.certPem, new Date(now + 8 * DAY)), { code: 'ERR_CRL_STALE' }, 'a current CRL goes stale after 7 days');
});

t.test('the CRL never dates a revocation before the moment it happened (whole seconds, rounded up)', async (t) => {
  // X.509 times carry whole seconds. Truncating 10:00:00.400 to 10:00:00 would make an envelope the
  // hub accepted at 10:00:00.300 (before the revocation) look signed after it (the demo saw this).
  const local = createMemoryCa({ cn: 'Rounding CA' });
  const leaf = await enrolled(local, '430100');
  const at = new Date(Date.UTC(2026, 11, 3, 10, 0, 0, 400));
  await revoke(local, { serial: leaf.serial, reason: 'keyCompromise', now: at });
  const crl = await parseCrl(await buildCrl(local, { now: new Date(at.getTime() + 1000) }), { caCertPem: local.certPem });
  const entry = crl.entries.find((e) => e.serial === leaf.serial);
  t.equal(entry?.revokedAt.toISOString(), '2026-12-03T10:00:01.000Z', 'rounded up to the next whole second');
  t.ok(entry!.revokedAt.getTime() >= at.getTime(), 'not before the revocation');

  const exact = await enrolled(local, '430700');
  const onTheSecond = new Date(Date.UTC(2026, 11, 3, 10, 0, 5, 0));
  await revoke(local, { serial: exact.serial, reason: 'keyCompromise', now: onTheSecond });
  const crl2 = await parseCrl(await buildCrl(local, { now: new Date(onTheSecond.getTime() + 1000) }), { caCertPem: local.certPem });
  t.equal(crl2.entries.find((e) => e.serial === exact.serial)?.revokedAt.toISOString(), '2026-12-03T10:00:05.000Z', 'a whole second stays as it is');
});
