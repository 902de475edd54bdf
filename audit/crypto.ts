/**
 * The only module of audit/ that touches node:crypto: RFC 6962 leaf and node hashing, checkpoint
 * and cosignature signatures, and the X.509 facts and chain checks the offline verifier needs
 * (issuer signature, validity at a time). Signatures (signText / verifyText) are SHA-256 over the
 * UTF-8 text with the certificate's key type: RSA keys sign RSASSA-PKCS1-v1_5 (RFC 8017 §8.2,
 * JOSE "RS256" — not PSS), EC P-256 keys sign ECDSA with a DER (ASN.1) signature; base64 with
 * padding. A log created on SM (hash algorithm `sm3`, fixed in its metadata: log-meta.ts) hashes
 * with SM3 (GB/T 32905) instead, and its signer's SM2 key signs SM2-with-SM3 (GB/T 32918.2, ID
 * 1234567812345678, DER SEQUENCE { r, s }) — what `openssl pkeyutl -verify -rawin -digest sm3
 * -pkeyopt distid:1234567812345678` checks. docs/audit-format.md states the same for third-party verifiers.
 */
import { createHash, hash, createPrivateKey, createPublicKey, sign, verify, timingSafeEqual, X509Certificate, type KeyObject } from 'node:crypto';
import { sm2Sign, sm2Verify, sm2VerifyCertificate } from '../protocol/sm-crypto.js';
import { sm2PointOf, sm2PrivateOf } from '../protocol/sm-jose.js';

/** The hash algorithm of an audit log (leaf and node hashes, checkpoint signatures' digest): fixed when the log is created. */
export type AuditHashAlg = 'sha256' | 'sm3';
export const AUDIT_HASH_ALGS: readonly AuditHashAlg[] = ['sha256', 'sm3'];

export function isAuditHashAlg(v: unknown): v is AuditHashAlg {
  return v === 'sha256' || v === 'sm3';
}

const LEAF_PREFIX = Buffer.from([0x00]);
const NODE_PREFIX = Buffer.from([0x01]);

export function sha256(data: string | Uint8Array): Buffer {
  return createHash('sha256').update(data).digest();
}

/** RFC 6962 §2.1: leaf hash = H(0x00 || data), H = SHA-256 (or SM3). One-shot `hash()` (about 2x createHash for short inputs). */
export function leafHash(data: string | Uint8Array, alg: AuditHashAlg = 'sha256'): Buffer {
  // U+0000 is the single byte 0x00 in UTF-8, so a string input can be prefixed as text.
  return typeof data === 'string' ? hash(alg, '\u0000' + data, 'buffer') : hash(alg, Buffer.concat([LEAF_PREFIX, data]), 'buffer');
}

/** RFC 6962 §2.1: interior node = H(0x01 || left || right). */
export function nodeHash(left: Uint8Array, right: Uint8Array, alg: AuditHashAlg = 'sha256'): Buffer {
  return hash(alg, Buffer.concat([NODE_PREFIX, left, right]), 'buffer');
}

/** MTH of the empty tree: SHA-256 of nothing. */
export const EMPTY_ROOT = sha256('');

/** MTH of the empty tree under `alg`: H of nothing. */
export function emptyRoot(alg: AuditHashAlg = 'sha256'): Buffer {
  return alg === 'sha256' ? EMPTY_ROOT : createHash(alg).update('').digest();
}

/** The hash algorithm a log signed by this certificate uses: SM3 for an SM2 key, SHA-256 for RSA and EC P-256 keys. */
export function hashAlgOfCert(certPem: string): AuditHashAlg {
  return sm2PointOf(new X509Certificate(certPem).publicKey) !== undefined ? 'sm3' : 'sha256';
}

/** Constant-time comparison of two digests (false when lengths differ). */
export function hashEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

/** SHA-256 of a PEM certificate's DER, lower-case hex without colons. */
export function certFingerprint(certPem: string): string {
  return new X509Certificate(certPem).fingerprint256.replace(/:/g, '').toLowerCase();
}

/** True when the private key belongs to the certificate. */
export function keyFitsCert(keyPem: string, certPem: string): boolean {
  try {
    const spki = (k: KeyObject) => k.export({ type: 'spki', format: 'der' });
    return spki(createPublicKey(createPrivateKey(keyPem))).equals(spki(new X509Certificate(certPem).publicKey));
  } catch {
    return false;
  }
}

/**
 * Signature of a UTF-8 text, base64: SHA-256 RSASSA-PKCS1-v1_5 for an RSA key, SHA-256 DER ECDSA
 * for an EC key, SM2-with-SM3 (ID 1234567812345678, DER) for an SM2 key.
 */
