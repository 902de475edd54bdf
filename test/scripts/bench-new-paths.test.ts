/**
 * `credit bench`, the paths of issue 23 item 4 and issue 22: the exchange on the national suite
 * (e2e-sm), with the hub on PostgreSQL (e2e-pg) and through 1 and 2 hub processes (hubs-pg), each
 * run tiny; which PostgreSQL server those use; their keys in the JSON line. No figure's size is
 * asserted: only that the runs happen, on what they claim to run on, and report numbers.
 */
import t from 'tap';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { connect } from '../../audit/knex-connect.js';
import { benchPgUrl, pgUnavailable, urlWithSchema } from '../../scripts/bench/bench-pg.js';
import { cpuBounds, cpuLine } from '../../scripts/bench/hubs-pg.js';
import { cpuSeconds } from '../../scripts/bench/proc-cpu.js';
import { CONTRACT_KEYS, jsonLine, withRatios } from '../../scripts/bench/report.js';
import { PG_URL, pgProblem } from '../helpers/db.js';

const NEW_KEYS = ['import_xlsx_rps', 'import_xlsx_peak_rss_mb', 'quality_intake_rps', 'quality_report_month_s', 'quality_report_all_s', 'seal_open_sm_rps', 'e2e_sm_rps', 'e2e_sm_vs_rsa', 'e2e_pg_rps', 'query_pg_p50_ms', 'query_pg_p99_ms', 'hubs1_pg_rps', 'hubs2_pg_rps', 'hubs2_vs_1'];

// PostgreSQL down: skipped with the reason, except under CI (test/helpers/db.ts)
const pgDown = await pgProblem();
const pgSkip = pgDown !== null && process.env.CI !== 'true' ? `PostgreSQL unreachable (${pgDown})` : false;

const lastLine = (text: string) => text.trimEnd().split('\n').at(-1)!;

/** The bench as `npm run bench -- --quick --no-write ARGS` runs it, in a process of its own; never throws. */
async function bench(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number; stdout: string; stderr: string; json: Record<string, number | null> }> {
  const r = await promisify(execFile)(process.execPath, ['bin/credit.js', 'bench', '--quick', '--no-write', ...args], { env, maxBuffer: 16 * 1024 * 1024 }).then(
    (x) => ({ code: 0, stdout: x.stdout, stderr: x.stderr }),
    (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, stdout: e.stdout, stderr: e.stderr }),
  );
  return { ...r, json: JSON.parse(lastLine(r.stdout)) as Record<string, number | null> };
}

/** The environment without any PostgreSQL for the bench. */
function withoutPg(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env.BENCH_PG_URL;
  delete env.DATABASE_URL;
  return env;
}

