/**
 * Issuing, enrolment and renewal. A node certificate comes from a CSR (csr.ts): an RSA 2048–4096,
 * e = 65537 key or an EC P-256 key (else ERR_CSR_KEY_UNSUPPORTED), one CN (ERR_CSR_SUBJECT_INVALID), a
 * self-signature that verifies (ERR_CSR_INVALID), and the CN must be a node id (ERR_INVALID_NODE_ID).
 * The certificate serves both mutual TLS and envelope signatures: EKU serverAuth + clientAuth,
 * keyUsage digitalSignature + keyEncipherment (RSA) or digitalSignature + keyAgreement (EC P-256),
 * CA:false, SKI/AKI, and SANs for the host names and IPs the node or hub answers on.
 */
import { isIP } from 'node:net';
import { caTrust } from '../protocol/ca-trust.js';
import { protocolError } from '../protocol/errors.js';
import { assertNodeId } from '../protocol/identifiers.js';
import { certError } from './errors.js';
import { parseCsr, type ParsedCsr } from './csr.js';
import { certInfo, normaliseSerial, publicKeyDer, randomSerial, signLeafCertificate } from './pki-crypto.js';
import { isRevokedAt, supersedeOthers } from './revoke.js';
import { checkEnrolmentToken, redeemEnrolmentToken } from './tokens.js';
import type { Ca, IssuedCert } from './types.js';

