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
import { mintServiceTokenFor } from '../../node/service-tokens.js';
import { writeCfCsv } from '../../scripts/bench/import.js';
import { exampleRecord } from '../../protocol/catalog.js';
import { writeNationalXlsx } from '../../scripts/bench/national-data.js';

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
const token = (await mintServiceTokenFor(config, { user: 'loader', role: 'submitter', clearance: 'public', ttlSeconds: 3600 })).token;
const file = join(dir, 'cf.csv');
await writeCfCsv(file, 2000, 100);

t.test('uploads a CSV, prints the summary and writes the rejected rows in the file\'s columns; the fixed file imports', async (t) => {
  const c = capture();
  const code = await main(['import', '--url', node.url, '--token', token, '--file', file, '--type', 'CF'], c.io);
  t.equal(code, 0, 'exit 0 even with rejected lines');
  const out = c.out.join('');
  t.match(out, /2000 lines: 1980 accepted, 0 corrected \(new versions\), 0 duplicates, 20 rejected/);
  const report = join(dir, 'cf.rejected.csv');
  t.match(out, `rejected lines written to ${report}`);
  const text = readFileSync(report, 'utf8');
  t.ok(text.startsWith('\uFEFF'), 'BOM: Excel opens it as UTF-8');
  const rows = text.trim().split('\r\n');
  t.equal(rows.length, 21, 'header + 20 rejected rows');
  t.match(rows[0], /,错误说明$/);
  t.match(rows[1], /第 101 行/);
  t.match(c.err.join(''), /import: sent .* MB \(100%\)/, 'progress on stderr (a line, not a TTY)');
  const again = capture();
  await main(['import', '--url', node.url, '--token', token, '--file', file, '--type', 'CF', '--report', join(dir, 'r2.ndjson')], again.io);
  t.match(again.out.join(''), /0 accepted, 0 corrected \(new versions\), 1980 duplicates, 20 rejected/, 'a second upload duplicates nothing');
  const nd = readFileSync(join(dir, 'r2.ndjson'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  t.equal(nd.length, 20, '--report chooses the file (and NDJSON by its name)');
  t.equal(nd[0].line, 101);
  // the clerk fixes the impossible dates in the rejected-rows file and imports that file again
  writeFileSync(report, text.replaceAll('2026-02-30', '2026-02-28'));
  const fixed = capture();
  t.equal(await main(['import', '--url', node.url, '--token', token, '--file', report, '--type', 'CF', '--report', join(dir, 'r3.xlsx')], fixed.io), 0);
  t.match(fixed.out.join(''), /20 lines: 5 accepted, 0 corrected \(new versions\), 0 duplicates, 15 rejected/, 'the 错误说明 column is ignored; the fixed rows are accepted');
  t.notMatch(fixed.out.join(''), /注意/, 'no warning about the 错误说明 column');
  t.ok(readFileSync(join(dir, 'r3.xlsx')).subarray(0, 2).equals(Buffer.from('PK')), '--report F.xlsx writes a workbook');
});

t.test('an XLSX workbook (also renamed .csv): --sheet, a MB/s progress line, the rejected rows as a workbook', async (t) => {
  const xlsx = join(dir, 'national.csv'); // a workbook under a .csv name: told by its bytes
  await writeNationalXlsx(xlsx, 200);
  const c = capture();
  t.equal(await main(['import', '--url', node.url, '--token', token, '--file', xlsx, '--type', 'CF', '--sheet', '行政处罚'], c.io), 0);
  t.match(c.out.join(''), /200 lines: \d+ accepted, 0 corrected \(new versions\), 0 duplicates, \d+ rejected/);
  t.match(c.err.join(''), /MB\/s/);
  t.ok(readFileSync(join(dir, 'national.rejected.xlsx')).subarray(0, 2).equals(Buffer.from('PK')), 'default report: a workbook beside the file');
  const wrong = capture();
  t.equal(await main(['import', '--url', node.url, '--token', token, '--file', xlsx, '--type', 'CF', '--sheet', '第二页'], wrong.io), 1);
  t.match(wrong.err.join(''), /ERR_IMPORT_FORMAT/);
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
    [['--url', node.url, '--token', (await mintServiceTokenFor(config, { user: 'q', role: 'query', clearance: 'public', ttlSeconds: 60 })).token, '--file', file, '--type', 'CF'], 1, /error ERR_ROLE_DENIED/],
    [['--url', 'http://127.0.0.1:1', '--token', token, '--file', file, '--type', 'CF'], 1, /error ERR_IMPORT_UNREACHABLE/],
    [['--url', node.url, '--token', token, '--file', join(dir, 'missing.csv'), '--type', 'CF'], 1, /error ERR_IMPORT_FILE_UNREADABLE/],
    [['--url', html, '--token', token, '--file', file, '--type', 'CF'], 1, /error ERR_IMPORT_BAD_RESPONSE: HTTP 502/],
    [['--url', node.url, '--token', token, '--file', file], 2, /ERR_USAGE.*--type/],
    [['--url', node.url, '--token', token, '--file', file, '--type', 'CF', '--format', 'xls'], 2, /ERR_USAGE.*--format/],
    [['--url', node.url, '--token', token, '--file', file, '--type', 'CF', '--encoding', 'latin1'], 2, /ERR_USAGE.*--encoding/],
  ];
  for (const [argv, exit, re] of cases) {
    const c = capture();
    t.equal(await main(['import', ...argv], c.io), exit, argv.join(' ').slice(0, 80));
    t.match(c.err.join(''), re);
  }
});

t.test('as a real process', async (t) => {
  // async: the node answering it runs in this process
  const r = await promisify(execFile)(process.execPath, ['bin/credit.js', 'import', '--url', node.url, '--token', token, '--file', file, '--type', 'CF', '--report', join(dir, 'r4.ndjson')], { encoding: 'utf8' });
  t.match(r.stderr, /import: sent/);
  t.match(r.stdout, /2000 lines: 0 accepted, 0 corrected \(new versions\), 1980 duplicates, 20 rejected/);
});
