/**
 * SM2 certificates from the provincial CA, checked by the openssl CLI and by protocol/'s trust
 * policy: a 2-level chain (SM2 root → node, CN = node id) verifies with `openssl verify -vfyopt
 * distid:1234567812345678`; a revoked node is refused by `openssl verify -crl_check` and by
 * caTrust; another CA's certificate is untrusted.
 */
import t from 'tap';
import { buildSm2Crl, createSm2Ca, issueSm2NodeIdentity } from '../../certs/sm2-x509.js';
import { caTrust } from '../../protocol/ca-trust.js';
import { certFromPem } from '../../protocol/crypto.js';
import { openssl, tempDir, writeAll } from './support.js';

const ca = createSm2Ca({ cn: 'Hunan Provincial Public Credit SM2 CA' });
const node = issueSm2NodeIdentity(ca.issuer, '430100');
const DISTID = ['-vfyopt', 'distid:1234567812345678'];

t.test('openssl verifies the 2-level SM2 chain with the standard distinguishing ID', async (t) => {
  const p = await writeAll(await tempDir(t, 'sm2ca-'), { 'ca.pem': ca.certPem, 'node.pem': node.certPem });
  const ok = openssl(['verify', ...DISTID, '-CAfile', p['ca.pem']!, p['node.pem']!]);
  t.equal(ok.status, 0, ok.out);
  t.match(ok.out, /node\.pem: OK/);
  const x = openssl(['x509', '-in', p['node.pem']!, '-noout', '-text']);
  t.match(x.out, /Signature Algorithm: SM2-with-SM3/);
  t.match(x.out, /Subject: C\s*=\s*CN, CN\s*=\s*430100/);
  t.match(x.out, /Digital Signature, Key Encipherment, Data Encipherment/);
  t.match(x.out, /TLS Web Client Authentication/);
  const root = openssl(['x509', '-in', p['ca.pem']!, '-noout', '-text']);
  t.match(root.out, /X509v3 Basic Constraints: critical\s+CA:TRUE/);
  t.match(root.out, /Certificate Sign, CRL Sign/);
  const noId = openssl(['verify', '-CAfile', p['ca.pem']!, p['node.pem']!]);
  t.not(noId.status, 0, 'without the distinguishing ID OpenSSL 3.0 computes Z over an empty ID and fails');
});

t.test('protocol trust policy: the node certificate is trusted, its key is sm2, its CN the node id', async (t) => {
  const c = certFromPem(node.certPem);
  t.equal(c.keyKind, 'sm2');
  t.equal(c.cn, '430100');
  t.equal(c.issuedBy(certFromPem(ca.certPem)), true);
  t.match(caTrust({ caCertPems: [ca.certPem] }).verifySigner(node.certPem, new Date()), { nodeId: '430100', serial: node.serialHex });
  const other = createSm2Ca({ cn: 'Hunan Provincial Public Credit SM2 CA' }); // same name, other key
  t.throws(() => caTrust({ caCertPems: [other.certPem] }).verifySigner(node.certPem, new Date()), { code: 'ERR_CERT_UNTRUSTED' });
  t.throws(() => caTrust({ caCertPems: [ca.certPem], isRevoked: (s) => s === node.serialHex }).verifySigner(node.certPem, new Date()), { code: 'ERR_CERT_REVOKED' });
});

t.test('CRL: openssl verify -crl_check refuses the revoked node and accepts the others', async (t) => {
  const other = issueSm2NodeIdentity(ca.issuer, '430700');
  // OpenSSL 3.0 checks SM2 CRL signatures with an empty ID and has no option to change it:
  // the CRL for OpenSSL-based checkers is signed with userId '' (docs/protocol.md, SM2 PKI).
  const crl = buildSm2Crl(ca.issuer, [{ serialHex: node.serialHex, revokedAt: new Date() }], { number: 1n, userId: '' });
  const p = await writeAll(await tempDir(t, 'sm2crl-'), { 'ca.pem': ca.certPem, 'node.pem': node.certPem, 'other.pem': other.certPem, 'crl.pem': crl });
  const revoked = openssl(['verify', ...DISTID, '-crl_check', '-CRLfile', p['crl.pem']!, '-CAfile', p['ca.pem']!, p['node.pem']!]);
  t.not(revoked.status, 0);
  t.match(revoked.out, /certificate revoked/);
  const fine = openssl(['verify', ...DISTID, '-crl_check', '-CRLfile', p['crl.pem']!, '-CAfile', p['ca.pem']!, p['other.pem']!]);
  t.equal(fine.status, 0, fine.out);
  const text = openssl(['crl', '-in', p['crl.pem']!, '-CAfile', p['ca.pem']!, '-noout', '-verify', '-text']);
  t.match(text.out, /verify OK/);
  t.match(text.out, new RegExp(`Serial Number: ${node.serialHex}`));
});

t.test('an SM2 request with a malformed subject (validly self-signed) is ERR_CSR_SUBJECT_INVALID', async (t) => {
  const { bitString, oid, seq, set, tlv, uint, utf8String } = await import('../../protocol/der.js');
  const { OID, sm2GenerateKeyPem, sm2KeyFromPem, sm2Sign, sm2Spki } = await import('../../protocol/sm-crypto.js');
  const { parseSm2Csr } = await import('../../certs/sm2-x509.js');
  const key = sm2KeyFromPem(sm2GenerateKeyPem().privateKeyPem);
  const csr = (subject: Buffer) => {
    const info = seq(uint(0n), subject, sm2Spki(key.publicKey), tlv(0xa0, Buffer.alloc(0)));
    const der = seq(info, seq(oid(OID.sm2WithSm3)), bitString(sm2Sign(key, info)));
    return `-----BEGIN CERTIFICATE REQUEST-----\n${der.toString('base64')}\n-----END CERTIFICATE REQUEST-----\n`;
  };
  t.equal(parseSm2Csr(csr(seq(set(seq(oid('2.5.4.3'), utf8String('430100')))))).cn, '430100', 'the well-formed request');
  for (const [what, subject] of [
    ['a CN without a value', seq(set(seq(oid('2.5.4.3'))))],
    ['an RDN that is not a SET', seq(seq(seq(oid('2.5.4.3'), utf8String('430100'))))],
    ['a subject that is not a SEQUENCE', set(set(seq(oid('2.5.4.3'), utf8String('430100'))))],
    ['an attribute type that is not an OID', seq(set(seq(uint(3n), utf8String('430100'))))],
  ] as const) {
    t.throws(() => parseSm2Csr(csr(subject)), { code: 'ERR_CSR_SUBJECT_INVALID' }, what);
  }
});
