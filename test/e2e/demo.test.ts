/** `credit demo` (what `npm run demo` runs) passes on this machine and leaves what it promises. */
import t from 'tap';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { credit } from '../../scripts/demo/processes.js';

const out = mkdtempSync(join(tmpdir(), 'cf-demo-'));
t.teardown(() => rmSync(out, { recursive: true, force: true }));

t.test('the demo runs the federation and exits 0 with a summary', async (t) => {
  const r = await credit(['demo', '--out', out], { timeoutMs: 540_000 });
  t.equal(r.code, 0, r.stderr.slice(-2000));
  t.match(r.stdout, /demo finished: every step passed/);
  const summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')) as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
  t.same(summary.distribution.classes, ['public', 'shared'], '常德 (grade 2) got public and shared only');
  t.ok(summary.query.classes.includes('restricted'), '浏阳 (grade 3, with a purpose) got the restricted record');
  t.match(summary.objection, { filedAt: '430700', decidedAt: '430100', outcome: 'rejected' }, 'one cross-city objection, its result back at 常德');
  t.equal(summary.withdrawal.goneAtChangde, true);
  t.equal(summary.revocation.refusedWith, 'ERR_CERT_REVOKED');
  for (const id of ['430000', '430100', '430700', '430181']) {
    t.ok(existsSync(join(out, 'audit', `${id}.ndjson`)), `audit log ${id} exported`);
    t.match(summary.audit[id], /^OK /, `audit log ${id} verified`);
    t.match(summary.audit[id], new RegExp(`witnessed by ${id === '430000' ? 'the nodes' : 'the hub'} up to seq \\d+`), `audit log ${id} verified strictly: witnessed`);
    t.notMatch(summary.audit[id], /WARNING/, 'no unwitnessed tail in the bundle');
  }
  t.match(summary.audit['430100'], /cosignatures by the hub verified/, "the hub's cosignatures are reported");
  t.match(summary.audit['430000'], /cosignatures by the nodes verified/, "the nodes' cosignatures of the hub's log are reported");
  for (const id of ['430000', '430100', '430181']) {
    t.ok(existsSync(join(out, 'exchange', `${id}.ndjson`)), `exchange log ${id} exported`);
    t.match(summary.exchange[id], /^OK exchange log of \d+ .*paired/, `exchange log ${id} verified with the CRL`);
  }
  t.ok(existsSync(join(out, 'exchange', '430700.ndjson')), 'exchange log 430700 exported');
  t.match(summary.exchange['430700'], /FAILED as expected: \d+ problem\(s\) \((ERR_EXCHANGE_REVOKED_SIGNER|ERR_EXCHANGE_UNPAIRED)/, 'the revoked node fails only on what it signed after revocation');
  t.ok(existsSync(String(summary.evidence)), 'a batch evidence package was written (and verified)');
  for (const id of ['430100', '430700', '430181']) {
    t.match(summary.consoles.nodes[id], { url: /^https:\/\/127\.0\.0\.1:\d+$/ }, `node ${id}'s console URL in summary.json`);
    t.same(summary.consoles.nodes[id].accounts.map((a: { user: string; role: string }) => `${a.user}/${a.role}`), ['clerk/officer', 'auditor/auditor'], `node ${id}'s demo accounts`);
    t.match(summary.consoles.nodes[id].accounts[0], { password: /^Demo-/, totpSecret: /^[A-Z2-7]+$/ });
  }
  t.match(summary.consoles.hub, { url: /^https:\/\/127\.0\.0\.1:\d+$/ }, "the hub's console URL in summary.json");
  t.same(summary.consoles.hub.accounts.map((a: { user: string; role: string }) => `${a.user}/${a.role}`), ['operator/operator', 'auditor/auditor'], "the hub console's demo accounts");
  t.match(summary.consoles.hub.accounts[0], { password: /^Demo-430000-/, totpSecret: /^[A-Z2-7]+$/ });
  t.match(r.stdout, /console 430100 {2}https:\/\/127\.0\.0\.1:\d+/, 'the consoles are named in the printed summary');
  t.match(r.stdout, /console hub {5}https:\/\/127\.0\.0\.1:\d+/, "the hub's console too");
  t.ok(existsSync(join(out, 'ca', 'ca.pem')), 'the CA certificate is at DIR/ca/ca.pem');
  const quality = JSON.parse(readFileSync(join(out, 'quality.json'), 'utf8')) as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
  t.equal(quality.scope, 'province', 'DIR/quality.json: the province view');
  t.same(quality.nodes.map((n: { node: string }) => n.node), ['430100', '430181', '430700'], 'every node');
  t.ok(quality.totals.counters.submitted > 0, 'the items the hub received are counted');
  t.equal(quality.ranking.length, 14, 'every 市州 ranked');

  const report = String(summary.report.file);
  t.equal(report, join(out, `report-${report.slice(-22, -4)}.pdf`), 'DIR/report-<code>.pdf');
  t.match(report, /report-[0-9A-Z]{18}\.pdf$/);
  t.ok(existsSync(report), 'the credit report was written');
  const v = await credit(['node', 'report', 'verify', report, '--ca', String(summary.caCert)]);
  t.equal(v.code, 0, v.stderr);
  t.match(v.stdout, /^verified: report XY430100\d{8}[0-9A-F]{8} issued by node 430100 .*验证码 /);
});

t.test('the demo refuses a non-empty --out', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'cf-demo-full-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'something'), 'x');
  const r = await credit(['demo', '--out', dir]);
  t.equal(r.code, 2);
  t.match(r.stderr, /ERR_USAGE/);
});
