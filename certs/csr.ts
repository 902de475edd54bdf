/**
 * Reading a PKCS#10 certificate signing request from an untrusted client, in layers, cheapest
 * first: refuse anything that is not DER all the way down (csr-der.ts: ERR_CSR_INVALID), parse
 * it (@peculiar/x509, which on its own would read BER leniently), check the key against the CA's policy (RSA 2048–4096
 * bits with e = 65537, or EC on the P-256 curve: anything else is ERR_CSR_KEY_UNSUPPORTED), check
 * the subject holds exactly one CN (ERR_CSR_SUBJECT_INVALID), and only then verify the
 * self-signature with WebCrypto (node's native code: RSA PKCS#1 v1.5 / PSS, or ECDSA P-256, with
 * SHA-256/384/512 — a SHA-1 request is refused unverified; ERR_CSR_INVALID). A huge modulus or
 * exponent, or another curve, is refused before any signature arithmetic, and no JS big-number code ever runs on client input. Certificates are built in
 * pki-crypto.ts (RSA keys by node-forge, P-256 keys by the DER builder; node:crypto signs both).
 */
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { assertCsrDer } from './csr-der.js';
import { certError } from './errors.js';
import { publicKeyDetails, spkiDerToPem } from './pki-crypto.js';

x509.cryptoProvider.set(globalThis.crypto);

export const RSA_MIN_BITS = 2048;
export const RSA_MAX_BITS = 4096;
export const RSA_EXPONENT = 65537n;

/** Digests accepted in a request's self-signature (WebCrypto names). */
const STRONG_HASHES: ReadonlySet<string> = new Set(['SHA-256', 'SHA-384', 'SHA-512']);

/** The key types this CA issues node certificates for. */
export type CsrKeyType = 'rsa' | 'ec-p256';

export interface ParsedCsr {
  cn: string | null;
  publicKeyPem: string;
  keyType: CsrKeyType;
}

/** Null when the SPKI key is one the CA issues for, else why not. */
export function keyPolicyProblem(spkiDer: Uint8Array): string | null {
  const d = publicKeyDetails(spkiDer);
  if (d === null) return 'the public key cannot be read';
  if (d.type === 'EC prime256v1') return null;
  if (d.type !== 'rsa' || d.bits === undefined || d.exponent === undefined) return `a ${d.type} key; this CA issues for RSA 2048–4096 and EC P-256 (prime256v1) keys only`;
  if (d.bits < RSA_MIN_BITS || d.bits > RSA_MAX_BITS) return `an RSA key of ${d.bits} bits; ${RSA_MIN_BITS}–${RSA_MAX_BITS} bits are accepted`;
  if (d.exponent !== RSA_EXPONENT) return `an RSA public exponent of ${d.exponent > 1_000_000n ? `${d.exponent.toString(2).length} bits` : d.exponent}; only 65537 is accepted`;
  return null;
}

/** Parses a CSR and checks key, subject and self-signature, in that order. */
export async function parseCsr(pem: string): Promise<ParsedCsr> {
  let der: Buffer;
  try {
    der = Buffer.from(x509.PemData.toArrayBuffer(pem)); // PEM (first block), hex or base64, as the library reads it
  } catch (e) {
    throw certError('ERR_CSR_INVALID', `certificate signing request cannot be parsed: ${(e as Error).message}`);
  }
  try {
    // DER all the way down before the library, which reads BER leniently, sees it (csr-der.ts)
    assertCsrDer(der);
  } catch (e) {
    throw certError('ERR_CSR_INVALID', `certificate signing request is not DER-encoded: ${(e as Error).message}`);
  }
  let csr: x509.Pkcs10CertificateRequest;
  try {
    csr = new x509.Pkcs10CertificateRequest(der);
  } catch (e) {
    throw certError('ERR_CSR_INVALID', `certificate signing request cannot be parsed: ${(e as Error).message}`);
  }
  const spki = new Uint8Array(csr.publicKey.rawData);
  const problem = keyPolicyProblem(spki);
  if (problem !== null) throw certError('ERR_CSR_KEY_UNSUPPORTED', `the certificate signing request carries ${problem}`);
  const cns = csr.subjectName.getField('CN');
  if (cns.length > 1) throw certError('ERR_CSR_SUBJECT_INVALID', `the subject holds ${cns.length} CNs (${cns.map((c) => JSON.stringify(c)).join(', ')}); exactly one, the node id, is accepted`);
  // the self-signature's digest: SHA-256 or stronger (a SHA-1 request is refused before it is verified)
  const hash = (csr.signatureAlgorithm as { hash?: { name?: unknown } }).hash?.name;
  if (typeof hash !== 'string' || !STRONG_HASHES.has(hash)) throw certError('ERR_CSR_INVALID', `the certificate signing request is signed with ${typeof hash === 'string' ? hash : 'an unknown digest'}; SHA-256, SHA-384 or SHA-512 is accepted (openssl req -sha256)`);
  let ok = false;
  try {
    ok = await csr.verify();
  } catch {
    ok = false;
  }
  if (!ok) throw certError('ERR_CSR_INVALID', 'the self-signature of the certificate signing request does not verify');
  return { cn: cns[0] ?? null, publicKeyPem: spkiDerToPem(spki), keyType: publicKeyDetails(spki)!.type === 'rsa' ? 'rsa' : 'ec-p256' };
}
