/**
 * `npm run build` (scripts/build.js) on a small project of its own: it compiles into dist.next/ and
 * swaps it in only when tsc succeeded. Before, it deleted dist/ first: a `credit` process running
 * from dist/ lost the modules it had not loaded yet, and a failed compile left no dist/ at all.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';

const root = fileURLToPath(new URL('../..', import.meta.url)).replace(/\/\.tap\/js\/?$/, '/').replace(/\/$/, '');
const buildScript = join(root, 'scripts', 'build.js');

t.test('a failed compile leaves dist/ as it was; a good one replaces it whole', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'build-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'tsconfig.build.json'), JSON.stringify({ compilerOptions: { target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, outDir: 'dist', rootDir: '.', skipLibCheck: true, types: [] }, include: ['src'] }));
  mkdirSync(join(dir, 'src'));
  for (const d of ['server/console/views', 'server/console/static', 'node/console/views', 'hub/console/views']) {
    mkdirSync(join(dir, d), { recursive: true });
    writeFileSync(join(dir, d, 'x.txt'), d);
  }
  const build = () => spawnSync(process.execPath, [buildScript], { cwd: dir, encoding: 'utf8' });

  writeFileSync(join(dir, 'src', 'a.ts'), 'export const a: number = 1;\n');
  const first = build();
  t.equal(first.status, 0, first.stderr);
  t.match(readFileSync(join(dir, 'dist', 'src', 'a.js'), 'utf8'), /a = 1/);
  t.ok(existsSync(join(dir, 'dist', 'hub', 'console', 'views', 'x.txt')), 'the consoles\' files are copied beside the modules');

  writeFileSync(join(dir, 'src', 'a.ts'), 'export const a: number = "not a number";\n');
  const failed = build();
  t.not(failed.status, 0, 'a compile error fails the build');
  t.match(failed.stderr, /ERR_BUILD_FAILED: tsc failed \(above\); dist\/ is unchanged/);
  t.match(readFileSync(join(dir, 'dist', 'src', 'a.js'), 'utf8'), /a = 1/, 'dist/ still holds the last good build');
  t.notOk(existsSync(join(dir, 'dist.next')), 'and nothing half-built is left');

  writeFileSync(join(dir, 'src', 'a.ts'), 'export const a: number = 2;\n');
  writeFileSync(join(dir, 'dist', 'stale.js'), 'left over\n');
  const second = build();
  t.equal(second.status, 0, second.stderr);
  t.match(readFileSync(join(dir, 'dist', 'src', 'a.js'), 'utf8'), /a = 2/);
  t.notOk(existsSync(join(dir, 'dist', 'stale.js')), 'the new dist/ is the new build only');
  t.notOk(existsSync(join(dir, 'dist.old')) || existsSync(join(dir, 'dist.next')), 'no dist.old or dist.next is left');
  t.end();
});
