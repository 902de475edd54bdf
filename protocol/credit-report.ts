/**
 * The credit report (信用报告, docs/credit-report.md): its body, laid out after
 * 《公共信用信息报告标准(2021年版)》, and the signed JSON document
 *
 *   { "format": "credit-report/1", "body": ReportBody,
 *     "signature": { "protected": B64URL, "signature": B64URL }, "certPem": PEM }
 *
 * written as RFC 8785 canonical JSON. `signature` is a JWS with detached content over the UTF-8
 * of the canonical JSON of `body`, made with the issuing node's key; `certPem` is that node's
 * certificate (CN = body.issuer.nodeId), chaining to the provincial CA. Pure apart from crypto.
 */
import { canonicalize } from './canonical-json.js';
import { certFromPem, jwsSignDetached, jwsVerifyDetached, keyMatchesCert, privateKeyFromPem, sha256, type DetachedJws, type ParsedCert } from './crypto.js';
import { protocolError } from './errors.js';
import { SM_JWS_ALG } from './sm-jose.js';
import type { TrustPolicy } from './trust.js';

export const REPORT_FORMAT = 'credit-report/1';
/** At most this many bytes of a report document are read. */
export const REPORT_MAX_BYTES = 4 * 1024 * 1024;

export type ReportSectionKey = 'licences' | 'penalties' | 'incentives' | 'dishonesty' | 'commitments' | 'other';

/** The standard's chapters and the catalog types each takes (docs/credit-report.md). */
export const REPORT_SECTIONS: readonly { key: ReportSectionKey; title: string; types: readonly string[] }[] = [
  { key: 'licences', title: '行政许可信息', types: ['XK'] },
  { key: 'penalties', title: '行政处罚信息', types: ['CF'] },
  { key: 'incentives', title: '守信激励信息', types: ['SXJL', 'NSXY_A'] },
  { key: 'dishonesty', title: '失信信息', types: ['YZSX', 'SXBZX'] },
  { key: 'commitments', title: '信用承诺信息', types: [] },
  { key: 'other', title: '其他信息', types: [] },
];

export interface ReportEntry {
  id: string;
  type: string;
  typeName: string;
  classification: string;
  /** The record's catalog fields with a value, in catalog order (masked as the API masks them), subject fields left out. */
  rows: { label: string; value: string }[];
  /** 异议中 (an objection is open), 可申请信用修复（自 …） … */
  marks: string[];
  disclosureEnd?: string;
}

export interface ReportBody {
  format: typeof REPORT_FORMAT;
  reportNo: string;
  issuedAt: string;
  issuer: { nodeId: string };
  requester: { role: string; clearance: string; purpose?: string };
  subject: { code: string; name: string | null; category: string | null };
  sections: { key: ReportSectionKey; title: string; entries: ReportEntry[] }[];
  /** Records the requester may not see: only their count per class (no content). */
  withheld: { classification: string; count: number }[];
}

export interface SignedReport {
  format: typeof REPORT_FORMAT;
  body: ReportBody;
  signature: DetachedJws;
  certPem: string;
}

export interface OpenedReport {
  body: ReportBody;
  /** SHA-256 of the canonical body, lower-case hex. */
  digest: string;
  /** The short code printed on every page of the PDF (docs/credit-report.md). */
  verificationCode: string;
  signerNodeId: string;
}

const SIG_B64 = /^[A-Za-z0-9_-]+$/;

export function reportDigest(body: ReportBody): string {
  return sha256(canonicalize(body)).toString('hex');
}

/** 验证码: the first 16 hex digits of the body digest, upper case, in four groups of four. */
export function verificationCodeOf(digestHex: string): string {
  return digestHex.slice(0, 16).toUpperCase().match(/.{4}/g)!.join('-');
}

/** The section a catalog type belongs to ('other' for province types). */
export function sectionOf(type: string): ReportSectionKey {
  return REPORT_SECTIONS.find((s) => s.types.includes(type))?.key ?? 'other';
}

export function reportJwsAlg(cert: ParsedCert): string {
  if (cert.keyKind === 'rsa') return 'PS256';
  if (cert.keyKind === 'ec-p256') return 'ES256';
  if (cert.keyKind === 'sm2') return SM_JWS_ALG;
  throw protocolError('ERR_REPORT_SIGNATURE', 'the signer certificate holds no RSA, EC P-256 or SM2 key');
}

/** True when `s` is base64url exactly as it re-encodes (no ignored trailing bits): one changed character always changes the bytes. */
export function canonicalB64url(s: unknown): s is string {
  return typeof s === 'string' && SIG_B64.test(s) && Buffer.from(s, 'base64url').toString('base64url') === s;
}