export function signText(keyPem: string, text: string): string {
  const key = createPrivateKey(keyPem);
  const sm2 = sm2PrivateOf(key);
  if (sm2 !== undefined) return sm2Sign(sm2, Buffer.from(text, 'utf8')).toString('base64');
  return sign('sha256', Buffer.from(text, 'utf8'), key).toString('base64');
}

/** Verifies signText()'s signature with a PEM certificate's key (SM2-with-SM3 when the key is SM2). */
export function verifyText(certPem: string, text: string, signatureB64: string): boolean {
  try {
    const key = new X509Certificate(certPem).publicKey;
    const point = sm2PointOf(key);
    if (point !== undefined) return sm2Verify(point, Buffer.from(text, 'utf8'), Buffer.from(signatureB64, 'base64'));
    return verify('sha256', Buffer.from(text, 'utf8'), key, Buffer.from(signatureB64, 'base64'));
  } catch {
    return false;
  }
}

/** True when `ca` issued and signed `cert` (SM2-with-SM3 with the standard ID for an SM2 CA key, which OpenSSL through Node cannot check). */
function issuedBy(cert: CertFacts, ca: CertFacts): boolean {
  if (!cert.x509.checkIssued(ca.x509)) return false;
  const point = sm2PointOf(ca.x509.publicKey);
  return point !== undefined ? sm2VerifyCertificate(cert.x509.raw, point) : cert.x509.verify(ca.x509.publicKey);
}

/** Constant-time comparison of two lower-case hex digests (false when lengths differ). */
export function sameHex(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  return timingSafeEqual(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

export interface CertFacts {
  pem: string;
  /** SHA-256 of the DER certificate, lower-case hex without colons. */
  fingerprint: string;
  /** Subject common name (the node id for node and hub certificates). */
  cn: string;
  subject: string;
  issuer: string;
  notBefore: Date;
  notAfter: Date;
  isCa: boolean;
  /** Serial number as certs/ and CRLs print it (upper-case hex, no leading 00). */
  serial: string;
  x509: X509Certificate;
}

/** The serial as certs/pki-crypto.ts normaliseSerial prints it (upper-case hex, whole bytes, no leading 00). */
function serialOf(x509: X509Certificate): string {
  let h = x509.serialNumber.toUpperCase();
  if (h.length % 2 === 1) h = `0${h}`;
  while (h.length > 2 && h.startsWith('00')) h = h.slice(2);
  return h;
}

export function certFacts(pem: string): CertFacts {
  const x509 = new X509Certificate(pem);
  const cn = /(?:^|\n)CN=([^\n]*)/.exec(x509.subject)?.[1] ?? '';
  return {
    pem: x509.toString(),
    fingerprint: x509.fingerprint256.replace(/:/g, '').toLowerCase(),
    cn,
    subject: x509.subject,
    issuer: x509.issuer,
    notBefore: new Date(x509.validFrom),
    notAfter: new Date(x509.validTo),
    isCa: x509.ca,
    serial: serialOf(x509),
    x509,
  };
}

/** Every PEM certificate block in a text (a CA file may hold several). */
export function splitPemCerts(text: string): string[] {
  return [...text.matchAll(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g)].map((m) => m[0] + '\n');
}

function validAt(c: CertFacts, at: Date): boolean {
  const t = at.getTime();
  return c.notBefore.getTime() <= t && t <= c.notAfter.getTime();
}

/**
 * Checks that `leaf` chains through `intermediates` to one of `anchors` and that every
 * certificate on the way is valid at `at`. Returns null when it does, else the reason.
 */
export function chainProblem(leaf: CertFacts, intermediates: readonly CertFacts[], anchors: readonly CertFacts[], at: Date): string | null {
  let current = leaf;
  const seen = new Set<string>([leaf.fingerprint]);
  for (let depth = 0; depth < 8; depth++) {
    if (!validAt(current, at)) return `certificate "${current.subject.replace(/\n/g, ', ')}" is not valid at ${at.toISOString()} (valid ${current.notBefore.toISOString()} to ${current.notAfter.toISOString()})`;
    const anchor = anchors.find((a) => issuedBy(current, a));
    if (anchor) {
      if (!validAt(anchor, at)) return `CA certificate is not valid at ${at.toISOString()}`;
      return null;
    }
    const next = intermediates.find((i) => i.isCa && !seen.has(i.fingerprint) && issuedBy(current, i));
    if (!next) return `certificate "${current.subject.replace(/\n/g, ', ')}" is not issued by the given CA`;
    seen.add(next.fingerprint);
    current = next;
  }
  return 'certificate chain is too long';
}
