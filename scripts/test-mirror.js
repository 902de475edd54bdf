// The compiled test tree `npm test` runs (scripts/run-tests.js): .tap/js/ mirrors the checkout, every
// TypeScript file compiled to JavaScript beside a symlink to its source, every other file a symlink.
//
// Why: tap runs each test file in its own process; through tsx every module of that process is
// resolved and loaded by a loader hook on another thread. A CPU profile of a hub test put that at a
// quarter of the file's CPU time, on a 2-core machine that is CPU-bound during the suite. Compiling
// the whole tree once with esbuild (what tsx uses, the same transform) takes a few seconds.
// Sources stay what runs: the mirror is rebuilt from them at every `npm test`; `npx tap FILE`
// still runs a single file through tsx.
//
// Layout: .tap/js/x/y.ts → symlink to x/y.ts; .tap/js/x/y.js → compiled (inline source map, so
// stack traces name the .ts lines); node_modules is a symlink. A test that needs the checkout
// itself (package-install packs it, boundaries reads its imports) finds it through the symlinks
// (realpath of package.json).
import { build } from 'esbuild';
import { mkdirSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';

export const MIRROR = '.tap/js';
const SKIP = new Set(['node_modules', '.git', '.tap', 'dist', 'dist.next', 'dist.old', 'coverage', 'demo-out', 'tmp']);

/** Builds the mirror of `root` (the checkout) in root/.tap/js; returns its absolute path. */
export async function buildMirror(root = process.cwd()) {
  const out = resolve(root, MIRROR);
  rmSync(out, { recursive: true, force: true });
  mkdirSync(out, { recursive: true });
  const sources = [];
  const walk = (dir) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      const rel = relative(root, p);
      if (dir === root && SKIP.has(e.name)) continue;
      if (rel === join('test', 'artifacts')) continue;
      if (e.isDirectory()) {
        mkdirSync(join(out, rel), { recursive: true });
        walk(p);
      } else {
        symlinkSync(p, join(out, rel));
        if (e.name.endsWith('.ts') && !e.name.endsWith('.d.ts')) sources.push(rel);
      }
    }
  };
  walk(root);
  symlinkSync(join(root, 'node_modules'), join(out, 'node_modules'));
  await build({
    absWorkingDir: root,
    entryPoints: sources,
    outdir: out,
    outbase: '.',
    format: 'esm',
    platform: 'node',
    target: 'node20',
    sourcemap: 'inline',
    logLevel: 'warning',
  });
  return out;
}
