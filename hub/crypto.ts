/** The hub's only direct use of node:crypto: random keys, the wrapping of the hub key in the database (the subject HMAC for audit entries is protocol/crypto.ts's, shared with the node). */
import { createCipheriv, createDecipheriv, createPrivateKey, hkdfSync, randomBytes, X509Certificate } from 'node:crypto';

export { subjectHmac } from '../protocol/crypto.js';

export function randomKeyBase64(bytes = 32): string {
  return randomBytes(bytes).toString('base64');
}

/** The DNS names and IP addresses a certificate's subjectAltName lists (lower case). */
export function certSanNames(certPem: string): Set<string> {
  const san = new X509Certificate(certPem).subjectAltName ?? '';
  return new Set(san.split(', ').filter(Boolean).map((s) => s.replace(/^(DNS|IP Address):/, '').toLowerCase()));
}

const WRAP_INFO = 'credit-federation hub identity key wrap v1';

/** The AES-256 key the hub key is stored under in the database: HKDF-SHA256 of the CA private key (PKCS#8 DER), which every hub process holds. */
function wrapKeyFrom(caKeyPem: string): Buffer {
  const der = createPrivateKey(caKeyPem).export({ type: 'pkcs8', format: 'der' });
  return Buffer.from(hkdfSync('sha256', der, Buffer.alloc(0), WRAP_INFO, 32));
}

/** `v1.<iv>.<tag>.<ciphertext>` (base64): the PEM key encrypted with AES-256-GCM under wrapKeyFrom(caKeyPem). */
export function wrapHubKey(caKeyPem: string, keyPem: string): string {
  const iv = randomBytes(12);
  const c = createCipheriv('aes-256-gcm', wrapKeyFrom(caKeyPem), iv);
  c.setAAD(Buffer.from(WRAP_INFO));
  const ct = Buffer.concat([c.update(keyPem, 'utf8'), c.final()]);
  return ['v1', iv.toString('base64'), c.getAuthTag().toString('base64'), ct.toString('base64')].join('.');
}

/** The PEM key of wrapHubKey(), or null when it does not open under this CA key (another CA, tampered). */
export function unwrapHubKey(caKeyPem: string, wrapped: string): string | null {
  const [v, iv, tag, ct] = wrapped.split('.');
  if (v !== 'v1' || !iv || !tag || ct === undefined) return null;
  try {
    const d = createDecipheriv('aes-256-gcm', wrapKeyFrom(caKeyPem), Buffer.from(iv, 'base64'));
    d.setAAD(Buffer.from(WRAP_INFO));
    d.setAuthTag(Buffer.from(tag, 'base64'));
    return Buffer.concat([d.update(Buffer.from(ct, 'base64')), d.final()]).toString('utf8');
  } catch {
    return null;
  }
}
