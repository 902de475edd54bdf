/**
 * The hub verifies a credit report a subject or third party presents (hub/report-verify.ts,
 * POST /v1/reports/verify, `credit hub report verify`): a good JSON and PDF pass; a changed byte,
 * another CA, a certificate missing from the register, one revoked before issuedAt, one revoked
 * for keyCompromise at any time, an expired one, an issuedAt in the hub's future and garbage each
 * fail with their exact code; a revocation after issuedAt for another reason leaves it valid and
 * says so.
 */
import t from 'tap';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initCaDir } from '../../certs/ca-dir.js';
import { createNodeKeys } from '../../certs/node-keys.js';
import type { Ca, IssuedCert } from '../../certs/types.js';
import { buildHub } from '../../hub/app.js';
import { loadHubConfig } from '../../hub/config.js';
import { verifyPresentedReport } from '../../hub/report-verify.js';
import { REPORT_FORMAT, signReport, type ReportBody } from '../../protocol/credit-report.js';
import { sealReportPdf } from '../../protocol/report-pdf-seal.js';
import { main } from '../../scripts/cli.js';
import { issue, makeCa, type TestIdentity } from '../helpers/pki.js';

const root = mkdtempSync(join(tmpdir(), 'report-verify-'));
t.teardown(() => rmSync(root, { recursive: true, force: true }));
const savedDatabaseUrl = process.env.DATABASE_URL;
delete process.env.DATABASE_URL;
t.teardown(() => {
  if (savedDatabaseUrl !== undefined) process.env.DATABASE_URL = savedDatabaseUrl;
});

function body(nodeId: string, issuedAt: string): ReportBody {
  return {
    format: REPORT_FORMAT, reportNo: `XY${nodeId}20261203ABCDEF01`, issuedAt, issuer: { nodeId }, requester: { role: 'query', clearance: 'public' },
    subject: { code: '9143010200000A1B4J', name: '长沙示例科技有限公司', category: '法人及非法人组织' },
    sections: [{ key: 'penalties', title: '行政处罚信息', entries: [{ id: 'r1', type: 'CF', typeName: '行政处罚', classification: 'public', rows: [{ label: '行政处罚决定书文号', value: '长市监处罚〔2026〕101号' }], marks: [] }] }],
    withheld: [],
  };
}

/** A tiny PDF ending as a renderer ends it (the seal needs only the startxref tail). */
const PDF = Buffer.from('%PDF-1.4\n1 0 obj<<>>endobj\nxref\n0 1\n0000000000 65535 f \ntrailer<<>>\nstartxref\n25\n%%EOF\n', 'latin1');

function fakeCa(certPem: string, issued: IssuedCert[]): Ca {
  return { certPem, keyPem: '', certs: { listIssued: async () => issued } as unknown as Ca['certs'], tokens: {} as Ca['tokens'] };
}
const rec = (id: TestIdentity, o: Partial<IssuedCert> = {}): IssuedCert => ({ nodeId: id.nodeId, serial: id.serial, notBefore: '2020-01-01T00:00:00Z', notAfter: '2099-01-01T00:00:00Z', status: 'active', issuedAt: '2026-01-01T00:00:00Z', ...o });

t.test('verifyPresentedReport: every outcome with its code', async (t) => {
  const ca = makeCa();
  const node = issue(ca, '430100');
  const now = new Date();
  const issuedAt = new Date(now.getTime() - 60_000).toISOString();
  const json = Buffer.from(await signReport(body('430100', issuedAt), node), 'utf8');
  const pdf = await sealReportPdf(PDF, json.toString('utf8'), node);
  const good = fakeCa(ca.certPem, [rec(node)]);

  const ok = await verifyPresentedReport(good, json, now);
  t.match(ok, { valid: true, format: 'json', reportNo: 'XY43010020261203ABCDEF01', issuer: { nodeId: '430100' }, subject: { name: '长沙示例科技有限公司' }, entries: 1, signer: { nodeId: '430100', serial: node.serial, revokedAt: null } });
  t.match(ok.verificationCode, /^[0-9A-F]{4}(-[0-9A-F]{4}){3}$/);
  t.match(await verifyPresentedReport(good, pdf, now), { valid: true, format: 'pdf', verificationCode: ok.verificationCode });

  const code = async (c: Ca, bytes: Buffer, at = now) => (await verifyPresentedReport(c, bytes, at)).code ?? 'valid';
  const flipped = Buffer.from(json);
  flipped[flipped.indexOf('101号')] = '2'.charCodeAt(0);
  t.equal(await code(good, flipped), 'ERR_REPORT_SIGNATURE', 'a changed byte of a value (still canonical JSON)');
  const pdfFlipped = Buffer.from(pdf);
  pdfFlipped[12] = pdfFlipped[12]! ^ 1;
  t.equal(await code(good, pdfFlipped), 'ERR_REPORT_PDF_MISMATCH', 'a changed byte of the rendered PDF');
  t.equal(await code(good, Buffer.concat([pdf, Buffer.from('x')])), 'ERR_REPORT_MALFORMED', 'a byte appended');
  t.equal(await code(good, Buffer.from('not a report')), 'ERR_REPORT_MALFORMED', 'garbage');
  t.equal(await code(good, Buffer.alloc(5 * 1024 * 1024, 0x20)), 'ERR_REPORT_MALFORMED', 'oversized');

  const other = makeCa('Another CA');
  const stranger = issue(other, '430100');
  t.equal(await code(good, Buffer.from(await signReport(body('430100', issuedAt), stranger), 'utf8')), 'ERR_CERT_UNTRUSTED', 'signed under another CA');
  t.equal(await code(fakeCa(ca.certPem, []), json), 'ERR_CERT_UNTRUSTED', 'not in the register');

  const later = new Date(now.getTime() + 1000).toISOString();
  const before = new Date(now.getTime() - 120_000).toISOString();
  t.equal(await code(fakeCa(ca.certPem, [rec(node, { status: 'revoked', revokedAt: before, reason: 'cessationOfOperation' })]), json), 'ERR_CERT_REVOKED', 'revoked before issuedAt');
  t.equal(await code(fakeCa(ca.certPem, [rec(node, { status: 'revoked', revokedAt: later, reason: 'keyCompromise' })]), json), 'ERR_CERT_REVOKED', 'keyCompromise: revoked whatever issuedAt says');
  t.equal(await code(fakeCa(ca.certPem, [rec(node, { status: 'revoked', revokedAt: later })]), json), 'ERR_CERT_REVOKED', 'no reason recorded: as keyCompromise');
  const renewed = await verifyPresentedReport(fakeCa(ca.certPem, [rec(node, { status: 'revoked', revokedAt: later, reason: 'superseded' })]), json, now);
  t.match(renewed, { valid: true, signer: { revokedAt: later, revocationReason: 'superseded' } }, 'revoked after issuedAt (a renewal): still valid, and said');

  const future = Buffer.from(await signReport(body('430100', new Date(now.getTime() + 10 * 60_000).toISOString()), node), 'utf8');
  t.equal(await code(good, future), 'ERR_REPORT_MALFORMED', 'issued in the hub\'s future');
  const old = issue(ca, '430100', { notBefore: new Date('2025-01-01T00:00:00Z'), notAfter: new Date('2025-06-01T00:00:00Z') });
  t.equal(await code(fakeCa(ca.certPem, [rec(old)]), Buffer.from(await signReport(body('430100', '2025-07-01T00:00:00Z'), old), 'utf8')), 'ERR_CERT_EXPIRED', 'the certificate expired before issuedAt');
});

