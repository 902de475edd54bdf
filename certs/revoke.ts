/** Revocation, the CA's CRL and the listing of issued certificates. */
import { assertNodeId } from '../protocol/identifiers.js';
import { isRevocationReason, signCrl, type RevocationReason } from './crl.js';
import { certError } from './errors.js';
import { normaliseSerial } from './pki-crypto.js';
import { buildSm2Crl, type Sm2Issuer } from './sm2-x509.js';
import type { Ca, IssuedCert } from './types.js';

const DAY = 86_400_000;

/**
 * True when the certificate is revoked at `now`. A renewal supersedes the previous certificate
 * with a revocation time in the future (after an overlap): until then it is still valid.
 */
export function isRevokedAt(rec: IssuedCert, now: Date): boolean {
  return rec.status === 'revoked' && (rec.revokedAt === undefined || Date.parse(rec.revokedAt) <= now.getTime());
}

/**
 * Revokes (reason `superseded`, at `at`) every certificate of `nodeId` except `keep` that is not
 * already revoked by then; a later scheduled revocation is brought forward. Returns the serials.
 */
export async function supersedeOthers(ca: Ca, o: { nodeId: string; keep: string; at: Date }): Promise<string[]> {
  const targets = (await ca.certs.listIssued()).filter((r) => r.nodeId === o.nodeId && r.serial !== o.keep && !isRevokedAt(r, o.at));
  for (const r of targets) await ca.certs.markRevoked(r.serial, o.at, 'superseded');
  return targets.map((r) => r.serial);
}

export type RevokeTarget = { serial: string; nodeId?: undefined } | { nodeId: string; serial?: undefined };

/**
 * Revokes one certificate by serial, or every active certificate of a node. Returns the serials
 * revoked now. ERR_CERT_NOT_FOUND for an unknown serial or a node with no active certificate.
 */
export async function revoke(ca: Ca, o: RevokeTarget & { reason: RevocationReason; now?: Date }): Promise<string[]> {
  if (!isRevocationReason(o.reason)) throw certError('ERR_REVOCATION_REASON', `unknown revocation reason ${JSON.stringify(o.reason)}`);
  const now = o.now ?? new Date();
  const all = await ca.certs.listIssued();
  let targets: IssuedCert[];
  if (o.serial !== undefined) {
    const serial = normaliseSerial(o.serial);
    const rec = all.find((r) => r.serial === serial);
    if (!rec) throw certError('ERR_CERT_NOT_FOUND', `no certificate with serial ${serial} was issued by this CA`);
    targets = isRevokedAt(rec, now) ? [] : [rec];
  } else {
    const nodeId = assertNodeId(o.nodeId);
    targets = all.filter((r) => r.nodeId === nodeId && !isRevokedAt(r, now));
    if (targets.length === 0) throw certError('ERR_CERT_NOT_FOUND', `node ${nodeId} has no active certificate`);
  }
  for (const r of targets) await ca.certs.markRevoked(r.serial, now, o.reason);
  return targets.map((r) => r.serial);
}

/**
 * The CA's X.509 v2 CRL (PEM, `X509 CRL`): every revoked certificate that has not yet expired,
 * with its revocation time and reason; nextUpdate = now + nextUpdateDays (default 7).
 */
export async function buildCrl(ca: Ca, o: { now?: Date; nextUpdateDays?: number } = {}): Promise<string> {
  const now = o.now ?? new Date();
  const days = o.nextUpdateDays ?? 7;
  if (!(days > 0)) throw new RangeError('nextUpdateDays must be positive');
  const entries = await crlEntries(ca, now);
  return signCrl({
    caCertPem: ca.certPem,
    caKeyPem: ca.keyPem,
    entries,
    thisUpdate: now,
    nextUpdate: new Date(now.getTime() + days * DAY),
  });
}

/** RFC 5280 §5.3.1 CRLReason codes of the reasons the CA records. */
const REASON_CODES: Record<RevocationReason, number> = { keyCompromise: 1, superseded: 4, cessationOfOperation: 5 };

/** Revoked, unexpired certificates of the register at `now`, as CRL entries (the RSA and the SM2 CRL list the same ones). */
async function crlEntries(ca: Ca, now: Date): Promise<{ serial: string; revokedAt: Date; reason: RevocationReason }[]> {
  return (await ca.certs.listIssued())
    .filter((r) => isRevokedAt(r, now) && Date.parse(r.notAfter) >= now.getTime())
    .map((r) => ({ serial: r.serial, revokedAt: wholeSecondAtOrAfter(new Date(r.revokedAt ?? now)), reason: r.reason ?? 'keyCompromise' }));
}

/**
 * The SM2 root's X.509 v2 CRL (PEM, `X509 CRL`) from the same register as buildCrl: signed
 * SM2-with-SM3 with the standard ID 1234567812345678 (GM/T 0015) by the SM2 root key, issuer =
 * the SM2 root's subject, cRLNumber = thisUpdate in milliseconds (as the RSA CRL), each entry with
 * its revocation time and reasonCode. The register does not record which root issued a
 * certificate, so every revoked serial of the register is listed (as in the RSA CRL); serials are
 * 128-bit random, so one root's serial never names another root's certificate. `openssl: true`
 * signs with the empty ID instead: OpenSSL 3.0 checks SM2 CRL signatures only with that one
 * (`openssl crl` has no distid option), for an operator who must show the CRL to OpenSSL.
 */
export async function buildSm2RegisterCrl(ca: Ca, issuer: Sm2Issuer, o: { now?: Date; nextUpdateDays?: number; openssl?: boolean } = {}): Promise<string> {
  const now = o.now ?? new Date();
  const days = o.nextUpdateDays ?? 7;
  if (!(days > 0)) throw new RangeError('nextUpdateDays must be positive');
  const entries = (await crlEntries(ca, now)).map((e) => ({ serialHex: e.serial, revokedAt: e.revokedAt, reasonCode: REASON_CODES[e.reason] }));
  return buildSm2Crl(issuer, entries, { number: BigInt(now.getTime()), now, nextUpdateDays: days, ...(o.openssl === true ? { userId: '' } : {}) });
}

/**
 * X.509 times carry whole seconds. A revocation at 10:00:00.400 is published as 10:00:01, never as
 * 10:00:00: the hub refused the certificate from the moment itself, so an envelope it accepted at
 * 10:00:00.300 must not look, to an auditor holding the CRL, as if it was signed after the revocation.
 */
function wholeSecondAtOrAfter(d: Date): Date {
  return new Date(Math.ceil(d.getTime() / 1000) * 1000);
}

export type ListedStatus = 'active' | 'revoked' | 'expired';
export interface ListedCert extends Omit<IssuedCert, 'status'> {
  status: ListedStatus;
}

/** Issued certificates in issue order; an active one past its notAfter is shown as expired. */
export async function listCertificates(ca: Ca, now = new Date()): Promise<ListedCert[]> {
  return (await ca.certs.listIssued()).map((r) => ({
    ...r,
    status: isRevokedAt(r, now) ? 'revoked' : Date.parse(r.notAfter) < now.getTime() ? 'expired' : 'active',
  }));
}

/** Serials of every certificate in the register revoked at `now`. */
export async function revokedSerials(ca: Ca, now = new Date()): Promise<Set<string>> {
  return new Set((await ca.certs.listIssued()).filter((r) => isRevokedAt(r, now)).map((r) => r.serial));
}
