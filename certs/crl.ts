/**
 * X.509 v2 CRLs (RFC 5280 §5), the one thing node-forge cannot make: built and parsed with
 * @peculiar/x509 over WebCrypto. The CA key is imported as RSASSA-PKCS1-v1_5 / SHA-256. The PEM is
 * labelled `X509 CRL`, as `openssl crl` and node:tls expect. SM2 CRLs (certs/sm2-x509.ts) are
 * read here too; their signature is checked with protocol/sm-crypto.ts.
 */
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { certFromPem } from '../protocol/crypto.js';
import { children, readSequence } from '../protocol/der.js';
import { SM2_DEFAULT_ID, sm2VerifySigned } from '../protocol/sm-crypto.js';
import { sm2PointOf } from '../protocol/sm-jose.js';
import { certError } from './errors.js';
import { normaliseSerial } from './pki-crypto.js';

x509.cryptoProvider.set(globalThis.crypto);

export const REVOCATION_REASONS = ['keyCompromise', 'superseded', 'cessationOfOperation'] as const;
export type RevocationReason = (typeof REVOCATION_REASONS)[number];

export function isRevocationReason(r: unknown): r is RevocationReason {
  return typeof r === 'string' && (REVOCATION_REASONS as readonly string[]).includes(r);
}

const REASON_CODE: Record<RevocationReason, x509.X509CrlReason> = {
  keyCompromise: x509.X509CrlReason.keyCompromise,
  superseded: x509.X509CrlReason.superseded,
  cessationOfOperation: x509.X509CrlReason.cessationOfOperation,
};

export interface CrlEntry {
  serial: string;
  revokedAt: Date;
  reason: RevocationReason;
}

export interface SignCrlOptions {
  caCertPem: string;
  caKeyPem: string;
  entries: readonly CrlEntry[];
  thisUpdate: Date;
  nextUpdate: Date;
}

const ALG = { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' } as const;

function pemBody(pem: string): Uint8Array {
  const m = /-----BEGIN [^-]+-----([\s\S]*?)-----END [^-]+-----/.exec(pem);
  if (!m) throw new Error('no PEM block');
  return new Uint8Array(Buffer.from(m[1]!.replace(/\s+/g, ''), 'base64'));
}

function toPem(der: ArrayBuffer, label: string): string {
  const b64 = Buffer.from(der).toString('base64').replace(/(.{64})/g, '$1\n').replace(/\n$/, '');
  return `-----BEGIN ${label}-----\n${b64}\n-----END ${label}-----\n`;
}

/** CRL number (2.5.29.20): the thisUpdate time in milliseconds, so later CRLs carry larger numbers. */
function crlNumberExtension(n: number): x509.Extension {
  let hex = n.toString(16);
  if (hex.length % 2) hex = `0${hex}`;
  if (parseInt(hex.slice(0, 2), 16) >= 0x80) hex = `00${hex}`;
  const content = Buffer.from(hex, 'hex');
  const der = Buffer.concat([Buffer.from([0x02, content.length]), content]);
  return new x509.Extension('2.5.29.20', false, new Uint8Array(der));
}

export async function signCrl(o: SignCrlOptions): Promise<string> {
  const caCert = new x509.X509Certificate(o.caCertPem);
  const signingKey = await globalThis.crypto.subtle.importKey('pkcs8', pemBody(o.caKeyPem), ALG, false, ['sign']);
  const crl = await x509.X509CrlGenerator.create({
    issuer: caCert.subjectName,
    thisUpdate: o.thisUpdate,
    nextUpdate: o.nextUpdate,
    signingAlgorithm: ALG,
    signingKey,
    extensions: [
      await x509.AuthorityKeyIdentifierExtension.create(caCert.publicKey, false),
      crlNumberExtension(o.thisUpdate.getTime()),
    ],
    entries: o.entries.map((e) => ({ serialNumber: e.serial, revocationDate: e.revokedAt, reason: REASON_CODE[e.reason] })),
  });
  return toPem(crl.rawData, 'X509 CRL');
}

export interface ParsedCrl {
  /** Revoked serials, normalised as X509Certificate.serialNumber prints them. */
  revoked: Set<string>;
  entries: { serial: string; revokedAt: Date; reason: string | undefined }[];
  thisUpdate: Date;
  nextUpdate: Date | undefined;
}

/** The CA's SM2 public point, when its key is SM2 (undefined for RSA/EC CAs). */
function sm2CaPoint(caCertPem: string): string | undefined {
  const ca = certFromPem(caCertPem);
  return ca.keyKind === 'sm2' ? sm2PointOf(ca.publicKey) : undefined;
}

/**
 * An SM2 CRL (WebCrypto cannot check SM2-with-SM3): the issuer is the CA's subject, byte for byte,
 * and the signature verifies with the standard ID 1234567812345678 (GM/T 0015), or with the empty ID
 * that `credit ca sm2-crl --openssl` uses because OpenSSL 3.0 checks SM2 CRLs only that way.
 */
function sm2CrlSignedBy(crlDer: Uint8Array, caDer: Uint8Array, caPoint: string): boolean {
  const crlTbs = children(children(readSequence(Buffer.from(crlDer), 'CertificateList'))[0]!);
  const caTbs = children(children(readSequence(Buffer.from(caDer), 'Certificate'))[0]!);
  const issuer = crlTbs[crlTbs[0]?.tag === 0x02 ? 2 : 1];
  const subject = caTbs[caTbs[0]?.tag === 0xa0 ? 5 : 4];
  if (issuer === undefined || subject === undefined || !issuer.raw.equals(subject.raw)) return false;
  return sm2VerifySigned(crlDer, caPoint, SM2_DEFAULT_ID) || sm2VerifySigned(crlDer, caPoint, '');
}

/** Reads a CRL; with `caCertPem`, also checks that the CA signed it (else ERR_CRL_INVALID). */
export async function parseCrl(pem: string, opts: { caCertPem?: string } = {}): Promise<ParsedCrl> {
  let crl: x509.X509Crl;
  try {
    crl = new x509.X509Crl(pemBody(pem));
  } catch (e) {
    throw certError('ERR_CRL_INVALID', `CRL cannot be read: ${(e as Error).message}`);
  }
  if (opts.caCertPem !== undefined) {
    let ok = false;
    try {
      const sm2Point = sm2CaPoint(opts.caCertPem);
      if (sm2Point !== undefined) ok = sm2CrlSignedBy(pemBody(pem), pemBody(opts.caCertPem), sm2Point);
      else {
        const ca = new x509.X509Certificate(opts.caCertPem);
        ok = crl.issuerName.toString() === ca.subjectName.toString() && (await crl.verify({ publicKey: ca.publicKey }));
      }
    } catch {
      ok = false;
    }
    if (!ok) throw certError('ERR_CRL_INVALID', 'CRL is not signed by this CA');
  }
  const entries = crl.entries.map((e) => ({
    serial: normaliseSerial(e.serialNumber),
    revokedAt: e.revocationDate,
    reason: e.reason === undefined ? undefined : x509.X509CrlReason[e.reason],
  }));
  return { revoked: new Set(entries.map((e) => e.serial)), entries, thisUpdate: crl.thisUpdate, nextUpdate: crl.nextUpdate };
}
