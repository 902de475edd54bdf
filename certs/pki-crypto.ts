/**
 * The one module of certs/ that touches node:crypto and node-forge (CRLs, which forge cannot make,
 * live in crl.ts on @peculiar/x509; untrusted CSRs are read in csr.ts, never with forge's big-number code). Keys are RSA 2048 or EC P-256, made by node:crypto (forge's JS keygen is
 * slow); forge builds RSA-key certificates and PKCS#10 requests, ec-x509.ts builds EC ones as DER, and
 * node:crypto makes every signature.
 */
import { constants, createHash, createPublicKey, generateKeyPairSync, privateEncrypt, randomBytes, sign as nodeSign, timingSafeEqual, X509Certificate } from 'node:crypto';
import { isIP } from 'node:net';
import forge from 'node-forge';
import { createEcCsr, signEcLeafCertificate } from './ec-x509.js';
import { certError } from './errors.js';
import { ecCurveOf } from '../protocol/crypto.js';

export interface KeyPairPem {
  publicKeyPem: string;
  privateKeyPem: string;
}

export function generateRsaKeyPair(bits = 2048): KeyPairPem {
  const { publicKey, privateKey } = generateKeyPairSync('rsa', {
    modulusLength: bits,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
  return { publicKeyPem: publicKey, privateKeyPem: privateKey };
}

/** An EC P-256 (prime256v1) key pair: SPKI and PKCS#8 PEM. */
export function generateEcKeyPair(): KeyPairPem {
  const { publicKey, privateKey } = generateKeyPairSync('ec', {
    namedCurve: 'prime256v1',
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
  return { publicKeyPem: publicKey, privateKeyPem: privateKey };
}

/** Node key algorithms: EC P-256 (the default for new nodes) or RSA 2048. */
export type NodeKeyAlgorithm = 'p256' | 'rsa';
export const NODE_KEY_ALGORITHMS: readonly NodeKeyAlgorithm[] = ['p256', 'rsa'];

export function generateKeyPair(algorithm: NodeKeyAlgorithm): KeyPairPem {
  return algorithm === 'rsa' ? generateRsaKeyPair() : generateEcKeyPair();
}

/** The algorithm of a key (private or public PEM): what a renewal keeps. */
export function keyAlgorithmOf(keyPem: string): NodeKeyAlgorithm {
  return createPublicKey(keyPem).asymmetricKeyType === 'ec' ? 'p256' : 'rsa';
}

/** RSASSA-PKCS1-v1_5 with SHA-256 (sha256WithRSAEncryption) by the CA key. */
export function rsaPkcs1Sha256Sign(privateKeyPem: string, data: Uint8Array): Buffer {
  return nodeSign('sha256', data, { key: privateKeyPem, padding: constants.RSA_PKCS1_PADDING });
}

/** ECDSA with SHA-256, DER `SEQUENCE { r, s }` as X.509 and PKCS#10 want it. */
export function ecdsaSha256Sign(privateKeyPem: string, data: Uint8Array): Buffer {
  return nodeSign('sha256', data, { key: privateKeyPem, dsaEncoding: 'der' });
}

/** SHA-1, only for key identifiers (RFC 5280 §4.2.1.2 method 1). */
export function sha1(data: Uint8Array): Buffer {
  return createHash('sha1').update(data).digest();
}

/**
 * A serial as node:crypto's X509Certificate.serialNumber prints it: upper-case hex, whole bytes,
 * no leading 00 byte. Accepts any case, an odd number of digits, colons and a 0x prefix.
 */
export function normaliseSerial(hex: string): string {
  let h = hex.trim().replace(/^0x/i, '').replace(/[:\s]/g, '').toUpperCase();
  if (!/^[0-9A-F]+$/.test(h)) return h;
  if (h.length % 2 === 1) h = `0${h}`;
  while (h.length > 2 && h.startsWith('00')) h = h.slice(2);
  return h;
}

/** A random positive 128-bit serial whose first byte is neither 00 nor ≥ 0x80 (so DER and print agree). */
export function randomSerial(): string {
  const b = randomBytes(16);
  b[0] = b[0]! & 0x7f || 0x01;
  return b.toString('hex').toUpperCase();
}

export function randomTokenBytes(n = 32): Buffer {
  return randomBytes(n);
}

export function sha256Hex(data: string): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Constant-time equality of two hex digests of the same length. */
export function sameDigest(aHex: string, bHex: string): boolean {
  const a = Buffer.from(aHex, 'hex');
  const b = Buffer.from(bHex, 'hex');
  return a.length === b.length && a.length > 0 && timingSafeEqual(a, b);
}

export interface CertInfo {
  cn: string | null;
  serial: string;
  notBefore: Date;
  notAfter: Date;
  /** SHA-256 of the DER certificate, lower-case hex (as protocol's SignerIdentity has it). */
  fingerprint: string;
  publicKeyDer: Buffer;
  isCa: boolean;
}

/** Reads a certificate (PEM text or DER bytes). Throws node's error when it is not one. */
export function certInfo(pemOrDer: string | Buffer): CertInfo {
  const c = new X509Certificate(pemOrDer);
  const cn = /(?:^|\n)CN=([^\n]*)/.exec(c.subject)?.[1] ?? null;
  return {
    cn,
    serial: normaliseSerial(c.serialNumber),
    notBefore: new Date(c.validFrom),
    notAfter: new Date(c.validTo),
    fingerprint: c.fingerprint256.replace(/:/g, '').toLowerCase(),
    publicKeyDer: c.publicKey.export({ type: 'spki', format: 'der' }),
    isCa: c.ca,
  };
}

/** True when `pem` is signed by `caPem`'s key and names it as issuer. */
export function signedBy(pem: string, caPem: string): boolean {
  try {
    const c = new X509Certificate(pem);
    const ca = new X509Certificate(caPem);
    return c.checkIssued(ca) && c.verify(ca.publicKey);
  } catch {
    return false;
  }
}

// ---------- certificates and requests (node-forge) ----------

const HASH = () => forge.md.sha256.create();

/** The DER prefix of a SHA-256 DigestInfo (RFC 8017 §9.2, note 1). */
const SHA256_DIGEST_INFO = Buffer.from('3031300d060960864801650304020105000420', 'hex');

/**
 * What forge's `sign(key, md)` is given as the key: forge hashes the TBS bytes into `md` and calls
 * `key.sign(md)`; this makes the RSASSA-PKCS1-v1_5 signature of that SHA-256 with node:crypto
 * (native) instead of forge's JavaScript big numbers (tens of times slower for every certificate the
 * CA issues). v1.5 is deterministic: the bytes are exactly forge's own (test/certs/native-sign.test.ts).
 */
export function nativeRsaSigner(privateKeyPem: string): forge.pki.rsa.PrivateKey {
  const signer = {
    sign(md: forge.md.MessageDigest): string {
      if (md.algorithm !== 'sha256') throw new Error(`nativeRsaSigner: SHA-256 only, not ${md.algorithm}`);
      const digest = Buffer.from(md.digest().getBytes(), 'binary');
      return privateEncrypt({ key: privateKeyPem, padding: constants.RSA_PKCS1_PADDING }, Buffer.concat([SHA256_DIGEST_INFO, digest])).toString('binary');
    },
  };
  return signer as unknown as forge.pki.rsa.PrivateKey;
}

export interface CaCertOptions {
  cn: string;
  keyPair: KeyPairPem;
  notBefore: Date;
  notAfter: Date;
}

export function createCaCertificate(o: CaCertOptions): string {
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(o.keyPair.publicKeyPem);
  cert.serialNumber = randomSerial();
  cert.validity.notBefore = o.notBefore;
  cert.validity.notAfter = o.notAfter;
  const attrs = [
    { name: 'countryName', value: 'CN' },
    { name: 'organizationName', value: 'credit-federation' },
    // UTF8String (forge encodes it), so a Chinese name such as 湖南省公共信用信息中心 CA survives;
    // the default PrintableString would write the characters' low bytes and break the certificate
    { name: 'commonName', value: o.cn, valueTagClass: forge.asn1.Type.UTF8 as number },
  ];
  cert.setSubject(attrs);
  cert.setIssuer(attrs);
  cert.setExtensions([
    { name: 'basicConstraints', cA: true, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
    { name: 'subjectKeyIdentifier' },
  ]);
  cert.sign(nativeRsaSigner(o.keyPair.privateKeyPem), HASH());
  return forge.pki.certificateToPem(cert);
}

/** A PKCS#10 request with subject CN = `cn`, signed by the key (RSA: forge; EC P-256: ec-x509.ts). */
export function createCsr(cn: string, keyPair: KeyPairPem): string {
  if (keyAlgorithmOf(keyPair.publicKeyPem) === 'p256') return createEcCsr(cn, keyPair);
  const csr = forge.pki.createCertificationRequest();
  csr.publicKey = forge.pki.publicKeyFromPem(keyPair.publicKeyPem);
  csr.setSubject([{ name: 'countryName', value: 'CN' }, { name: 'commonName', value: cn }]);
  csr.sign(nativeRsaSigner(keyPair.privateKeyPem), HASH());
  return forge.pki.certificationRequestToPem(csr);
}

export type PublicKeyDetails = { type: 'rsa'; bits: number; exponent: bigint } | { type: string; bits?: undefined; exponent?: undefined };

/** Type, size and exponent of an SPKI DER public key (read by OpenSSL, no arithmetic); null if unreadable. */
export function publicKeyDetails(spkiDer: Uint8Array): PublicKeyDetails | null {
  try {
    const k = createPublicKey({ key: Buffer.from(spkiDer), format: 'der', type: 'spki' });
    if (k.asymmetricKeyType === 'rsa') {
      const d = k.asymmetricKeyDetails ?? {};
      return { type: 'rsa', bits: d.modulusLength ?? 0, exponent: d.publicExponent ?? 0n };
    }
    // EC: the curve from the SPKI bytes, never asymmetricKeyDetails (it aborts Node 20 on a point at infinity)
    if (k.asymmetricKeyType === 'ec') return { type: `EC ${ecCurveOf(k) ?? '(unnamed curve, or not an uncompressed point)'}` };
    return { type: String(k.asymmetricKeyType) };
  } catch {
    return null;
  }
}

export function spkiDerToPem(spkiDer: Uint8Array): string {
  return createPublicKey({ key: Buffer.from(spkiDer), format: 'der', type: 'spki' }).export({ type: 'spki', format: 'pem' }).toString();
}

/** The SPKI DER of a PEM public key, for comparing keys. */
export function publicKeyDer(publicKeyPem: string): Buffer {
  return createPublicKey(publicKeyPem).export({ type: 'spki', format: 'der' });
}

export interface LeafOptions {
  caCertPem: string;
  caKeyPem: string;
  cn: string;
  publicKeyPem: string;
  serial: string;
  notBefore: Date;
  notAfter: Date;
  hosts: readonly string[];
}

/**
 * An end-entity certificate for mutual TLS and envelope signatures. An RSA key gets keyUsage
 * digitalSignature + keyEncipherment (forge); an EC P-256 key digitalSignature + keyAgreement
 * (ec-x509.ts). Same subject, issuer, EKU, SAN, SKI/AKI and validity either way.
 */
export function signLeafCertificate(o: LeafOptions): string {
  if (keyAlgorithmOf(o.publicKeyPem) === 'p256') return signEcLeafCertificate(o);
  const caCert = forge.pki.certificateFromPem(o.caCertPem);
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(o.publicKeyPem);
  cert.serialNumber = o.serial;
  cert.validity.notBefore = o.notBefore;
  cert.validity.notAfter = o.notAfter;
  cert.setSubject([{ name: 'countryName', value: 'CN' }, { name: 'commonName', value: o.cn }]);
  // forge parses a UTF8String into its raw bytes but encodes the value again when writing: decode
  // first, or a CA with a Chinese name issues certificates whose issuer matches nothing
  cert.setIssuer(caCert.subject.attributes.map((a) => (a.valueTagClass === (forge.asn1.Type.UTF8 as number) && typeof a.value === 'string' ? { ...a, value: forge.util.decodeUtf8(a.value) } : a)));
  cert.setExtensions([
    { name: 'basicConstraints', cA: false, critical: true },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    { name: 'extKeyUsage', serverAuth: true, clientAuth: true },
    { name: 'subjectAltName', altNames: o.hosts.map((h) => (isIP(h) ? { type: 7, ip: h } : { type: 2, value: h })) },
    { name: 'subjectKeyIdentifier' },
    { name: 'authorityKeyIdentifier', keyIdentifier: caCert.generateSubjectKeyIdentifier().getBytes() },
  ]);
  cert.sign(nativeRsaSigner(o.caKeyPem), HASH());
  return forge.pki.certificateToPem(cert);
}
