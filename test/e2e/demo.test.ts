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
  t.equal(summary.withdrawal.goneAtChangde, true);
  t.equal(summary.revocation.refusedWith, 'ERR_CERT_REVOKED');
  for (const id of ['430000', '430100', '430700', '430181']) {
    t.ok(existsSync(join(out, 'audit', `${id}.ndjson`)), `audit log ${id} exported`);
    t.match(summary.audit[id], /^OK /, `audit log ${id} verified`);
  }
  t.match(summary.audit['430100'], /cosignatures by the hub verified/, "the hub's cosignatures are reported");
  t.ok(existsSync(join(out, 'ca', 'ca.pem')), 'the CA certificate is at DIR/ca/ca.pem');
});

t.test('the demo refuses a non-empty --out', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'cf-demo-full-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'something'), 'x');
  const r = await credit(['demo', '--out', dir]);
  t.equal(r.code, 2);
  t.match(r.stderr, /ERR_USAGE/);
});
