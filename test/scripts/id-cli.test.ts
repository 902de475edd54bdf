import t from 'tap';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { main } from '../../scripts/cli.js';

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  return { io: { stdout: (s: string) => void out.push(s), stderr: (s: string) => void err.push(s) }, out, err };
}

const lines = (out: string[]) => out.join('').trimEnd().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);

t.test('credit id check: all valid → one JSON line each, exit 0', async (t) => {
  const c = capture();
  t.equal(await main(['id', 'check', '91350100M000100Y43', '11010519491231002X', '914403001922038216'], c.io), 0);
  t.same(lines(c.out), [
    { input: '91350100M000100Y43', valid: true, kind: 'uscc' },
    { input: '11010519491231002X', valid: true, kind: 'resident-id' },
    { input: '914403001922038216', valid: true, kind: 'uscc' },
  ]);
  t.equal(c.err.join(''), '');
});

t.test('credit id check: any invalid → exit 1, code on the invalid lines only', async (t) => {
  const c = capture();
  t.equal(await main(['id', 'check', '91350100M000100Y43', '91350100M000100Y44', '11010519491231002x', '12345'], c.io), 1);
  t.same(lines(c.out), [
    { input: '91350100M000100Y43', valid: true, kind: 'uscc' },
    { input: '91350100M000100Y44', valid: false, kind: 'uscc', code: 'ERR_INVALID_USCC' },
    { input: '11010519491231002x', valid: false, kind: 'resident-id', code: 'ERR_INVALID_RESIDENT_ID' },
    { input: '12345', valid: false, kind: 'unknown', code: 'ERR_UNKNOWN_IDENTIFIER' },
  ]);
});

t.test('credit id check without codes is ERR_USAGE, exit 2', async (t) => {
  const c = capture();
  t.equal(await main(['id', 'check'], c.io), 2);
  t.match(c.err.join(''), /^error ERR_USAGE: /);
  t.equal(c.out.join(''), '');
});

t.test('as a real process: node bin/credit.js id check', async (t) => {
  const bin = fileURLToPath(new URL('../../bin/credit.js', import.meta.url));
  const ok = spawnSync(process.execPath, [bin, 'id', 'check', '9144030071526726XG'], { encoding: 'utf8' });
  t.equal(ok.status, 0, ok.stderr);
  t.same(JSON.parse(ok.stdout), { input: '9144030071526726XG', valid: true, kind: 'uscc' });
  const bad = spawnSync(process.execPath, [bin, 'id', 'check', '9144030071526726XH'], { encoding: 'utf8' });
  t.equal(bad.status, 1);
  t.equal(JSON.parse(bad.stdout).code, 'ERR_INVALID_USCC');
});
