import t from 'tap';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { main } from '../../scripts/cli.js';
import { buildConfig } from '../../node/config.js';
import { startNode } from '../../node/server.js';
import { issueToken } from '../../node/tokens.js';
import { writeCfCsv } from '../../scripts/bench/import.js';
import { exampleRecord } from '../../protocol/catalog.js';

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  return { io: { stdout: (s: string) => void out.push(s), stderr: (s: string) => void err.push(s) }, out, err };
}

const dir = mkdtempSync(join(tmpdir(), 'import-cli-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const config = buildConfig({ nodeId: '430100', dataDir: join(dir, 'data'), listen: { host: '127.0.0.1', port: 0 }, logLevel: 'silent' }, {});
const node = await startNode({ config });
t.teardown(() => node.close());
const token = await issueToken(config.jwtSecret, '430100', { user: 'loader', role: 'submitter', clearance: 'public', ttlSeconds: 3600 });
const file = join(dir, 'cf.csv');
await writeCfCsv(file, 2000, 100);

t.test('uploads a CSV, prints the summary and writes the rejected-lines report', async (t) => {
  const c = capture();
  const code = await main(['import', '--url', node.url, '--token', token, '--file', file, '--type', 'CF'], c.io);
  t.equal(code, 0, 'exit 0 even with rejected lines');
  const out = c.out.join('');
  t.match(out, /2000 lines: 1980 accepted, 0 duplicates, 20 rejected/);
  const report = join(dir, 'cf.rejected.ndjson');
  t.match(out, `rejected lines written to ${report}`);
  const lines = readFileSync(report, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  t.equal(lines.length, 20);
  t.equal(lines[0].line, 101);
  t.match(c.err.join(''), /import: sent .* MB \(100%\)/, 'progress on stderr (a line, not a TTY)');
  const again = capture();
  await main(['import', '--url', node.url, '--token', token, '--file', file, '--type', 'CF', '--report', join(dir, 'r2.ndjson')], again.io);
  t.match(again.out.join(''), /0 accepted, 1980 duplicates, 20 rejected/, 'a second upload duplicates nothing');
  t.ok(existsSync(join(dir, 'r2.ndjson')), '--report chooses the file');
});

t.test('NDJSON by file name, no type needed', async (t) => {
  const nd = join(dir, 'x.ndjson');
  writeFileSync(nd, JSON.stringify({ ...exampleRecord('XK') }) + '\n');
  const c = capture();
  t.equal(await main(['import', '--url', node.url, '--token', token, '--file', nd], c.io), 0);
  t.match(c.out.join(''), /1 lines: 1 accepted/);
  t.notOk(existsSync(join(dir, 'x.rejected.ndjson')), 'no report without rejected lines');
});

t.test('a line with more problems than the report lists: the CLI says how many were left out', async (t) => {
  const nd = join(dir, 'many.ndjson');
  const e = exampleRecord('CF');
  writeFileSync(nd, JSON.stringify({ ...e, fields: { ...e.fields, ...Object.fromEntries(Array.from({ length: 30 }, (_, i) => [`x${i}`, 1])) } }) + '\n');
  const c = capture();
  t.equal(await main(['import', '--url', node.url, '--token', token, '--file', nd], c.io), 0);
  t.match(c.out.join(''), /1 rejected/);
  t.match(c.out.join(''), /10 more problems on those lines were not listed/);
  const listed = JSON.parse(readFileSync(join(dir, 'many.rejected.ndjson'), 'utf8').trim());
  t.match(listed, { line: 1, problemsTruncated: 10 });
  t.equal(listed.errors.length, 20);
});

t.test('failures exit 1 with the code; usage errors exit 2', async (t) => {
  const proxy = createServer((req, res) => {
    req.resume();
    req.on('end', () => res.writeHead(502, { 'content-type': 'text/html' }).end('<html>bad gateway</html>'));
  });
  await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
  t.teardown(() => proxy.close());
  const html = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
  const cases: [string[], number, RegExp][] = [
    [['--url', node.url, '--token', 'nope', '--file', file, '--type', 'CF'], 1, /error ERR_AUTH_INVALID: .*HTTP 401/],
    [['--url', node.url, '--token', await issueToken(config.jwtSecret, '430100', { user: 'q', role: 'query', clearance: 'public', ttlSeconds: 60 }), '--file', file, '--type', 'CF'], 1, /error ERR_ROLE_DENIED/],
    [['--url', 'http://127.0.0.1:1', '--token', token, '--file', file, '--type', 'CF'], 1, /error ERR_IMPORT_UNREACHABLE/],
    [['--url', node.url, '--token', token, '--file', join(dir, 'missing.csv'), '--type', 'CF'], 1, /error ERR_IMPORT_FILE_UNREADABLE/],
    [['--url', html, '--token', token, '--file', file, '--type', 'CF'], 1, /error ERR_IMPORT_BAD_RESPONSE: HTTP 502/],
    [['--url', node.url, '--token', token, '--file', file], 2, /ERR_USAGE.*--type/],
    [['--url', node.url, '--token', token, '--file', file, '--type', 'CF', '--format', 'xls'], 2, /ERR_USAGE.*--format/],
  ];
  for (const [argv, exit, re] of cases) {
    const c = capture();
    t.equal(await main(['import', ...argv], c.io), exit, argv.join(' ').slice(0, 80));
    t.match(c.err.join(''), re);
  }
});

t.test('as a real process', async (t) => {
  // async: the node answering it runs in this process
  const r = await promisify(execFile)(process.execPath, ['bin/credit.js', 'import', '--url', node.url, '--token', token, '--file', file, '--type', 'CF', '--report', join(dir, 'r3.ndjson')], { encoding: 'utf8' });
  t.match(r.stderr, /import: sent/);
  t.match(r.stdout, /2000 lines: 0 accepted, 1980 duplicates, 20 rejected/);
});
