/**
 * Test PKI: a throwaway CA and node certificates generated per run (never committed), made by
 * certs/'s own certificate builders, so tests elsewhere see exactly what the provincial CA issues.
 * Synchronous and register-free on purpose: `issue` signs any CN and any validity (expired,
 * not-yet-valid, outliving the CA) for negative tests; use certs/ issueCertificate for the real
 * checks (CSR, node id, register).
 */
import { createCaMaterial } from '../../certs/ca-dir.js';
import { generateRsaKeyPair, randomSerial, signLeafCertificate } from '../../certs/pki-crypto.js';
import { DEFAULT_HOSTS } from '../../certs/issue.js';

export interface TestCa {
  certPem: string;
  keyPem: string;
}

export interface TestIdentity {
  nodeId: string;
  certPem: string;
  keyPem: string;
  /** Upper-case hex, as X509Certificate.serialNumber prints it. */
  serial: string;
}

export function rsaKeyPair(bits = 2048): { publicKeyPem: string; privateKeyPem: string } {
  return generateRsaKeyPair(bits);
}

export function makeCa(cn = 'Hunan Provincial Credit CA (test)'): TestCa {
  return createCaMaterial({ cn });
}

export function issue(ca: TestCa, nodeId: string, opts: { notBefore?: Date; notAfter?: Date; hosts?: string[]; bits?: number } = {}): TestIdentity {
  const kp = rsaKeyPair(opts.bits);
  const serial = randomSerial();
  const certPem = signLeafCertificate({
    caCertPem: ca.certPem,
    caKeyPem: ca.keyPem,
    cn: nodeId,
    publicKeyPem: kp.publicKeyPem,
    serial,
    notBefore: opts.notBefore ?? new Date(Date.now() - 60_000),
    notAfter: opts.notAfter ?? new Date(Date.now() + 365 * 86400_000),
    hosts: opts.hosts ?? DEFAULT_HOSTS,
  });
  return { nodeId, certPem, keyPem: kp.privateKeyPem, serial };
}
