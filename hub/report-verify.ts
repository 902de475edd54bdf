/**
 * The hub checks a credit report (信用报告) that a subject or a third party presents — a sealed PDF
 * or the signed JSON document of docs/credit-report.md — against the provincial CA and the hub's
 * own certificate register (no CRL needed: the register is the source of the CRL):
 *   - every check of protocol/credit-report.ts openReport / report-pdf-seal.ts openReportPdf
 *     (canonical bytes, JWS over the body, PDF bytes bound to the body, chain to the CA, validity
 *     at issuedAt, CN = issuing node);
 *   - the signer's certificate is in the register (ERR_CERT_UNTRUSTED otherwise) and was not
 *     revoked at the report's issuedAt (ERR_CERT_REVOKED). A certificate revoked for
 *     keyCompromise (or without a reason) fails whatever issuedAt says: a stolen key can write any
 *     issuedAt. A revocation after issuedAt for another reason (superseded by a renewal, the node
 *     closed) leaves the report valid, and the answer says so (`signer.revokedAt`);
 *   - issuedAt may not lie more than 5 minutes in the hub's future (ERR_REPORT_MALFORMED).
 * Pure of HTTP: the route (routes/report-verify.ts) and `credit hub report verify` call it.
 */
import { caTrust } from '../protocol/ca-trust.js';
import { openReport, type OpenedReport } from '../protocol/credit-report.js';
import { isCreditError, protocolError } from '../protocol/errors.js';
import { openReportPdf } from '../protocol/report-pdf-seal.js';
import type { SignerIdentity, TrustPolicy } from '../protocol/trust.js';
import { normaliseSerial } from '../certs/pki-crypto.js';
import type { Ca, IssuedCert } from '../certs/types.js';

/** How far in the hub's future a report's issuedAt may lie (clock skew between node and hub). */
export const REPORT_FUTURE_SKEW_MS = 5 * 60_000;

export interface ReportVerification {
  valid: boolean;
  checkedAt: string;
  /** 'pdf' (a sealed PDF) or 'json' (the signed document), when recognised. */
  format?: 'pdf' | 'json';
  /** valid: false — the stable code and why. */
  code?: string;
  message?: string;
  /** valid: true — what the report says, as signed. */
  reportNo?: string;
  issuedAt?: string;
  issuer?: { nodeId: string };
  subject?: { code: string; name: string | null };
  verificationCode?: string;
  entries?: number;
  signer?: { nodeId: string; serial: string; revokedAt: string | null; revocationReason: string | null };
}

/** A TrustPolicy over the CA certificate and the hub's register: revocation as of the time asked about. */
export function registerTrust(caCertPem: string, issued: readonly IssuedCert[], seen: { rec?: IssuedCert }): TrustPolicy {
  const chain = caTrust({ caCertPems: [caCertPem] });
  const bySerial = new Map(issued.map((r) => [normaliseSerial(r.serial), r]));
  return {
    verifySigner(certPem: string, at: Date): SignerIdentity {
      const id = chain.verifySigner(certPem, at);
      const rec = bySerial.get(normaliseSerial(id.serial));
      if (!rec) throw protocolError('ERR_CERT_UNTRUSTED', `certificate ${id.serial} of ${id.nodeId} is not in the hub's register of issued certificates`, { serial: id.serial });
      seen.rec = rec;
      if (rec.status === 'revoked') {
        const when = rec.revokedAt === undefined ? Number.NEGATIVE_INFINITY : Date.parse(rec.revokedAt);
        if (rec.reason === undefined || rec.reason === 'keyCompromise' || when <= at.getTime()) {
          throw protocolError('ERR_CERT_REVOKED', `certificate ${id.serial} of ${id.nodeId} was revoked${rec.revokedAt ? ` at ${rec.revokedAt}` : ''} (${rec.reason ?? 'no reason'}); the report says it was issued at ${at.toISOString()}`, { serial: id.serial, revokedAt: rec.revokedAt ?? null, reason: rec.reason ?? null });
        }
      }
      return id;
    },
  };
}

/** Checks presented report bytes; never throws for a bad report (valid: false with its code). */
export async function verifyPresentedReport(ca: Ca, bytes: Buffer, now: Date): Promise<ReportVerification> {
  const checkedAt = now.toISOString();
  const format = bytes.subarray(0, 5).toString('latin1') === '%PDF-' ? 'pdf' : 'json';
  const seen: { rec?: IssuedCert } = {};
  try {
    const trust = registerTrust(ca.certPem, await ca.certs.listIssued(), seen);
    const opened: OpenedReport = format === 'pdf' ? await openReportPdf(bytes, trust) : await openReport(bytes, trust);
    if (Date.parse(opened.body.issuedAt) > now.getTime() + REPORT_FUTURE_SKEW_MS) {
      throw protocolError('ERR_REPORT_MALFORMED', `report ${opened.body.reportNo} says it was issued at ${opened.body.issuedAt}, after the hub's time ${checkedAt}`);
    }
    const rec = seen.rec!;
    const b = opened.body;
    return {
      valid: true, checkedAt, format, reportNo: b.reportNo, issuedAt: b.issuedAt,
      issuer: { nodeId: b.issuer.nodeId },
      subject: { code: b.subject.code, name: b.subject.name ?? null },
      verificationCode: opened.verificationCode,
      entries: b.sections.reduce((n, s) => n + s.entries.length, 0),
      signer: { nodeId: opened.signerNodeId, serial: rec.serial, revokedAt: rec.status === 'revoked' ? (rec.revokedAt ?? null) : null, revocationReason: rec.status === 'revoked' ? (rec.reason ?? null) : null },
    };
  } catch (e) {
    if (!isCreditError(e)) throw e;
    return { valid: false, checkedAt, format, code: e.code, message: e.message };
  }
}