export const HUB_NODE_ID = '430000';
/** SANs every certificate carries, so loopback set-ups work without options. */
export const DEFAULT_HOSTS: readonly string[] = ['localhost', '127.0.0.1'];
export const DEFAULT_CERT_DAYS = 365;
/** notBefore is back-dated this much to tolerate clock skew between machines. */
const BACKDATE_MS = 5 * 60_000;
const DAY_MS = 86_400_000;
const DNS_NAME = /^(?=.{1,253}$)(\*\.)?([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

export interface IssueOptions {
  /** Validity in days from `now` (default 365); capped at the CA certificate's own notAfter. */
  days?: number;
  /** Extra SANs (DNS names or IP addresses) besides localhost and 127.0.0.1. */
  hosts?: readonly string[];
  now?: Date;
  /** Overrides (tests of expired or not-yet-valid certificates). */
  notBefore?: Date;
  notAfter?: Date;
  /** Protection grade recorded with the certificate (from an enrolment token). */
  grade?: number;
}

export interface IssuedCertificate {
  certPem: string;
  nodeId: string;
  serial: string;
  notBefore: Date;
  notAfter: Date;
}

/** The SAN list: defaults plus `hosts`, de-duplicated; ERR_HOST_INVALID for anything else. */
export function sanHosts(hosts: readonly string[] = []): string[] {
  for (const h of hosts) {
    if (!isIP(h) && !DNS_NAME.test(h)) throw certError('ERR_HOST_INVALID', `${JSON.stringify(h)} is neither a DNS name nor an IP address`, { host: h });
  }
  return [...new Set([...DEFAULT_HOSTS, ...hosts.map((h) => (isIP(h) ? h : h.toLowerCase()))])];
}

async function unusedSerial(ca: Ca): Promise<string> {
  const taken = new Set((await ca.certs.listIssued()).map((c) => c.serial));
  for (;;) {
    const s = randomSerial();
    if (!taken.has(s)) return s;
  }
}

/** Checks a CSR and signs a certificate for its node id; records it in the CA's register. */
export async function issueCertificate(ca: Ca, csrPem: string, opts: IssueOptions = {}): Promise<IssuedCertificate> {
  return issueFor(ca, await parseCsr(csrPem), opts);
}

async function issueFor(ca: Ca, csr: ParsedCsr, opts: IssueOptions): Promise<IssuedCertificate> {
  const nodeId = assertNodeId(csr.cn);
  const hosts = sanHosts(opts.hosts);
  const days = opts.days ?? DEFAULT_CERT_DAYS;
  if (!Number.isInteger(days) || days <= 0) throw new RangeError('certificate validity must be a positive whole number of days');
  const now = opts.now ?? new Date();
  const caNotAfter = certInfo(ca.certPem).notAfter;
  const notBefore = opts.notBefore ?? new Date(now.getTime() - BACKDATE_MS);
  let notAfter = opts.notAfter ?? new Date(now.getTime() + days * DAY_MS);
  if (notAfter > caNotAfter) notAfter = caNotAfter;
  if (notAfter <= notBefore) throw new RangeError('certificate notAfter must lie after notBefore');
  const serial = await unusedSerial(ca);
  const certPem = signLeafCertificate({ caCertPem: ca.certPem, caKeyPem: ca.keyPem, cn: nodeId, publicKeyPem: csr.publicKeyPem, serial, notBefore, notAfter, hosts });
  // the printed times are whole seconds (X.509 UTCTime): record what the certificate says
  const info = certInfo(certPem);
  const rec: IssuedCert = {
    nodeId,
    serial,
    notBefore: info.notBefore.toISOString(),
    notAfter: info.notAfter.toISOString(),
    status: 'active',
    issuedAt: now.toISOString(),
    ...(opts.grade === undefined ? {} : { grade: opts.grade }),
  };
  await ca.certs.addIssued(rec);
  return { certPem, nodeId, serial, notBefore: info.notBefore, notAfter: info.notAfter };
}

export interface EnrolOptions extends Pick<IssueOptions, 'days' | 'hosts' | 'now' | 'notAfter'> {
  token: string;
  csrPem: string;
}

/**
 * Enrolment: a one-time token + a CSR → a certificate for the CSR's node id, carrying the grade
 * the token was made for. The token is looked up first (shape, then hash), so nobody without a
 * live token makes the CA read a CSR; the CSR is checked before the token is marked used, so a
 * broken request does not burn it. Re-enrolment supersedes the node's earlier certificates at once.
 */
export async function enrol(ca: Ca, o: EnrolOptions): Promise<IssuedCertificate & { grade: number; superseded: string[] }> {
  const now = o.now ?? new Date();
  await checkEnrolmentToken(ca.tokens, o.token, now);
  const csr = await parseCsr(o.csrPem);
  const nodeId = assertNodeId(csr.cn);
  const { grade } = await redeemEnrolmentToken(ca.tokens, o.token, { nodeId, now });
  const cert = await issueFor(ca, csr, { days: o.days, hosts: o.hosts, now, grade, ...(o.notAfter ? { notAfter: o.notAfter } : {}) });
  const superseded = await supersedeOthers(ca, { nodeId, keep: cert.serial, at: now });
  return { ...cert, grade, superseded };
}

/** The CA renews a certificate only once less than this fraction of its lifetime is left. */
export const RENEWAL_WINDOW = 0.5;

export interface RenewOptions extends Pick<IssueOptions, 'days' | 'hosts' | 'now' | 'notAfter'> {
  /** The node's current certificate (the hub takes it from the mutual-TLS handshake). */
  currentCertPem: string;
  /** A CSR for the node's new key. */
  csrPem: string;
  /** Revoke the node's other certificates as `superseded` at once (default: see overlapMs). */
  supersede?: boolean;
  /** Revoke the node's other certificates as `superseded` this long after the renewal (default: let them run out). */
  overlapMs?: number;
  /** Refuse (ERR_RENEWAL_TOO_EARLY) unless less than this fraction of the current certificate's life is left. */
  window?: number;
  /** Called once every check has passed, just before the certificate is issued (the hub's per-node rate limit). */
  beforeIssue?: (nodeId: string) => Promise<void>;
}

/**
 * Renewal without a token: the current certificate must come from this CA and be in its register
 * (else ERR_CERT_UNTRUSTED), be valid now (ERR_CERT_EXPIRED) and not revoked (ERR_CERT_REVOKED);
 * with `window`, it must be inside its renewal window (ERR_RENEWAL_TOO_EARLY); the CSR must name
 * the same node id and a new key (ERR_RENEWAL_DENIED). The caller vouches that the requester holds
 * the current key (mutual TLS with that certificate, or a signed request). The node's other
 * certificates (the current one, and a successor whose answer may have been lost) are revoked as
 * `superseded`: after `overlapMs` so the node can switch without an outage, at once with
 * `supersede`, or not at all when neither is given.
 */
export async function renewCertificate(ca: Ca, o: RenewOptions): Promise<IssuedCertificate & { previousSerial: string }> {
  const now = o.now ?? new Date();
  const register = await ca.certs.listIssued();
  const revoked = new Set(register.filter((r) => isRevokedAt(r, now)).map((r) => r.serial));
  const current = caTrust({ caCertPems: [ca.certPem], isRevoked: (s) => revoked.has(normaliseSerial(s)) }).verifySigner(o.currentCertPem, now);
  const previous = register.find((r) => r.serial === normaliseSerial(current.serial));
  if (!previous) throw protocolError('ERR_CERT_UNTRUSTED', `certificate ${current.serial} is not in this CA's register`, { serial: current.serial });
  const info = certInfo(o.currentCertPem);
  if (o.window !== undefined) {
    const from = new Date(info.notAfter.getTime() - o.window * (info.notAfter.getTime() - info.notBefore.getTime()));
    if (now < from) throw certError('ERR_RENEWAL_TOO_EARLY', `certificate ${current.serial} may be renewed from ${from.toISOString()} (less than ${o.window * 100}% of its life left)`, { serial: current.serial, renewFrom: from.toISOString() });
  }
  const csr = await parseCsr(o.csrPem);
  if (csr.cn !== current.nodeId) {
    throw certError('ERR_RENEWAL_DENIED', `the new request is for ${JSON.stringify(csr.cn)}, the current certificate for ${current.nodeId}`, { nodeId: current.nodeId });
  }
  if (publicKeyDer(csr.publicKeyPem).equals(info.publicKeyDer)) {
    throw certError('ERR_RENEWAL_DENIED', 'renewal needs a new key: the request carries the current certificate\'s key', { nodeId: current.nodeId });
  }
  await o.beforeIssue?.(current.nodeId);
  const cert = await issueFor(ca, csr, { days: o.days, hosts: o.hosts, now, ...(o.notAfter ? { notAfter: o.notAfter } : {}), ...(previous.grade === undefined ? {} : { grade: previous.grade }) });
  if (o.supersede || o.overlapMs !== undefined) {
    await supersedeOthers(ca, { nodeId: current.nodeId, keep: cert.serial, at: o.supersede ? now : new Date(now.getTime() + (o.overlapMs ?? 0)) });
  }
  return { ...cert, previousSerial: previous.serial };
}
