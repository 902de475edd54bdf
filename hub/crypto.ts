/** The hub's only direct use of node:crypto: random keys and the subject HMAC for audit entries. */
import { createHmac, randomBytes, X509Certificate } from 'node:crypto';

export function randomKeyBase64(bytes = 32): string {
  return randomBytes(bytes).toString('base64');
}

/** HMAC-SHA256 of a subject code, hex: lets auditors match queries about one subject without the code in the log. */
export function subjectHmac(key: Buffer, subject: string): string {
  return `hmac-sha256:${createHmac('sha256', key).update(subject, 'utf8').digest('hex')}`;
}

/** The DNS names and IP addresses a certificate's subjectAltName lists (lower case). */
export function certSanNames(certPem: string): Set<string> {
  const san = new X509Certificate(certPem).subjectAltName ?? '';
  return new Set(san.split(', ').filter(Boolean).map((s) => s.replace(/^(DNS|IP Address):/, '').toLowerCase()));
}
