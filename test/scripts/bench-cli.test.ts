/**
 * `credit bench`: a tiny run (the raw crypto scenario, --quick, nothing written) and the shape of
 * what it prints: a table, then one JSON line last with every key of the issue #7 contract.
 * No timing is asserted: the figures only have to be numbers, or null where not measured.
 */
import t from 'tap';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { main } from '../../scripts/cli.js';
import { CONTRACT_KEYS, jsonLine, machine, withRatios, writeDoc } from '../../scripts/bench/report.js';

async function cli(...argv: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(argv, { stdout: (s) => void out.push(s), stderr: (s) => void err.push(s) });
  return { code, out: out.join(''), err: err.join('') };
}

const lastLine = (text: string) => text.trimEnd().split('\n').at(-1)!;

t.test('a quick raw-crypto run prints the table, then the JSON line last', async (t) => {
  const r = await cli('bench', '--quick', '--only', 'raw-crypto', '--no-write');
  t.equal(r.code, 0, r.err);
  t.match(r.out, /^\| figure \| value \| unit \| note \|\n/, 'the table comes first');
  const json = JSON.parse(lastLine(r.out)) as Record<string, number | null>;
  for (const k of CONTRACT_KEYS) t.ok(k in json, `${k} present`);
  for (const k of ['aes_gcm_mbps', 'sha256_mbps', 'sign_per_s']) t.ok(typeof json[k] === 'number' && json[k]! > 0, `${k} is a positive number`);
  for (const k of ['raw_insert_rps', 'naive_rps', 'import_lps', 'e2e_rps', 'e2e_vs_naive', 'query_p50_ms', 'query_vs_raw', 'naive_query_p50_ms', 'query_vs_naive']) t.equal(json[k], null, `${k} null: not run`);
  t.match(r.err, /bench: raw-crypto/);
  t.notMatch(r.err, /bench: import/, 'other scenarios did not run');
});

t.test('the e2e scenario runs a real hub and node (2,000 records) and reports the exchange figures', async (t) => {
  const { stdout } = await promisify(execFile)(process.execPath, ['bin/credit.js', 'bench', '--quick', '--only', 'e2e', '--no-write'], {
    env: { ...process.env, BENCH_EXCHANGE_RECORDS: '2000' },
    maxBuffer: 16 * 1024 * 1024,
  });
  const json = JSON.parse(lastLine(stdout)) as Record<string, number | null>;
  for (const k of CONTRACT_KEYS) t.ok(k in json, `${k} present`);
  for (const k of ['e2e_rps', 'query_p50_ms', 'query_p99_ms', 'query_vs_raw', 'naive_query_p50_ms', 'query_vs_naive']) t.ok(typeof json[k] === 'number' && json[k]! > 0, `${k} is a positive number`);
  t.ok(json.query_p99_ms! >= json.query_p50_ms!, 'p99 ≥ p50');
  const ratio = json.query_p50_ms! / json.naive_query_p50_ms!; // of the rounded figures, so equal to within the rounding
  t.ok(Math.abs(json.query_vs_naive! - ratio) <= 0.01 * ratio, `query_vs_naive ${json.query_vs_naive} is query p50 / naive query p50 (${ratio})`);
  t.equal(json.e2e_vs_naive, null, 'naive not run: no ratio');
});

t.test('an unknown scenario name is a usage error', async (t) => {
  const r = await cli('bench', '--only', 'raw-crypto,warp-drive', '--no-write');
  t.equal(r.code, 2);
  t.match(r.err, /^error ERR_USAGE: no scenario warp-drive \(known: raw-insert, /);
});

t.test('ratios to the raw baselines appear only when both figures were measured', async (t) => {
  const r = withRatios([
    { label: 'a', key: 'import_lps', value: 5000, unit: 'lines/s' },
    { label: 'b', key: 'raw_insert_rps', value: 20000, unit: 'rows/s' },
    { label: 'c', key: 'naive_rps', value: 10000, unit: 'records/s' },
  ]);
  const json = JSON.parse(jsonLine(r)) as Record<string, number | null>;
  t.equal(json.import_vs_insert, 0.25);
  t.equal(json.naive_vs_insert, 0.5);
  t.equal(json.e2e_vs_naive, null, 'no e2e figure, no ratio');
});

t.test('docs/benchmarks.md: the run goes between the markers, hand-written text around them stays', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'bench-doc-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'benchmarks.md');
  writeDoc(file, machine('SQLite'), 'npm run bench', '| first |');
  const fresh = readFileSync(file, 'utf8');
  t.match(fresh, /^# Benchmarks\n/);
  t.match(fresh, /Machine: .+ cores; Node v\d+.*store engine: SQLite; load average [\d.]+ when the run started\./);
  writeFileSync(file, fresh.replace('# Benchmarks\n', '# Benchmarks\n\nIntro by hand.\n') + '\n## History\n\nkept\n');
  writeDoc(file, machine('SQLite'), 'npm run bench -- --quick', '| second |');
  const doc = readFileSync(file, 'utf8');
  t.match(doc, /Intro by hand\./);
  t.match(doc, /## History\n\nkept/);
  t.match(doc, /\| second \|/);
  t.notMatch(doc, /\| first \|/);
  t.match(doc, /Last run: `npm run bench -- --quick`/);
});

t.test('a scenario that fails is reported as FAILED, the others still run, the JSON line is still last, exit 1', async (t) => {
  const env = { ...process.env, DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none' }; // nothing listens on port 1
  const r = await promisify(execFile)(process.execPath, ['bin/credit.js', 'bench', '--quick', '--only', 'raw-insert,raw-crypto', '--no-write'], { env }).then(
    () => ({ code: 0, stdout: '', stderr: '' }),
    (e: { code: number; stdout: string; stderr: string }) => e,
  );
  t.equal(r.code, 1);
  t.match(r.stderr, /bench: raw-insert FAILED: /);
  t.match(r.stdout, /\| \*raw-insert: FAILED\* \| — \|/);
  const json = JSON.parse(lastLine(r.stdout)) as Record<string, number | null>;
  t.equal(json.raw_insert_rps, null);
  t.ok(typeof json.sign_per_s === 'number' && json.sign_per_s > 0, 'raw-crypto ran after the failure');
});
