/**
 * Test PKI: a throwaway CA and node certificates generated per run (never committed).
 * Interim helper built directly on node-forge; once certs/ exposes its CA API this file should
 * delegate to it and keep these signatures.
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import forge from 'node-forge';

export interface TestCa {
  certPem: string;
  keyPem: string;
}

export interface TestIdentity {
  nodeId: string;
  certPem: string;
  keyPem: string;
  serial: string;
}

export function rsaKeyPair(bits = 2048): { publicKeyPem: string; privateKeyPem: string } {
  const { publicKey, privateKey } = generateKeyPairSync('rsa', {
    modulusLength: bits,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
  return { publicKeyPem: publicKey, privateKeyPem: privateKey };
}

function serialHex(): string {
  const b = randomBytes(16);
  b[0] = b[0]! & 0x7f; // positive
  return b.toString('hex');
}

export function makeCa(cn = 'Hunan Provincial Credit CA (test)'): TestCa {
  const kp = rsaKeyPair();
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(kp.publicKeyPem);
  cert.serialNumber = serialHex();
  cert.validity.notBefore = new Date(Date.now() - 60_000);
  cert.validity.notAfter = new Date(Date.now() + 10 * 365 * 86400_000);
  const attrs = [{ name: 'commonName', value: cn }, { name: 'countryName', value: 'CN' }];
  cert.setSubject(attrs);
  cert.setIssuer(attrs);
  cert.setExtensions([
    { name: 'basicConstraints', cA: true, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
    { name: 'subjectKeyIdentifier' },
  ]);
  cert.sign(forge.pki.privateKeyFromPem(kp.privateKeyPem), forge.md.sha256.create());
  return { certPem: forge.pki.certificateToPem(cert), keyPem: kp.privateKeyPem };
}

export function issue(ca: TestCa, nodeId: string, opts: { notBefore?: Date; notAfter?: Date; hosts?: string[] } = {}): TestIdentity {
  const kp = rsaKeyPair();
  const caCert = forge.pki.certificateFromPem(ca.certPem);
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(kp.publicKeyPem);
  cert.serialNumber = serialHex();
  cert.validity.notBefore = opts.notBefore ?? new Date(Date.now() - 60_000);
  cert.validity.notAfter = opts.notAfter ?? new Date(Date.now() + 365 * 86400_000);
  cert.setSubject([{ name: 'commonName', value: nodeId }, { name: 'countryName', value: 'CN' }]);
  cert.setIssuer(caCert.subject.attributes);
  const hosts = opts.hosts ?? ['localhost', '127.0.0.1'];
  cert.setExtensions([
    { name: 'basicConstraints', cA: false },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    { name: 'extKeyUsage', serverAuth: true, clientAuth: true },
    { name: 'subjectAltName', altNames: hosts.map((h) => (/^[\d.]+$/.test(h) ? { type: 7, ip: h } : { type: 2, value: h })) },
  ]);
  cert.sign(forge.pki.privateKeyFromPem(ca.keyPem), forge.md.sha256.create());
  return { nodeId, certPem: forge.pki.certificateToPem(cert), keyPem: kp.privateKeyPem, serial: cert.serialNumber.toUpperCase() };
}