t.test('which PostgreSQL the PostgreSQL scenarios use: BENCH_PG_URL, else a postgres:// DATABASE_URL, else none', async (t) => {
  t.equal(benchPgUrl({ BENCH_PG_URL: 'postgres://a/b', DATABASE_URL: 'postgres://c/d' }), 'postgres://a/b', 'BENCH_PG_URL first');
  t.equal(benchPgUrl({ DATABASE_URL: 'postgresql://c/d' }), 'postgresql://c/d', 'else DATABASE_URL when it is PostgreSQL');
  t.equal(benchPgUrl({ DATABASE_URL: '/tmp/x.sqlite' }), undefined, 'not a SQLite DATABASE_URL');
  t.equal(benchPgUrl({}), undefined);
  t.match(pgUnavailable({}), /^no PostgreSQL: set BENCH_PG_URL=postgres:\/\//);
  t.match(pgUnavailable({ BENCH_PG_URL: 'mysql://x/y' }), /BENCH_PG_URL is not a postgres:\/\/ URL/);
  t.equal(pgUnavailable({ BENCH_PG_URL: 'postgres://x/y' }), undefined);
});

t.test('the new keys are in every JSON line; their ratios appear when both figures were measured', async (t) => {
  for (const k of NEW_KEYS) t.ok((CONTRACT_KEYS as readonly string[]).includes(k), `${k} is a contract key`);
  const none = JSON.parse(jsonLine([])) as Record<string, unknown>;
  for (const k of NEW_KEYS) t.equal(none[k], null, `${k} null when not measured`);
  const json = JSON.parse(jsonLine(withRatios([
    { label: 'a', key: 'e2e_rps', value: 10_000, unit: 'records/s' },
    { label: 'b', key: 'e2e_sm_rps', value: 7_000, unit: 'records/s' },
    { label: 'c', key: 'hubs1_pg_rps', value: 4_000, unit: 'records/s' },
    { label: 'd', key: 'hubs2_pg_rps', value: 5_000, unit: 'records/s' },
  ]))) as Record<string, number | null>;
  t.equal(json.e2e_sm_vs_rsa, 0.7);
  t.equal(json.hubs2_vs_1, 1.25);
  const half = JSON.parse(jsonLine(withRatios([{ label: 'c', key: 'hubs1_pg_rps', value: 4_000, unit: 'records/s' }]))) as Record<string, number | null>;
  t.equal(half.hubs2_vs_1, null, 'no 2-hub figure, no ratio');
});

t.test('CPU time of a process from /proc: grows with the work it does; NaN for a process that is gone', async (t) => {
  const before = cpuSeconds(process.pid);
  t.ok(Number.isFinite(before) && before > 0, `this process has used ${before} s`);
  const u0 = process.cpuUsage();
  let x = 0;
  while (process.cpuUsage(u0).user < 300_000) x += Math.sqrt(x + 1); // 0.3 s of CPU, measured by the kernel, not a clock
  t.ok(x > 0);
  t.ok(cpuSeconds(process.pid) - before >= 0.2, 'at least 0.2 s more');
  t.ok(Number.isNaN(cpuSeconds(2 ** 22 + 1)), 'beyond pid_max: no such process');
});

t.test('the CPU bound of 2 hubs over 1: a second hub helps only while one hub, not the machine, is the limit', async (t) => {
  // per 1,000 records: hub 125 ms, nodes 104, PostgreSQL 91, bench 6 (326 in all)
  const run = { hubs: [0.125], nodes: 0.104, postgres: 0.091, bench: 0.006, wall: 10, records: 1000 };
  const two = cpuBounds(run, 2);
  t.equal(Math.round(two.oneHubRps), 8000, 'one hub process: 1 / 125 µs');
  t.equal(Math.round(two.machineRps), 6135, '2 cores / 326 µs');
  t.equal(two.twoHubsOverOne, 1, 'on 2 cores the machine is full before one hub is');
  t.equal(cpuBounds(run, 8).twoHubsOverOne, 2, 'on 8 cores two hubs can double it');
  t.equal(Math.round(cpuBounds(run, 4).twoHubsOverOne * 1000) / 1000, 1.534, 'on 4 cores: 12,270 / 8,000');
  t.match(cpuLine(run), /^CPU per 1,000 records: hubs 125 ms, nodes 104 ms, PostgreSQL backends 91 ms, bench process \(balancer\) 6 ms; cores used over 10\.0 s: hubs 0\.01, /);
  t.match(cpuLine({ ...run, wall: 0.4 }), /^CPU not measured/);
});

t.test('without PostgreSQL, e2e-pg and hubs-pg are skipped with the reason; their keys are null; exit 0', async (t) => {
  const r = await bench(['--only', 'e2e-pg,hubs-pg'], withoutPg());
  t.equal(r.code, 0, r.stderr);
  t.match(r.stderr, /bench: e2e-pg skipped: no PostgreSQL: set BENCH_PG_URL/);
  t.match(r.stderr, /bench: hubs-pg skipped: no PostgreSQL/);
  t.match(r.stdout, /\| \*hubs-pg: skipped\* \| — \|/);
  for (const k of ['e2e_pg_rps', 'query_pg_p50_ms', 'query_pg_p99_ms', 'hubs1_pg_rps', 'hubs2_pg_rps', 'hubs2_vs_1']) t.equal(r.json[k], null, `${k} null`);
});

t.test('e2e-sm: a real hub and node on the national suite (2,000 records) report e2e_sm_rps', async (t) => {
  const r = await bench(['--only', 'e2e-sm'], { ...withoutPg(), BENCH_EXCHANGE_RECORDS: '2000' });
  t.equal(r.code, 0, r.stderr.slice(-3000));
  // the scenario itself fails unless every batch and receipt the hub kept was CF1-SM2-SM4GCM-SM3
  t.match(r.stderr, /suites CF1-SM2-SM4GCM-SM3\n/);
  t.ok(typeof r.json.e2e_sm_rps === 'number' && r.json.e2e_sm_rps > 0, `e2e_sm_rps ${r.json.e2e_sm_rps}`);
  t.equal(r.json.e2e_sm_vs_rsa, null, 'e2e (RSA) not run: no ratio');
});

t.test('import-xlsx: 1,000 rows in the national layout through `credit import` report import_xlsx_rps and the peak RSS', async (t) => {
  const r = await bench(['--only', 'import-xlsx'], { ...withoutPg(), BENCH_XLSX_ROWS: '1000' });
  t.equal(r.code, 0, r.stderr.slice(-3000));
  t.notMatch(r.stderr, /import-xlsx FAILED/);
  t.ok(typeof r.json.import_xlsx_rps === 'number' && r.json.import_xlsx_rps > 0, `import_xlsx_rps ${r.json.import_xlsx_rps}`);
  t.ok(typeof r.json.import_xlsx_peak_rss_mb === 'number' && r.json.import_xlsx_peak_rss_mb > 0, `import_xlsx_peak_rss_mb ${r.json.import_xlsx_peak_rss_mb}`);
});

t.test('PostgreSQL: e2e-pg and hubs-pg run in throwaway schemas and report their keys', { skip: pgSkip }, async (t) => {
  const db = await connect(PG_URL, { poolMax: 1 });
  t.teardown(() => db.destroy());
  const r = await bench(['--only', 'e2e-pg,hubs-pg'], { ...withoutPg(), BENCH_PG_URL: PG_URL, BENCH_EXCHANGE_RECORDS: '2000', BENCH_HUBS_NODES: '2', BENCH_HUBS_RECORDS: '3000' });
  t.equal(r.code, 0, r.stderr.slice(-3000));
  for (const k of ['e2e_pg_rps', 'query_pg_p50_ms', 'query_pg_p99_ms', 'hubs1_pg_rps', 'hubs2_pg_rps', 'hubs2_vs_1']) t.ok(typeof r.json[k] === 'number' && r.json[k]! > 0, `${k} ${r.json[k]}`);
  t.ok(r.json.query_pg_p99_ms! >= r.json.query_pg_p50_ms!, 'p99 ≥ p50');
  t.equal(r.json.e2e_rps, null, 'the SQLite e2e did not run');
  t.match(r.stderr, /hub on PostgreSQL, schema bench_e2e_/);
  t.match(r.stderr, /hubs 2: .*batches per hub \d+ \/ \d+/);
  t.match(r.stderr, /hubs 1: (CPU per 1,000 records: hubs \d+ ms, nodes \d+ ms, PostgreSQL backends \d+ ms|CPU not measured \(the run was over)/);
  const pid = /schema bench_e2e_(\d+)_/.exec(r.stderr)?.[1];
  t.ok(pid, 'the bench process named its schema');
  const left = (await db.raw("select nspname from pg_namespace where nspname like ? or nspname like ?", [`bench\\_e2e\\_${pid}\\_%`, `sim\\_${pid}\\_%`])) as { rows: unknown[] };
  t.same(left.rows, [], 'the run\'s schemas are dropped');
});

t.test('urlWithSchema: a session opened with the URL works in the schema, under the application name', { skip: pgSkip }, async (t) => {
  const schema = `t_benchurl_${process.pid}`;
  const admin = await connect(PG_URL, { schema, poolMax: 1 });
  t.teardown(async () => {
    await admin.raw('DROP SCHEMA IF EXISTS ?? CASCADE', [schema]);
    await admin.destroy();
  });
  await admin.schema.createTable('probe', (tb) => tb.integer('x'));
  await admin('probe').insert({ x: 42 });
  const db = await connect(urlWithSchema(PG_URL, schema, `app_${process.pid}`), { poolMax: 1 });
  t.teardown(() => db.destroy());
  t.same(await db('probe').select('x'), [{ x: 42 }], 'an unqualified table name is the schema\'s');
  const names = ((await db.raw('select current_setting(\'application_name\') as a')) as { rows: { a: string }[] }).rows;
  t.equal(names[0]!.a, `app_${process.pid}`);
});
