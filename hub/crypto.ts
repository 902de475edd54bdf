/** The hub's only direct use of node:crypto: random keys (the subject HMAC for audit entries is protocol/crypto.ts's, shared with the node). */
import { randomBytes, X509Certificate } from 'node:crypto';

export { subjectHmac } from '../protocol/crypto.js';

export function randomKeyBase64(bytes = 32): string {
  return randomBytes(bytes).toString('base64');
}

/** The DNS names and IP addresses a certificate's subjectAltName lists (lower case). */
export function certSanNames(certPem: string): Set<string> {
  const san = new X509Certificate(certPem).subjectAltName ?? '';
  return new Set(san.split(', ').filter(Boolean).map((s) => s.replace(/^(DNS|IP Address):/, '').toLowerCase()));
}
