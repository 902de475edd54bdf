/** Revocation, the CA's CRL and the listing of issued certificates. */
import { assertNodeId } from '../protocol/identifiers.js';
import { isRevocationReason, signCrl, type RevocationReason } from './crl.js';
import { certError } from './errors.js';
import { normaliseSerial } from './pki-crypto.js';
import type { Ca, IssuedCert } from './types.js';

const DAY = 86_400_000;

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
    targets = rec.status === 'active' ? [rec] : [];
  } else {
    const nodeId = assertNodeId(o.nodeId);
    targets = all.filter((r) => r.nodeId === nodeId && r.status === 'active');
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
  const entries = (await ca.certs.listIssued())
    .filter((r) => r.status === 'revoked' && Date.parse(r.notAfter) >= now.getTime())
    .map((r) => ({ serial: r.serial, revokedAt: new Date(r.revokedAt ?? now), reason: r.reason ?? 'keyCompromise' }));
  return signCrl({
    caCertPem: ca.certPem,
    caKeyPem: ca.keyPem,
    entries,
    thisUpdate: now,
    nextUpdate: new Date(now.getTime() + days * DAY),
  });
}

export type ListedStatus = 'active' | 'revoked' | 'expired';
export interface ListedCert extends Omit<IssuedCert, 'status'> {
  status: ListedStatus;
}

/** Issued certificates in issue order; an active one past its notAfter is shown as expired. */
export async function listCertificates(ca: Ca, now = new Date()): Promise<ListedCert[]> {
  return (await ca.certs.listIssued()).map((r) => ({
    ...r,
    status: r.status === 'active' && Date.parse(r.notAfter) < now.getTime() ? 'expired' : r.status,
  }));
}

/** Serials of every revoked certificate in the register. */
export async function revokedSerials(ca: Ca): Promise<Set<string>> {
  return new Set((await ca.certs.listIssued()).filter((r) => r.status === 'revoked').map((r) => r.serial));
}
