/**
 * CSRs a hostile client could send, made with node-forge from real keys (or none): a huge RSA
 * modulus and exponent with a random signature, weak or odd RSA keys, two CNs.
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import forge from 'node-forge';
import { createCsr, generateRsaKeyPair } from '../../certs/pki-crypto.js';

function bigOdd(bits: number): forge.jsbn.BigInteger {
  const b = randomBytes(bits / 8);
  b[0] = b[0]! | 0x80;
  b[b.length - 1] = b[b.length - 1]! | 1;
  return new forge.jsbn.BigInteger(b.toString('hex'), 16);
}

/**
 * A CSR whose RSA modulus and public exponent are both `bits` long, with a random "signature":
 * verifying it with JS big numbers costs seconds of CPU (8192 bits: ~6 s, 16384 bits: ~45 s).
 */
export function hugeKeyCsr(cn: string, bits = 8192): string {
  const csr = forge.pki.createCertificationRequest();
  csr.publicKey = forge.pki.setRsaPublicKey(bigOdd(bits), bigOdd(bits));
  csr.setSubject([{ name: 'countryName', value: 'CN' }, { name: 'commonName', value: cn }]);
  const raw = csr as unknown as { signatureOid: string; siginfo: { algorithmOid: string }; signature: string };
  raw.signatureOid = forge.pki.oids['sha256WithRSAEncryption']!;
  raw.siginfo.algorithmOid = raw.signatureOid;
  raw.signature = randomBytes(bits / 8).toString('binary');
  return forge.pki.certificationRequestToPem(csr);
}

/** A correctly self-signed CSR for an RSA key of `bits` (512, 1024, …). */
export function rsaCsr(cn: string, bits: number): string {
  return createCsr(cn, generateRsaKeyPair(bits));
}

/** A correctly self-signed CSR for a 2048-bit RSA key with public exponent `e` (e.g. 3). */
export function exponentCsr(cn: string, e: number): string {
  const { publicKey, privateKey } = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    publicExponent: e,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
  return createCsr(cn, { publicKeyPem: publicKey, privateKeyPem: privateKey });
}

/** A correctly self-signed CSR (2048-bit RSA) whose subject holds every CN given, in order. */
export function multiCnCsr(cns: readonly string[]): string {
  const kp = generateRsaKeyPair();
  const csr = forge.pki.createCertificationRequest();
  csr.publicKey = forge.pki.publicKeyFromPem(kp.publicKeyPem);
  csr.setSubject([{ name: 'countryName', value: 'CN' }, ...cns.map((value) => ({ name: 'commonName', value }))]);
  csr.sign(forge.pki.privateKeyFromPem(kp.privateKeyPem), forge.md.sha256.create());
  return forge.pki.certificationRequestToPem(csr);
}
