/** `credit demo --suite sm` (npm run demo -- --suite sm): the whole federation on the national suite and SM audit logs (sm3); its bundles verify with the SM2 root. */
import t from 'tap';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { credit } from '../../scripts/demo/processes.js';

const out = mkdtempSync(join(tmpdir(), 'cf-demo-sm-'));
t.teardown(() => rmSync(out, { recursive: true, force: true }));

t.test('the SM demo: every envelope CF1-SM2-SM4GCM-SM3, every audit log sm3, audit and exchange logs verify', async (t) => {
  const r = await credit(['demo', '--out', out, '--suite', 'sm'], { timeoutMs: 540_000 });
  t.equal(r.code, 0, r.stderr.slice(-2000));
  t.match(r.stdout, /demo finished: every step passed/);
  t.ok(existsSync(join(out, 'ca', 'sm2-ca.pem')), 'the SM2 root beside the RSA one');
  const summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')) as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
  for (const id of ['430000', '430100', '430700', '430181']) {
    t.match(summary.audit[id], /^OK .*\(SM3 hashes, SM2 signatures\)/, `audit log ${id} verified as a log on SM`);
    const bundle = join(out, 'audit', `${id}.ndjson`);
    t.match(readFileSync(bundle, 'utf8').split('\n')[0], /"hash":"sm3"/, `audit bundle ${id} declares sm3`);
    // offline, with the SM2 root alone: every checkpoint and cosignature is SM2
    const v = await credit(['audit', 'verify', bundle, '--ca', join(out, 'ca', 'sm2-ca.pem'), '--node', id, '--json'], { timeoutMs: 60_000 });
    t.equal(v.code, 0, v.stdout + v.stderr);
    t.match(JSON.parse(v.stdout), { ok: true, hash: 'sm3' });
  }
  for (const id of ['430000', '430100', '430181']) t.match(summary.exchange[id], /^OK exchange log/, `exchange log ${id} verified`);
  const hubLog = readFileSync(join(out, 'exchange', '430100.ndjson'), 'utf8');
  t.match(hubLog, /CF1-SM2-SM4GCM-SM3/, 'the exchange log holds SM envelopes');
  t.notMatch(hubLog, /CF1-RSA-OAEP-256-A256GCM-PS256/, 'and no RSA ones');
});
