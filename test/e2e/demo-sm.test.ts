/** `credit demo --suite sm` (npm run demo -- --suite sm): the whole federation on the national suite; its bundles verify. */
import t from 'tap';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { credit } from '../../scripts/demo/processes.js';

const out = mkdtempSync(join(tmpdir(), 'cf-demo-sm-'));
t.teardown(() => rmSync(out, { recursive: true, force: true }));

t.test('the SM demo: every envelope CF1-SM2-SM4GCM-SM3, audit and exchange logs verify', async (t) => {
  const r = await credit(['demo', '--out', out, '--suite', 'sm'], { timeoutMs: 540_000 });
  t.equal(r.code, 0, r.stderr.slice(-2000));
  t.match(r.stdout, /demo finished: every step passed/);
  t.ok(existsSync(join(out, 'ca', 'sm2-ca.pem')), 'the SM2 root beside the RSA one');
  const summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')) as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
  for (const id of ['430000', '430100', '430700', '430181']) t.match(summary.audit[id], /^OK /, `audit log ${id} verified`);
  for (const id of ['430000', '430100', '430181']) t.match(summary.exchange[id], /^OK exchange log/, `exchange log ${id} verified`);
  const hubLog = readFileSync(join(out, 'exchange', '430100.ndjson'), 'utf8');
  t.match(hubLog, /CF1-SM2-SM4GCM-SM3/, 'the exchange log holds SM envelopes');
  t.notMatch(hubLog, /CF1-RSA-OAEP-256-A256GCM-PS256/, 'and no RSA ones');
});