/** The canonical JSON text of the signed document. */
export async function signReport(body: ReportBody, signer: { keyPem: string; certPem: string }): Promise<string> {
  const cert = certFromPem(signer.certPem);
  if (!keyMatchesCert(signer.keyPem, cert)) throw protocolError('ERR_REPORT_SIGNATURE', 'the signing key does not belong to the signer certificate');
  if (cert.cn !== body.issuer.nodeId) throw protocolError('ERR_REPORT_SIGNATURE', `the signer certificate is for ${String(cert.cn)}, the report is issued by ${body.issuer.nodeId}`);
  const signature = await jwsSignDetached(Buffer.from(canonicalize(body), 'utf8'), privateKeyFromPem(signer.keyPem), { alg: reportJwsAlg(cert) });
  const doc: SignedReport = { format: REPORT_FORMAT, body, signature, certPem: cert.pem };
  return canonicalize(doc);
}

function malformed(message: string): never {
  throw protocolError('ERR_REPORT_MALFORMED', message);
}

function assertBody(b: unknown): ReportBody {
  if (typeof b !== 'object' || b === null || Array.isArray(b)) malformed('body is not an object');
  const o = b as Record<string, unknown>;
  if (o.format !== REPORT_FORMAT) malformed(`body.format must be ${REPORT_FORMAT}`);
  if (typeof o.reportNo !== 'string' || typeof o.issuedAt !== 'string' || Number.isNaN(Date.parse(o.issuedAt))) malformed('body needs reportNo and an issuedAt time');
  const issuer = o.issuer as Record<string, unknown> | null;
  if (typeof issuer !== 'object' || issuer === null || typeof issuer.nodeId !== 'string') malformed('body.issuer.nodeId is missing');
  if (!Array.isArray(o.sections) || typeof o.subject !== 'object' || o.subject === null) malformed('body needs subject and sections');
  return b as ReportBody;
}

/**
 * Checks a signed report document given as its exact bytes: canonical JSON (any other spelling
 * of the same values is refused, so a changed byte never passes), the signer chains to the CA and
 * is valid at issuedAt, it is the issuer, and the signature verifies over the body.
 */
export async function openReport(bytes: Uint8Array, trust: TrustPolicy): Promise<OpenedReport & { doc: SignedReport }> {
  if (bytes.length > REPORT_MAX_BYTES) malformed(`the report is ${bytes.length} bytes; at most ${REPORT_MAX_BYTES} are read`);
  let doc: unknown;
  try {
    doc = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch (e) {
    malformed(`not a credit report: ${(e as Error).message}`);
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) malformed('not a credit report: not a JSON object');
  const d = doc as Record<string, unknown>;
  const keys = Object.keys(d).sort().join(',');
  if (keys !== 'body,certPem,format,signature' || d.format !== REPORT_FORMAT) malformed(`a credit report document has exactly format (${REPORT_FORMAT}), body, signature, certPem`);
  if (!Buffer.from(canonicalize(doc), 'utf8').equals(Buffer.from(bytes))) malformed('the report is not in canonical JSON (RFC 8785): it was changed after signing');
  const sig = d.signature as Record<string, unknown>;
  if (typeof sig !== 'object' || sig === null || Object.keys(sig).length !== 2 || !canonicalB64url(sig.protected) || !canonicalB64url(sig.signature)) {
    malformed('signature must be { protected, signature } in canonical base64url');
  }
  if (typeof d.certPem !== 'string') malformed('certPem must be a PEM certificate');
  const body = assertBody(d.body);
  const signer = trust.verifySigner(d.certPem, new Date(body.issuedAt));
  if (signer.nodeId !== body.issuer.nodeId) throw protocolError('ERR_REPORT_SIGNATURE', `the report names issuer ${body.issuer.nodeId} but is signed by ${signer.nodeId}`, { signer: signer.nodeId });
  const cert = certFromPem(d.certPem);
  const payload = canonicalize(body);
  const ok = await jwsVerifyDetached(sig as unknown as DetachedJws, Buffer.from(payload, 'utf8'), cert.publicKey, reportJwsAlg(cert));
  if (!ok) throw protocolError('ERR_REPORT_SIGNATURE', `the signature of report ${body.reportNo} does not verify with the certificate of ${signer.nodeId}`, { reportNo: body.reportNo });
  const digest = sha256(payload).toString('hex');
  return { body, digest, verificationCode: verificationCodeOf(digest), signerNodeId: signer.nodeId, doc: doc as SignedReport };
}
