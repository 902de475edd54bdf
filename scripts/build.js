// `npm run build`: compiles into dist.next/ (tsc, then the consoles' templates and static files,
// which tsc does not copy: scripts/copy-console-files.js), and only then swaps it in for dist/.
// Before, the build deleted dist/ first, so a `credit` process running from it (a bench, a demo,
// an installed service) lost the modules it had not loaded yet for the length of the build, and a
// failed compile left no dist/ at all. Now a failed build leaves dist/ as it was, and the swap is
// two renames (dist → dist.old, dist.next → dist).
import { spawnSync } from 'node:child_process';
import { existsSync, renameSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { copyConsoleFiles } from './copy-console-files.js';

const NEXT = 'dist.next';
const OLD = 'dist.old';
rmSync(NEXT, { recursive: true, force: true });
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
const r = spawnSync(process.execPath, [tsc, '-p', 'tsconfig.build.json', '--outDir', NEXT], { stdio: 'inherit' });
if (r.status !== 0) {
  rmSync(NEXT, { recursive: true, force: true });
  process.stderr.write('error ERR_BUILD_FAILED: tsc failed (above); dist/ is unchanged\n');
  process.exit(r.status ?? 1);
}
copyConsoleFiles(NEXT);
rmSync(OLD, { recursive: true, force: true });
if (existsSync('dist')) renameSync('dist', OLD);
renameSync(NEXT, 'dist');
rmSync(OLD, { recursive: true, force: true });
