/**
 * The package (issue 17 item 1, "done when"): `npm pack` builds dist/ and packs it; the tarball
 * installs into a temporary prefix; from a directory outside the checkout, the installed `credit`
 * answers --version and --help, makes a CA and checks a node. The installed package carries no
 * TypeScript sources and no tsx: bin/credit.js runs the compiled dist/.
 *
 * The dependencies come from the npm cache or registry as for any install. The one native module,
 * sqlite3, compiles for ~6 minutes on a 2-core machine when no prebuilt binary can be fetched; the
 * test installs with --ignore-scripts and gives the installed sqlite3 the binding this checkout
 * already compiled (same sqlite3 version, N-API: independent of the Node.js version).
 * `npm install -g ./credit-federation-*.tgz` without --ignore-scripts (README) compiles it.
 */
import t from 'tap';
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

// The checkout, also when this runs from npm test's compiled mirror (.tap/js, whose package.json is a symlink).
const repo = dirname(realpathSync(fileURLToPath(new URL('../../package.json', import.meta.url))));
const dir = mkdtempSync(join(tmpdir(), 'package-install-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

/** The environment without what `npm test`/tap put there (npm_* settings of the outer npm). */
function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!/^npm_/i.test(k) && !k.startsWith('TAP') && !k.startsWith('NODE_OPTIONS')) env[k] = v;
  return { ...env, ...extra };
}

function run(cmd: string, args: string[], o: { cwd: string; env?: NodeJS.ProcessEnv; timeoutMs?: number }): SpawnSyncReturns<string> {
  return spawnSync(cmd, args, { cwd: o.cwd, env: o.env ?? cleanEnv(), encoding: 'utf8', timeout: o.timeoutMs ?? 300_000 });
}

t.test('npm pack → npm install -g into a prefix → credit works from any directory', async (t) => {
  const packed = run('npm', ['pack', '--pack-destination', dir], { cwd: repo });
  t.equal(packed.status, 0, packed.status === 0 ? 'npm pack' : `npm pack: ${packed.stderr.slice(-2000)}`);
  const tarball = readdirSync(dir).find((f) => /^credit-federation-.*\.tgz$/.test(f));
  if (!tarball) return t.fail('no tarball');
  const listing = run('tar', ['tzf', join(dir, tarball)], { cwd: dir }).stdout.split('\n');
  t.ok(listing.includes('package/bin/credit.js') && listing.includes('package/dist/scripts/cli.js'), 'bin and the compiled CLI are packed');
  t.notOk(listing.some((f) => f.endsWith('.ts') && !f.endsWith('.d.ts')), 'no TypeScript sources');
  t.notOk(listing.some((f) => f.startsWith('package/test/')), 'no tests');

  const prefix = join(dir, 'prefix');
  const installed = run('npm', ['install', '-g', '--prefix', prefix, '--prefer-offline', '--ignore-scripts', '--no-audit', '--no-fund', join(dir, tarball)], { cwd: dir, timeoutMs: 400_000 });
  t.equal(installed.status, 0, installed.status === 0 ? 'npm install -g' : `npm install -g: ${installed.stderr.slice(-2000)}`);
  const pkgDir = join(prefix, 'lib', 'node_modules', 'credit-federation');
  t.notOk(existsSync(join(pkgDir, 'node_modules', 'tsx')), 'tsx is not installed (a devDependency)');

  // sqlite3's compiled binding, instead of a 6-minute compile (see the header)
  const sqliteHere = dirname(createRequire(import.meta.url).resolve('sqlite3/package.json'));
  const binding = join('build', 'Release', 'node_sqlite3.node');
  mkdirSync(join(pkgDir, 'node_modules', 'sqlite3', 'build', 'Release'), { recursive: true });
  copyFileSync(join(sqliteHere, binding), join(pkgDir, 'node_modules', 'sqlite3', binding));

  const elsewhere = join(dir, 'srv');
  mkdirSync(elsewhere);
  const env = cleanEnv({ PATH: `${join(prefix, 'bin')}:${process.env.PATH ?? ''}` });
  const credit = (...args: string[]) => run('credit', args, { cwd: elsewhere, env, timeoutMs: 120_000 });

  const version = credit('--version');
  t.equal(version.status, 0, version.stderr);
  t.match(version.stdout, /^credit-federation \d+\.\d+\.\d+ \(Node\.js /);
  const help = credit('--help');
  t.equal(help.status, 0);
  t.match(help.stdout, /Usage: credit <command>/);
  t.match(credit('nod').stderr, /did you mean "credit node"\?/);

  const ca = credit('ca', 'init', '--dir', join(elsewhere, 'ca'));
  t.equal(ca.status, 0, ca.stderr);
  t.ok(existsSync(join(elsewhere, 'ca', 'ca.pem')), 'CA made');

  writeFileSync(join(elsewhere, 'node.json'), JSON.stringify({ nodeId: '430100', dataDir: './node-data', listen: { host: '127.0.0.1', port: 8480 } }));
  const migrated = credit('node', 'migrate', '--config', 'node.json');
  t.equal(migrated.status, 0, migrated.stderr);
  const check = credit('node', 'check', '--config', 'node.json');
  t.equal(check.status, 0, check.stdout + check.stderr);
  t.match(check.stdout, /^ok\s+store\s+.*node-data\/node\.sqlite: answers, schema up to date/m);
  t.match(check.stdout, /all checks passed/);

  // the bench runs compiled here (no sources, no tsx): the naive server it spawns is its compiled file
  const bench = credit('bench', '--quick', '--only', 'naive', '--no-write');
  t.equal(bench.status, 0, bench.stderr.slice(-2000));
  const figures = JSON.parse(bench.stdout.trim().split('\n').at(-1)!) as { naive_rps: unknown };
  t.type(figures.naive_rps, 'number', 'the naive exchange ran from the installed package');
});
