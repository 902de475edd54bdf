/**
 * The only module of audit/ that touches node:crypto: RFC 6962 leaf and node hashing, checkpoint
 * signatures (RSA-PSS SHA-256 = PS256 for RSA keys, ECDSA P-256 = ES256 for EC keys), and the
 * X.509 facts and chain checks the offline verifier needs (issuer signature, validity at a time).
 */
import { createHash, hash, createPrivateKey, createPublicKey, sign, verify, timingSafeEqual, X509Certificate, constants, type KeyObject } from 'node:crypto';

export type SignatureAlg = 'PS256' | 'ES256';

const LEAF_PREFIX = Buffer.from([0x00]);
const NODE_PREFIX = Buffer.from([0x01]);

export function sha256(data: string | Uint8Array): Buffer {
  return createHash('sha256').update(data).digest();
}

/** RFC 6962 §2.1: leaf hash = SHA-256(0x00 || data). One-shot `hash()` (about 2x createHash for short inputs). */
export function leafHash(data: string | Uint8Array): Buffer {
  // U+0000 is the single byte 0x00 in UTF-8, so a string input can be prefixed as text.
  return typeof data === 'string' ? hash('sha256', '\u0000' + data, 'buffer') : hash('sha256', Buffer.concat([LEAF_PREFIX, data]), 'buffer');
}

/** RFC 6962 §2.1: interior node = SHA-256(0x01 || left || right). */
export function nodeHash(left: Uint8Array, right: Uint8Array): Buffer {
  return hash('sha256', Buffer.concat([NODE_PREFIX, left, right]), 'buffer');
}

/** MTH of the empty tree: SHA-256 of nothing. */
export const EMPTY_ROOT = sha256('');

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

/** RSA PKCS#1 v1.5 SHA-256 signature of a UTF-8 text, base64. */
export function signText(keyPem: string, text: string): string {
  return sign('sha256', Buffer.from(text, 'utf8'), createPrivateKey(keyPem)).toString('base64');
}

/** Verifies signText()'s signature with a PEM certificate's key. */
export function verifyText(certPem: string, text: string, signatureB64: string): boolean {
  try {
    return verify('sha256', Buffer.from(text, 'utf8'), new X509Certificate(certPem).publicKey, Buffer.from(signatureB64, 'base64'));
  } catch {
    return false;
  }
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
  x509: X509Certificate;
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
    const anchor = anchors.find((a) => current.x509.checkIssued(a.x509) && current.x509.verify(a.x509.publicKey));
    if (anchor) {
      if (!validAt(anchor, at)) return `CA certificate is not valid at ${at.toISOString()}`;
      return null;
    }
    const next = intermediates.find((i) => i.isCa && !seen.has(i.fingerprint) && current.x509.checkIssued(i.x509) && current.x509.verify(i.x509.publicKey));
    if (!next) return `certificate "${current.subject.replace(/\n/g, ', ')}" is not issued by the given CA`;
    seen.add(next.fingerprint);
    current = next;
  }
  return 'certificate chain is too long';
}

export interface LoadedSigner {
  key: KeyObject;
  alg: SignatureAlg;
  cert: CertFacts;
  chain: CertFacts[];
}

/** Reads a signer's key and certificate; null reason when the key belongs to the certificate. */
export function loadSigner(keyPem: string, certPem: string, chainPems: readonly string[] = []): LoadedSigner | string {
  let key: KeyObject;
  let cert: CertFacts;
  let chain: CertFacts[];
  try {
    key = createPrivateKey(keyPem);
  } catch {
    return 'the signer key is not a readable PEM private key';
  }
  try {
    cert = certFacts(certPem);
    chain = chainPems.map(certFacts);
  } catch {
    return 'the signer certificate (or its chain) is not a readable PEM certificate';
  }
  const spki = (k: KeyObject) => k.export({ type: 'spki', format: 'der' });
  if (!spki(createPublicKey(key)).equals(spki(cert.x509.publicKey))) return 'the signer key does not belong to the signer certificate';
  const type = key.asymmetricKeyType;
  if (type === 'rsa') return { key, alg: 'PS256', cert, chain };
  if (type === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1') return { key, alg: 'ES256', cert, chain };
  return `signer keys must be RSA or EC P-256, not ${type ?? 'unknown'}`;
}

export function signBytes(signer: LoadedSigner, data: Uint8Array): string {
  const sig = signer.alg === 'PS256'
    ? sign('sha256', data, { key: signer.key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 })
    : sign('sha256', data, { key: signer.key, dsaEncoding: 'ieee-p1363' });
  return sig.toString('base64');
}

/** True when `signatureB64` is a valid `alg` signature of `data` by the certificate's key. */
export function verifyBytes(cert: CertFacts, alg: string, data: Uint8Array, signatureB64: string): boolean {
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(signatureB64)) return false;
  const sig = Buffer.from(signatureB64, 'base64');
  const key = cert.x509.publicKey;
  try {
    if (alg === 'PS256' && key.asymmetricKeyType === 'rsa') {
      return verify('sha256', data, { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 }, sig);
    }
    if (alg === 'ES256' && key.asymmetricKeyType === 'ec') return verify('sha256', data, { key, dsaEncoding: 'ieee-p1363' }, sig);
  } catch {
    return false;
  }
  return false;
}
