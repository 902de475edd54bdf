/**
 * The CA takes DER-encoded requests only (issue 23, left from the EC review: "lax DER in CSRs").
 * Each hostile request below is correctly self-signed over its own bytes, so before the check
 * @peculiar/x509's lenient BER reading accepted most of them and the CA issued for them; each is
 * now ERR_CSR_INVALID with the DER rule named. The same requests strictly encoded are accepted
 * (the control), and the SM2 path (sm2-x509.ts parseSm2Csr) refuses BER in the parts it never
 * reads (the [0] attributes).
 */
import { generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import t from 'tap';
import { issueCertificate } from '../../certs/index.js';
import { parseCsr } from '../../certs/csr.js';
import { parseSm2Csr } from '../../certs/sm2-x509.js';
import { bitString, oid, seq, set, tlv, uint, utf8String } from '../../protocol/der.js';
import { sm2KeyFromPem, sm2GenerateKeyPem, sm2Sign, sm2Spki } from '../../protocol/sm-crypto.js';
import { createMemoryCa } from './support.js';

const ECDSA_SHA256 = oid('1.2.840.10045.4.3.2');
const SHA256_RSA = oid('1.2.840.113549.1.1.11');
const printable = (s: string): Buffer => tlv(0x13, Buffer.from(s, 'ascii'));
const cnAtv = (cn: string): Buffer => seq(oid('2.5.4.3'), printable(cn));
const cAtv = (): Buffer => seq(oid('2.5.4.6'), printable('CN'));
const subject = (cn: string): Buffer => seq(set(cAtv()), set(cnAtv(cn)));
const noAttrs = (): Buffer => tlv(0xa0, Buffer.alloc(0));

function pem(der: Buffer): string {
  return `-----BEGIN CERTIFICATE REQUEST-----\n${der.toString('base64').match(/.{1,64}/g)!.join('\n')}\n-----END CERTIFICATE REQUEST-----\n`;
}

const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const ecSpki = (): Buffer => ec.publicKey.export({ type: 'spki', format: 'der' });

/** CertificationRequest over `info` exactly as given, signed ECDSA-SHA256 (DER signature unless `sigDer` reshapes it). */
function ecCsr(info: Buffer, sigDer: (s: Buffer) => Buffer = (s) => s, tail = Buffer.alloc(0)): string {
  const sig = sigDer(sign('sha256', info, ec.privateKey));
  return pem(Buffer.concat([seq(info, seq(ECDSA_SHA256), bitString(sig)), tail]));
}

function rsaCsr(info: Buffer, key: KeyObject): string {
  return pem(seq(info, seq(SHA256_RSA, Buffer.from([0x05, 0x00])), bitString(sign('sha256', info, key))));
}

/** The TLV `whole` with its length written in the long form with one octet too many (0x82 00 nn). */
function longLength(whole: Buffer): Buffer {
  const body = whole.subarray(2);
  if (whole[1]! >= 0x80) throw new Error('short-form input expected');
  return Buffer.concat([Buffer.from([whole[0]!, 0x82, 0x00, body.length]), body]);
}

/** The SEQUENCE `whole` (short form) with an indefinite length and end-of-contents octets. */
function indefinite(whole: Buffer): Buffer {
  return Buffer.concat([Buffer.from([whole[0]!, 0x80]), whole.subarray(2), Buffer.from([0, 0])]);
}

/** An ECDSA DER signature whose r carries one more leading 0x00 than DER allows. */
function padR(sig: Buffer): Buffer {
  const r = sig.subarray(2, 4 + sig[3]!); // 02 len r
  const s = sig.subarray(4 + sig[3]!);
  const r2 = Buffer.concat([Buffer.from([0x02, r[1]! + 1, 0x00]), r.subarray(2)]);
  return seq(r2, s);
}

t.test('control: the strictly encoded requests are accepted and issued', async (t) => {
  const parsed = await parseCsr(ecCsr(seq(uint(0n), subject('430100'), ecSpki(), noAttrs())));
  t.equal(parsed.cn, '430100');
  t.equal(parsed.keyType, 'ec-p256');
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const r = await parseCsr(rsaCsr(seq(uint(0n), subject('430200'), rsa.publicKey.export({ type: 'spki', format: 'der' }), noAttrs()), rsa.privateKey));
  t.equal(r.keyType, 'rsa');
  const multi = seq(set(cAtv(), cnAtv('430300')));
  const ok = await parseCsr(ecCsr(seq(uint(0n), multi, ecSpki(), noAttrs())));
  t.equal(ok.cn, '430300', 'a multi-valued RDN in DER order is fine');
  // an attribute whose OID has an arc beyond 2^53 (2.25.<UUID>) is valid DER
  const uuidOid = oid('2.25.329800735698586629295641978511506172918');
  const big = await parseCsr(ecCsr(seq(uint(0n), subject('430400'), ecSpki(), tlv(0xa0, seq(uuidOid, set(printable('x')))))));
  t.equal(big.cn, '430400', 'a 2.25.<UUID> attribute type is accepted');
});

t.test('BER the lenient parser took, each self-signed over its own bytes: ERR_CSR_INVALID, nothing issued', async (t) => {
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const rsaSpki = rsa.publicKey.export({ type: 'spki', format: 'der' });
  // the modulus INTEGER with one leading 0x00 too many, inside the SPKI's BIT STRING
  const rsaKey = rsa.publicKey.export({ type: 'pkcs1', format: 'der' });
  const n = rsaKey.subarray(4 + 4); // 30 82 LL LL | 02 82 01 01 00 …  → the modulus content
  const nLen = rsaKey.readUInt16BE(6);
  const modulus = n.subarray(0, nLen);
  const e = n.subarray(nLen);
  const paddedKey = seq(tlv(0x02, Buffer.concat([Buffer.from([0]), modulus])), e);
  const paddedSpki = seq(seq(oid('1.2.840.113549.1.1.1'), Buffer.from([0x05, 0x00])), bitString(paddedKey));
  t.not(rsaSpki.length, paddedSpki.length, 'the padded SPKI differs');

  const cases: Array<[string, string, RegExp]> = [
    ['a CN string with a long-form length', ecCsr(seq(uint(0n), seq(set(cAtv()), set(seq(oid('2.5.4.3'), longLength(printable('430100'))))), ecSpki(), noAttrs())), /length not minimally encoded/],
    ['the subject with an indefinite length', ecCsr(seq(uint(0n), indefinite(subject('430100')), ecSpki(), noAttrs())), /indefinite/],
    ['a constructed (BER) PrintableString', ecCsr(seq(uint(0n), seq(set(seq(oid('2.5.4.3'), tlv(0x33, printable('430100'))))), ecSpki(), noAttrs())), /constructed form/],
    ['the ECDSA signature\'s r padded with 0x00', ecCsr(seq(uint(0n), subject('430100'), ecSpki(), noAttrs()), padR), /INTEGER not minimally encoded/],
    ['bytes after the request', ecCsr(seq(uint(0n), subject('430100'), ecSpki(), noAttrs()), undefined, Buffer.from([0, 0])), /trailing bytes/],
    ['version 1', ecCsr(seq(uint(1n), subject('430100'), ecSpki(), noAttrs())), /version is not 0/],
    ['a multi-valued RDN out of order', ecCsr(seq(uint(0n), seq(set(cnAtv('430100'), cAtv())), ecSpki(), noAttrs())), /ascending order/],
    ['attributes nested 40 deep', ecCsr(seq(uint(0n), subject('430100'), ecSpki(), tlv(0xa0, Array.from({ length: 40 }).reduce<Buffer>((b) => seq(b), seq())))), /nested deeper than 32/],
    ['a primitive-form SEQUENCE (tag 0x10) in the attributes', ecCsr(seq(uint(0n), subject('430100'), ecSpki(), tlv(0xa0, tlv(0x10, seq(oid('1.2.3')))))), /universal tag 0x10 in the primitive form/],
    ['end-of-contents octets inside a definite length', ecCsr(seq(uint(0n), subject('430100'), ecSpki(), tlv(0xa0, Buffer.from([0, 0])))), /universal tag 0x0 in the primitive form/],
    ['an RSA modulus padded with 0x00', rsaCsr(seq(uint(0n), subject('430100'), paddedSpki, noAttrs()), rsa.privateKey), /INTEGER not minimally encoded/],
  ];
  const ca = createMemoryCa();
  for (const [what, csr, why] of cases) {
    await t.rejects(parseCsr(csr), { code: 'ERR_CSR_INVALID', message: why }, what);
    await t.rejects(issueCertificate(ca, csr), { code: 'ERR_CSR_INVALID' }, `${what}: not issued`);
  }
  t.equal((await ca.certs.listIssued()).length, 0, 'nothing issued');
});

t.test('SM2: BER inside the [0] attributes (never read) is ERR_CSR_INVALID; the same request in DER is accepted', (t) => {
  const { privateKeyPem } = sm2GenerateKeyPem();
  const key = sm2KeyFromPem(privateKeyPem);
  const sm2Csr = (attrs: Buffer): string => {
    const info = seq(uint(0n), seq(set(seq(oid('2.5.4.3'), utf8String('430100')))), sm2Spki(key.publicKey), attrs);
    return pem(seq(info, seq(oid('1.2.156.10197.1.501')), bitString(sm2Sign(key, info))));
  };
  const attr = seq(oid('1.2.840.113549.1.9.7'), set(utf8String('pw')));
  t.equal(parseSm2Csr(sm2Csr(tlv(0xa0, attr))).cn, '430100', 'DER attributes: accepted');
  t.throws(() => parseSm2Csr(sm2Csr(tlv(0xa0, indefinite(attr)))), { code: 'ERR_CSR_INVALID', message: /indefinite/ });
  t.throws(() => parseSm2Csr(sm2Csr(tlv(0xa0, longLength(attr)))), { code: 'ERR_CSR_INVALID', message: /length not minimally encoded/ });
  t.end();
});
