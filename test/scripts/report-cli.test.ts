/**
 * `credit node report` against a running node (loopback): writes the PDF and the JSON, each
 * verified against the node's CA; `credit node report verify` passes on them, fails on a changed
 * byte, on another CA, on a signer the CRL revokes, and a node that cannot be reached is ERR_REPORT_UNREACHABLE.
 */
import t from 'tap';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { signCrl } from '../../certs/crl.js';
import { exampleRecord } from '../../protocol/catalog.js';
import { buildApp } from '../../node/app.js';
import { loadConfig } from '../../node/config.js';
import { mintServiceTokenFor } from '../../node/service-tokens.js';
import { main } from '../../scripts/cli.js';
import { makeCa } from '../helpers/pki.js';
import { enrolDir } from '../node/exchange-fixture.js';
import { pdfText } from '../node/report-fixture.js';

const root = mkdtempSync(join(tmpdir(), 'report-cli-'));
t.teardown(() => rmSync(root, { recursive: true, force: true }));
const savedDatabaseUrl = process.env.DATABASE_URL;
delete process.env.DATABASE_URL;
t.teardown(() => {
  if (savedDatabaseUrl !== undefined) process.env.DATABASE_URL = savedDatabaseUrl;
});

async function cli(...argv: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(argv, { stdout: (s) => void out.push(s), stderr: (s) => void err.push(s) });
  return { code, out: out.join(''), err: err.join('') };
}

t.test('credit node report', async (t) => {
  const dataDir = join(root, 'data');
  const ca = makeCa();
  const enrolled = enrolDir(dataDir, { ca });
  const caFile = join(root, 'ca.pem');
  writeFileSync(caFile, ca.certPem);
  const configFile = join(root, 'node.json');
  writeFileSync(configFile, JSON.stringify({ nodeId: '430100', dataDir, listen: { host: '127.0.0.1', port: 0 }, rateLimit: { enabled: false }, disclosureJob: { intervalMinutes: 0 }, logLevel: 'silent' }));
  const config = loadConfig(configFile);
  const app = await buildApp({ config });
  t.teardown(() => app.close());
  const url = await app.listen({ host: '127.0.0.1', port: 0 });
  const { token } = await mintServiceTokenFor(config, { user: 'clerk', role: 'query', clearance: 'shared', ttlSeconds: 600 });
  const { token: admin } = await mintServiceTokenFor(config, { user: 'loader', role: 'officer', clearance: 'internal', ttlSeconds: 600 });
  const cf = exampleRecord('CF');
  const code = cf.fields.uscc as string;
  const added = await app.inject({ method: 'POST', url: '/v1/records', headers: { authorization: `Bearer ${admin}` }, payload: [cf, { ...cf, classification: 'internal', fields: { ...cf.fields, decisionNo: '内部-1', content: '内部处罚不予显示' } }] });
  t.equal(added.statusCode, 201, added.body);

  const pdfFile = join(root, 'r.pdf');
  const got = await cli('node', 'report', '--config', configFile, '--code', code, '--out', pdfFile, '--token', token, '--url', url);
  t.equal(got.code, 0, got.err);
  t.match(got.out, /wrote .*r\.pdf; verified: report XY430100\d{8}[0-9A-F]{8} issued by node 430100 .* 1 record\(s\); 验证码 [0-9A-F]{4}-/);
  const text = pdfText(readFileSync(pdfFile));
  if (text !== undefined) {
    t.ok(text.includes(cf.fields.subjectName as string), 'the subject name is in the PDF');
    t.notOk(text.includes('内部处罚不予显示'), 'the internal record is not');
  }

  const ok = await cli('node', 'report', 'verify', pdfFile, '--ca', caFile);
  t.equal(ok.code, 0, ok.err);
  t.match(ok.out, /^verified: report XY430100/);

  const bytes = readFileSync(pdfFile);
  bytes[100] = bytes[100]! ^ 0x20;
  const changedFile = join(root, 'changed.pdf');
  writeFileSync(changedFile, bytes);
  const changed = await cli('node', 'report', 'verify', changedFile, '--ca', caFile);
  t.equal(changed.code, 1);
  t.match(changed.err, /ERR_REPORT_PDF_MISMATCH/);

  const otherCa = join(root, 'other-ca.pem');
  writeFileSync(otherCa, makeCa('Another CA').certPem);
  const wrong = await cli('node', 'report', 'verify', pdfFile, '--ca', otherCa);
  t.equal(wrong.code, 1);
  t.match(wrong.err, /ERR_CERT_UNTRUSTED/);

  const crlFile = join(root, 'crl.pem');
  const now = new Date();
  writeFileSync(crlFile, await signCrl({ caCertPem: ca.certPem, caKeyPem: ca.keyPem, thisUpdate: now, nextUpdate: new Date(now.getTime() + 86_400_000), entries: [{ serial: enrolled.enrolment.serial, revokedAt: now, reason: 'keyCompromise' }] }));
  const revoked = await cli('node', 'report', 'verify', pdfFile, '--ca', caFile, '--crl', crlFile);
  t.equal(revoked.code, 1);
  t.match(revoked.err, /ERR_CERT_REVOKED/, 'with the CRL, a revoked signer fails');

  const jsonFile = join(root, 'r.json');
  const json = await cli('node', 'report', '--config', configFile, '--code', code, '--out', jsonFile, '--token', token, '--url', url);
  t.equal(json.code, 0, json.err);
  t.equal(JSON.parse(readFileSync(jsonFile, 'utf8')).format, 'credit-report/1');
  t.equal((await cli('node', 'report', 'verify', jsonFile, '--ca', caFile)).code, 0);
  writeFileSync(jsonFile, readFileSync(jsonFile, 'utf8').replace('"reportNo":"XY', '"reportNo":"XZ'));
  const badJson = await cli('node', 'report', 'verify', jsonFile, '--ca', caFile);
  t.match(badJson.err, /ERR_REPORT_SIGNATURE/);

  const denied = await cli('node', 'report', '--config', configFile, '--code', code, '--out', pdfFile, '--token', 'x.y.z', '--url', url);
  t.equal(denied.code, 1);
  t.match(denied.err, /ERR_AUTH_INVALID/, "the node's error code is passed on");

  const down = await cli('node', 'report', '--config', configFile, '--code', code, '--out', pdfFile, '--token', token, '--url', 'http://127.0.0.1:1');
  t.equal(down.code, 1);
  t.match(down.err, /ERR_REPORT_UNREACHABLE/);

  const usage = await cli('node', 'report', '--config', configFile, '--code', code, '--out', join(root, 'r.txt'), '--token', token);
  t.equal(usage.code, 2);
  t.match(usage.err, /ERR_USAGE/);
});
