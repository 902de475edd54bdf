/**
 * DER strictness of the SM2 structures: the outer tag of a signature, a ciphertext and a
 * certificate must be SEQUENCE (0x30), the tbsCertificate's signature AlgorithmIdentifier must be
 * the outer one (RFC 5280 4.1.1.2), and OIDs must be minimally encoded and complete.
 */
import t from 'tap';
import { createSm2Ca, issueSm2NodeIdentity } from '../../certs/sm2-x509.js';
import { caTrust } from '../../protocol/ca-trust.js';
import { bitString, children, derNull, oid, readOid, readOne, readTlv, seq } from '../../protocol/der.js';
import { headerOf } from '../../protocol/envelope.js';
import { open } from '../../protocol/open.js';
import { seal } from '../../protocol/seal.js';
import { OID, sm2CiphertextRaw, sm2Decrypt, sm2Encrypt, sm2KeyFromPem, sm2Sign, sm2Verify, sm2VerifyCertificate } from '../../protocol/sm-crypto.js';
import { codeOf, resign } from './envelope-fixtures.js';

const ca = createSm2Ca({ cn: 'Test SM2 CA' });
const hub = issueSm2NodeIdentity(ca.issuer, '430000');
const changsha = issueSm2NodeIdentity(ca.issuer, '430100');
const trust = caTrust({ caCertPems: [ca.certPem] });
const toHub = { recipient: { nodeId: '430000', keyPem: hub.keyPem }, trust };
const base = { type: 'batch' as const, from: '430100', to: '430000', seq: 1, payload: { n: 1 }, sender: changsha, recipientCertPem: hub.certPem };
const derOf = (pem: string) => Buffer.from(pem.replace(/-----[^-]+-----|\s/g, ''), 'base64');
const pemOf = (der: Buffer) => `-----BEGIN CERTIFICATE-----\n${der.toString('base64').match(/.{1,64}/g)!.join('\n')}\n-----END CERTIFICATE-----\n`;
const retag = (b: Buffer, tag: number) => Buffer.concat([Buffer.from([tag]), b.subarray(1)]);

t.test('an SM2 signature must be a SEQUENCE: 0x31 (SET) is refused', async (t) => {
  const key = sm2KeyFromPem(changsha.keyPem);
  const sig = sm2Sign(key, Buffer.from('x'));
  t.equal(sm2Verify(key.publicKey, Buffer.from('x'), sig), true);
  t.equal(sm2Verify(key.publicKey, Buffer.from('x'), retag(sig, 0x31)), false);
  const env = await seal(base);
  const bad = retag(Buffer.from(env.sig.signature, 'base64url'), 0x31).toString('base64url');
  t.equal(await codeOf(open({ ...env, sig: { ...env.sig, signature: bad } }, toHub)), 'ERR_SIGNATURE_INVALID', 'envelope signature retagged 0x31');
});

t.test('an SM2 ciphertext must be a SEQUENCE', async (t) => {
  const key = sm2KeyFromPem(hub.keyPem);
  const ct = sm2Encrypt(key.publicKey, Buffer.from('0123456789abcdef'));
  t.equal(sm2Decrypt(key, ct).toString(), '0123456789abcdef');
  t.throws(() => sm2CiphertextRaw(retag(ct, 0x31)), /expected tag 0x30/);
  const env = await seal(base);
  const enc = { ...env.enc, encrypted_key: retag(Buffer.from(env.enc.encrypted_key, 'base64url'), 0x31).toString('base64url') };
  const resigned = await resign({ ...env, enc }, headerOf(env), changsha.keyPem);
  t.equal(await codeOf(open(resigned, toHub)), 'ERR_DECRYPT_FAILED', 'encrypted_key retagged 0x31, re-signed by the sender');
});

t.test('an SM2 certificate: outer SEQUENCE, and the signed algorithm equals the outer one', async (t) => {
  const caPoint = ca.issuer.key.publicKey;
  const der = derOf(changsha.certPem);
  t.equal(sm2VerifyCertificate(der, caPoint), true);
  t.equal(sm2VerifyCertificate(retag(der, 0x31), caPoint), false, 'certificate retagged 0x31');
  // The CA signs a tbsCertificate whose signature field says SM2-with-SM3 with NULL parameters,
  // while the outer signatureAlgorithm says it without: the signature is genuine, the mismatch is refused.
  const [tbs] = children(readOne(der));
  const parts = children(tbs!).map((c) => c.raw);
  parts[2] = seq(oid(OID.sm2WithSm3), derNull());
  const tbs2 = seq(...parts);
  const forged = seq(tbs2, seq(oid(OID.sm2WithSm3)), bitString(sm2Sign(ca.issuer.key, tbs2)));
  t.equal(sm2VerifyCertificate(forged, caPoint), false, 'tbsCertificate.signature differs from signatureAlgorithm');
  const honest = seq(tbs!.raw, seq(oid(OID.sm2WithSm3)), bitString(sm2Sign(ca.issuer.key, tbs!.raw)));
  t.equal(sm2VerifyCertificate(honest, caPoint), true, 'the same re-signing with matching identifiers verifies');
  t.throws(() => trust.verifySigner(pemOf(forged), new Date()), { code: 'ERR_CERT_UNTRUSTED' });
});

t.test('OIDs: no 0x80 padding at the start of an arc, no dangling continuation byte', async (t) => {
  const read = (bytes: number[]) => readOid(readTlv(Buffer.from([0x06, bytes.length, ...bytes])));
  t.equal(read([0x2a, 0x86, 0x48]), '1.2.840');
  t.equal(read([0x2a, 0x81, 0x00]), '1.2.128', '0x80 inside an arc (after a continuation byte) is a zero digit, not padding');
  t.throws(() => read([0x2a, 0x80, 0x86, 0x48]), /leading 0x80/);
  t.throws(() => read([0x80, 0x2a]), /leading 0x80/);
  t.throws(() => read([0x2a, 0x86]), /continuation bit/);
  t.throws(() => read([0x2a, 0x86, 0x48, 0x86]), /continuation bit/);
});
