/**
 * The signature trailer of a credit report PDF (docs/credit-report.md, "PDF"):
 *
 *   P                                   the PDF as rendered, ending in "%%EOF\n"
 *   "%CREDIT-REPORT " T "\n"            T = canonical JSON { "pdf": JWS, "report": signed report document }
 *   "startxref\n" N "\n%%EOF\n"         N = the startxref value of P (readers find P's xref table)
 *
 * `pdf` is a detached JWS by the same key over the UTF-8 of the canonical JSON statement
 *   { "format": "credit-report-pdf/1", "pdfSha256": hex(SHA-256(P)), "reportNo": …, "reportSha256": hex digest of the body }
 * so the rendered bytes are bound to the signed body. Every byte of the file is covered: P by
 * pdfSha256, T by canonical re-encoding and both signatures, the last three lines by N = P's own.
 */
import { canonicalize } from './canonical-json.js';
import { certFromPem, jwsSignDetached, jwsVerifyDetached, privateKeyFromPem, sha256, type DetachedJws } from './crypto.js';
import { protocolError } from './errors.js';
import { canonicalB64url, openReport, reportJwsAlg, type OpenedReport } from './credit-report.js';
import type { TrustPolicy } from './trust.js';

export const REPORT_PDF_FORMAT = 'credit-report-pdf/1';
const MARK = '%CREDIT-REPORT ';

function malformed(message: string): never {
  throw protocolError('ERR_REPORT_MALFORMED', message);
}

/** The startxref value at the end of a PDF ("startxref\nN\n%%EOF\n"). */
function startXref(pdf: Buffer): string | undefined {
  const tail = pdf.subarray(Math.max(0, pdf.length - 64)).toString('latin1');
  return /startxref\n(\d+)\n%%EOF\n$/.exec(tail)?.[1];
}

function statement(pdf: Buffer, reportNo: string, reportSha256: string): Buffer {
  return Buffer.from(canonicalize({ format: REPORT_PDF_FORMAT, pdfSha256: sha256(pdf).toString('hex'), reportNo, reportSha256 }), 'utf8');
}

/** Appends the trailer to a rendered PDF; `reportText` is the signed report document (signReport). */
export async function sealReportPdf(pdf: Buffer, reportText: string, signer: { keyPem: string; certPem: string }): Promise<Buffer> {
  const n = startXref(pdf);
  if (n === undefined) throw protocolError('ERR_REPORT_MALFORMED', 'the rendered PDF does not end in startxref … %%EOF');
  const report = JSON.parse(reportText) as { body: { reportNo: string } };
  const digest = sha256(canonicalize(report.body)).toString('hex');
  const cert = certFromPem(signer.certPem);
  const jws = await jwsSignDetached(statement(pdf, report.body.reportNo, digest), privateKeyFromPem(signer.keyPem), { alg: reportJwsAlg(cert) });
  const trailer = `${MARK}${canonicalize({ pdf: jws, report })}\nstartxref\n${n}\n%%EOF\n`;
  return Buffer.concat([pdf, Buffer.from(trailer, 'utf8')]);
}

/** Checks a sealed PDF: the report inside (openReport), and that the PDF bytes are the ones signed. */
export async function openReportPdf(file: Buffer, trust: TrustPolicy): Promise<OpenedReport & { pdf: Buffer }> {
  const at = file.lastIndexOf(`\n${MARK}`, undefined, 'latin1');
  if (at < 0) malformed('no credit report signature trailer (%CREDIT-REPORT …) in this PDF');
  const pdf = file.subarray(0, at + 1);
  const rest = file.subarray(at + 1);
  const eol = rest.indexOf(0x0a);
  const tail = rest.subarray(eol + 1).toString('latin1');
  const n = startXref(pdf);
  if (eol < 0 || n === undefined || tail !== `startxref\n${n}\n%%EOF\n`) malformed('the trailer after the signature line must be exactly "startxref", the PDF\'s own xref offset and %%EOF');
  const jsonBytes = rest.subarray(MARK.length, eol);
  let t: unknown;
  try {
    t = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(jsonBytes));
  } catch (e) {
    malformed(`the signature trailer is not JSON: ${(e as Error).message}`);
  }
  if (typeof t !== 'object' || t === null || Object.keys(t).sort().join(',') !== 'pdf,report') malformed('the signature trailer holds exactly { pdf, report }');
  if (!Buffer.from(canonicalize(t), 'utf8').equals(jsonBytes)) malformed('the signature trailer is not canonical JSON: it was changed after signing');
  const { pdf: jws, report } = t as { pdf: DetachedJws; report: unknown };
  if (typeof jws !== 'object' || jws === null || Object.keys(jws).length !== 2 || !canonicalB64url(jws.protected) || !canonicalB64url(jws.signature)) malformed('pdf must be { protected, signature } in canonical base64url');
  const opened = await openReport(Buffer.from(canonicalize(report), 'utf8'), trust);
  const cert = certFromPem(opened.doc.certPem);
  const ok = await jwsVerifyDetached(jws, statement(pdf, opened.body.reportNo, opened.digest), cert.publicKey, reportJwsAlg(cert));
  if (!ok) throw protocolError('ERR_REPORT_PDF_MISMATCH', `the PDF of report ${opened.body.reportNo} is not the one ${opened.signerNodeId} signed: a byte of it was changed`, { reportNo: opened.body.reportNo });
  return { ...opened, pdf };
}
