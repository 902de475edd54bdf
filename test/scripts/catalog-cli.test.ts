import t from 'tap';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { main } from '../../scripts/cli.js';
import { CATALOG_VERSION, listRecordTypes, validateRecord } from '../../protocol/catalog.js';

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  return { io: { stdout: (s: string) => void out.push(s), stderr: (s: string) => void err.push(s) }, out, err };
}

t.test('credit catalog list prints a table of every type', async (t) => {
  const c = capture();
  t.equal(await main(['catalog', 'list'], c.io), 0);
  const text = c.out.join('');
  t.match(text, `credit catalog ${CATALOG_VERSION}`);
  t.match(text, /^CF\s+行政处罚\s+public 社会公开\s+yes\s+minor 0–3m, ordinary 3–12m, serious 12–36m\s+decisionNo \+ sourceUscc$/m);
  t.match(text, /^SXBZX\s+失信被执行人\s+shared 部门共享\s+yes/m);
  t.match(text, /^YZSX\s+严重失信主体名单\s+public 社会公开\s+yes\s+serious 12–36m/m);
  t.match(text, /^NSXY_A\s+纳税信用A级\s+public 社会公开\s+no\s+—\s+evaluationYear \+ uscc \+ sourceUscc$/m);
});

t.test('credit catalog list --json', async (t) => {
  const c = capture();
  t.equal(await main(['catalog', 'list', '--json'], c.io), 0);
  const doc = JSON.parse(c.out.join('')) as { version: string; types: { code: string; classification: string; negative: boolean; severities: string[]; windows: Record<string, unknown>; fields: unknown[] }[] };
  t.equal(doc.version, CATALOG_VERSION);
  t.same(doc.types.map((x) => x.code), listRecordTypes().map((x) => x.code));
  const cf = doc.types.find((x) => x.code === 'CF')!;
  t.same(cf.windows, { minor: { minMonths: 0, maxMonths: 3 }, ordinary: { minMonths: 3, maxMonths: 12 }, serious: { minMonths: 12, maxMonths: 36 } });
  t.same(doc.types.find((x) => x.code === 'XK')!.severities, []);
  t.ok(cf.fields.length > 10, 'fields included');
});

t.test('credit catalog example TYPE passes validateRecord for every type', async (t) => {
  for (const type of listRecordTypes()) {
    const c = capture();
    t.equal(await main(['catalog', 'example', type.code], c.io), 0, type.code);
    const record = JSON.parse(c.out.join('')) as unknown;
    const r = validateRecord(record);
    t.ok(r.ok, `${type.code} example is valid`);
    t.same(Object.keys(record as object), ['type', 'fields'], `${type.code}: exactly the POST /v1/records shape`);
  }
});

t.test('credit catalog example with an unknown type is ERR_UNKNOWN_RECORD_TYPE, exit 1', async (t) => {
  const c = capture();
  t.equal(await main(['catalog', 'example', 'ZZ'], c.io), 1);
  t.match(c.err.join(''), /^error ERR_UNKNOWN_RECORD_TYPE: /);
  const none = capture();
  t.equal(await main(['catalog', 'example'], none.io), 2, 'no TYPE is a usage error');
  t.match(none.err.join(''), /ERR_USAGE/);
});

t.test('as a real process: node bin/credit.js catalog example CF', async (t) => {
  const bin = fileURLToPath(new URL('../../bin/credit.js', import.meta.url));
  const r = spawnSync(process.execPath, [bin, 'catalog', 'example', 'CF'], { encoding: 'utf8' });
  t.equal(r.status, 0, r.stderr);
  t.ok(validateRecord(JSON.parse(r.stdout)).ok);
  const bad = spawnSync(process.execPath, [bin, 'catalog', 'example', 'ZZ'], { encoding: 'utf8' });
  t.equal(bad.status, 1);
  t.match(bad.stderr, /ERR_UNKNOWN_RECORD_TYPE/);
});
