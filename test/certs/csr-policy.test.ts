/**
 * What the CA accepts in a CSR (issue 13, items 1 and 11; issue 23): RSA 2048–4096 bits with
 * e = 65537, or EC P-256, exactly one CN, and a self-signature with SHA-256 or stronger. The key is checked before the self-signature, so a huge modulus/exponent with a
 * random signature is refused by the key check and never verified with big-number code.
 */
import t, { type Test } from 'tap';
import { createNodeKeys, issueCertificate } from '../../certs/index.js';
import { parseCsr } from '../../certs/csr.js';
import { exponentCsr, hugeKeyCsr, multiCnCsr, rsaCsr } from '../helpers/hostile-csr.js';
import { createMemoryCa, openssl } from './support.js';

t.test('a huge RSA modulus and exponent with a random signature: ERR_CSR_KEY_UNSUPPORTED from the key check', async (t) => {
  await t.rejects(parseCsr(hugeKeyCsr('430100')), { code: 'ERR_CSR_KEY_UNSUPPORTED' });
});

t.test('512- and 1024-bit RSA keys and e = 3 are refused; nothing is issued', async (t) => {
  const ca = createMemoryCa();
  for (const bits of [512, 1024]) {
    await t.rejects(issueCertificate(ca, rsaCsr('430100', bits)), { code: 'ERR_CSR_KEY_UNSUPPORTED' }, `${bits} bits`);
  }
  await t.rejects(issueCertificate(ca, exponentCsr('430100', 3)), { code: 'ERR_CSR_KEY_UNSUPPORTED' }, 'e = 3');
  t.equal((await ca.certs.listIssued()).length, 0);
});

t.test('a CSR with two CNs is refused, not issued for the first', async (t) => {
  const ca = createMemoryCa();
  await t.rejects(issueCertificate(ca, multiCnCsr(['430100', '430700'])), { code: 'ERR_CSR_SUBJECT_INVALID' });
  t.equal((await ca.certs.listIssued()).length, 0);
});

t.test('2048 and 4096 bits with e = 65537 are issued; a bad self-signature is ERR_CSR_INVALID', async (t) => {
  const ca = createMemoryCa();
  t.equal((await issueCertificate(ca, createNodeKeys('430100').csrPem)).nodeId, '430100');
  t.equal((await issueCertificate(ca, rsaCsr('430700', 4096))).nodeId, '430700');
  const good = createNodeKeys('430200').csrPem;
  const b64 = good.replace(/-----[^-]+-----/g, '').replace(/\s/g, '');
  const der = Buffer.from(b64, 'base64');
  der[der.length - 5] = der[der.length - 5]! ^ 0xff; // inside the signature
  const broken = `-----BEGIN CERTIFICATE REQUEST-----\n${der.toString('base64').match(/.{1,64}/g)!.join('\n')}\n-----END CERTIFICATE REQUEST-----\n`;
  await t.rejects(parseCsr(broken), { code: 'ERR_CSR_INVALID' });
  await t.rejects(parseCsr('garbage'), { code: 'ERR_CSR_INVALID' });
});

/** A CSR made by the real openssl CLI for a fresh EC key on `curve` (another implementation's artefact). */
function opensslEcCsr(t: Test, curve: string, digest = 'sha256'): string {
  const made = openssl(['req', '-new', '-newkey', 'ec', '-pkeyopt', `ec_paramgen_curve:${curve}`, '-nodes', '-keyout', '/dev/null', '-subj', '/CN=430100', `-${digest}`]);
  t.equal(made.status, 0, made.out);
  return /-----BEGIN CERTIFICATE REQUEST-----[\s\S]+?-----END CERTIFICATE REQUEST-----/.exec(made.out)?.[0] ?? '';
}

t.test('an EC P-256 key from openssl is accepted (issue 23); P-384 and secp256k1 are ERR_CSR_KEY_UNSUPPORTED', async (t) => {
  const csr = await parseCsr(opensslEcCsr(t, 'P-256'));
  t.equal(csr.keyType, 'ec-p256');
  t.equal(csr.cn, '430100');
  for (const curve of ['P-384', 'secp256k1']) {
    await t.rejects(parseCsr(opensslEcCsr(t, curve)), { code: 'ERR_CSR_KEY_UNSUPPORTED', message: /EC (secp384r1|secp256k1) key/ }, curve);
  }
  const ca = createMemoryCa();
  await t.rejects(issueCertificate(ca, rsaCsr('430100', 1024)), { code: 'ERR_CSR_KEY_UNSUPPORTED', message: /RSA key of 1024 bits/ }, 'RSA-1024');
  t.equal((await ca.certs.listIssued()).length, 0, 'nothing issued for a refused key');
});

t.test('a P-256 CSR whose ECDSA self-signature is broken is ERR_CSR_INVALID', async (t) => {
  const good = createNodeKeys('430100', 'p256').csrPem;
  const der = Buffer.from(good.replace(/-----[^-]+-----|\s/g, ''), 'base64');
  der[der.length - 3] = der[der.length - 3]! ^ 0x01; // inside s of the signature
  const broken = `-----BEGIN CERTIFICATE REQUEST-----\n${der.toString('base64').match(/.{1,64}/g)!.join('\n')}\n-----END CERTIFICATE REQUEST-----\n`;
  await t.rejects(parseCsr(broken), { code: 'ERR_CSR_INVALID' });
  t.equal((await parseCsr(good)).keyType, 'ec-p256', 'the unbroken one is read');
});

t.test('a request self-signed with SHA-1 (ECDSA or RSA) is ERR_CSR_INVALID before its signature is verified; SHA-384 is accepted', async (t) => {
  await t.rejects(parseCsr(opensslEcCsr(t, 'P-256', 'sha1')), { code: 'ERR_CSR_INVALID', message: /signed with SHA-1; SHA-256, SHA-384 or SHA-512 is accepted/ }, 'ecdsa-with-SHA1');
  const rsa = openssl(['req', '-new', '-newkey', 'rsa:2048', '-nodes', '-keyout', '/dev/null', '-subj', '/CN=430100', '-sha1']);
  t.equal(rsa.status, 0, rsa.out);
  const rsaPem = /-----BEGIN CERTIFICATE REQUEST-----[\s\S]+?-----END CERTIFICATE REQUEST-----/.exec(rsa.out)?.[0] ?? '';
  await t.rejects(parseCsr(rsaPem), { code: 'ERR_CSR_INVALID', message: /SHA-1/ }, 'sha1WithRSAEncryption');
  t.equal((await parseCsr(opensslEcCsr(t, 'P-256', 'sha384'))).keyType, 'ec-p256', 'ecdsa-with-SHA384 is read');
});