async function cli(...argv: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(argv, { stdout: (s) => void out.push(s), stderr: (s) => void err.push(s) });
  return { code, out: out.join(''), err: err.join('') };
}

t.test('POST /v1/reports/verify and credit hub report verify', async (t) => {
  const dir = join(root, 'hub');
  await initCaDir(join(dir, 'ca'), { cn: 'Test Provincial Credit CA (verify)' });
  const configFile = join(dir, 'hub.json');
  writeFileSync(configFile, JSON.stringify({ dataDir: 'data', caDir: 'ca', listen: { host: '127.0.0.1', port: 0 }, logLevel: 'silent', rateLimit: { enabled: false } }));
  let app = await buildHub({ config: loadHubConfig(configFile) });
  await app.close();
  const tok = await cli('hub', 'token', '--config', configFile, '--node', '430100', '--grade', '2');
  t.equal(tok.code, 0, tok.err);
  app = await buildHub({ config: loadHubConfig(configFile) });
  t.teardown(() => app.close());
  const keys = createNodeKeys('430100');
  const enrolled = await app.inject({ method: 'POST', url: '/v1/enroll', payload: { token: tok.out.trim(), csrPem: keys.csrPem } });
  t.equal(enrolled.statusCode, 200, enrolled.body);
  const signer = { keyPem: keys.keyPem, certPem: (enrolled.json() as { certPem: string }).certPem };
  const json = await signReport(body('430100', new Date(Date.now() - 1000).toISOString()), signer);
  const pdf = await sealReportPdf(PDF, json, signer);

  const post = (payload: Buffer | string, type: string) => app.inject({ method: 'POST', url: '/v1/reports/verify', headers: { 'content-type': type }, payload });
  const r1 = await post(json, 'application/json');
  t.equal(r1.statusCode, 200, r1.body);
  t.match(r1.json(), { valid: true, format: 'json', issuer: { nodeId: '430100' }, signer: { revokedAt: null } });
  t.match((await post(pdf, 'application/pdf')).json(), { valid: true, format: 'pdf' });
  t.match((await post(pdf, 'application/octet-stream')).json(), { valid: true, format: 'pdf' });
  t.match((await post(json.replace('101号', '102号'), 'application/json')).json(), { valid: false, code: 'ERR_REPORT_SIGNATURE' }, 'a changed value');
  t.match((await post(`${json} `, 'application/json')).json(), { valid: false, code: 'ERR_REPORT_MALFORMED' }, 'one byte more');
  t.equal((await post(json, 'text/plain')).statusCode, 415);
  await app.close();

  const pdfFile = join(dir, 'r.pdf');
  writeFileSync(pdfFile, pdf);
  const ok = await cli('hub', 'report', 'verify', pdfFile, '--config', configFile);
  t.equal(ok.code, 0, ok.err);
  t.match(ok.out, /^verified: report XY43010020261203ABCDEF01 issued by node 430100 .* 1 record\(s\); 验证码 [0-9A-F]{4}-/);
  const bad = Buffer.from(pdf);
  bad[12] = bad[12]! ^ 1;
  writeFileSync(pdfFile, bad);
  const failed = await cli('hub', 'report', 'verify', pdfFile, '--config', configFile);
  t.not(failed.code, 0);
  t.match(failed.err, /ERR_REPORT_PDF_MISMATCH/);

  const rv = await cli('hub', 'revoke', '--config', configFile, '--node', '430100', '--reason', 'keyCompromise');
  t.equal(rv.code, 0, rv.err);
  writeFileSync(pdfFile, pdf);
  const revoked = await cli('hub', 'report', 'verify', pdfFile, '--config', configFile, '--json');
  t.not(revoked.code, 0);
  t.match(JSON.parse(revoked.out), { valid: false, code: 'ERR_CERT_REVOKED' });
  t.match(revoked.err, /ERR_CERT_REVOKED/);
});
