#!/usr/bin/env node
// `npm test`: runs tap, then prints one plain line CI can count: "N passed, N failed, N skipped".
// tap keeps each file's raw TAP output in .tap/test-results/; we count the leaf assertions there
// (subtest summary lines are not counted twice).
//
// The suite runs from the compiled mirror of the checkout (scripts/test-mirror.js, .tap/js/): the
// same files, compiled once with esbuild instead of through tsx in every test process.
// CREDIT_TEST_MIRROR=0 (and `npm run test:coverage`) run the sources through tsx as `npx tap` does.
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, rmSync, existsSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildMirror } from './test-mirror.js';

const args = process.argv.slice(2);
const useMirror = process.env.CREDIT_TEST_MIRROR !== '0' && !args.includes('--no-disable-coverage');

// tap applies a changed plugin list (.taprc `plugin`: ours leaves several out) by rebuilding itself
// during a run, but the test processes of that first run still get the loaders of the old build
// (after `npm ci`: @tapjs/typescript's ts-node and @tapjs/mock in every test process). Build first
// when the list differs from the one last built here.
const pluginList = (readFileSync('.taprc', 'utf8').match(/^plugin:\n((?:\s+-.*\n|#.*\n)+)/m)?.[1] ?? '').replace(/^#.*\n/gm, '');
const builtMarker = 'node_modules/.credit-tap-plugins';
if (!existsSync(builtMarker) || readFileSync(builtMarker, 'utf8') !== pluginList) {
  const b = spawnSync('npx', ['tap', 'build'], { stdio: ['ignore', 'ignore', 'inherit'] });
  if (b.status === 0) writeFileSync(builtMarker, pluginList);
}

let cwd = process.cwd();
let tapArgs = args;
if (useMirror) {
  cwd = await buildMirror();
  // The mirror's .taprc: the checkout's, for the compiled files, without the tsx loader.
  const rc = readFileSync('.taprc', 'utf8')
    .replace(/\.test\.ts\b/g, '.test.js')
    .replace(/^\s*- "--import=tsx"\s*$/m, '');
  rmSync(join(cwd, '.taprc'));
  writeFileSync(join(cwd, '.taprc'), rc);
  tapArgs = args.map((a) => (/\.ts$/.test(a) && !a.startsWith('-') ? a.replace(/\.ts$/, '.js') : a));
}

// The processes tests start through bin/credit.js (hubs, nodes, the CLI, the bench's servers) run the
// mirror's compiled files too (bin/credit.js reads CREDIT_MIRROR; an installed package ignores it).
if (useMirror) process.env.CREDIT_MIRROR = cwd;

const resultsDir = join(cwd, '.tap/test-results');
rmSync(resultsDir, { recursive: true, force: true });
const run = spawnSync('npx', ['tap', ...tapArgs], { stdio: 'inherit', cwd });

function* walk(dir) {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) yield* walk(p);
    else if (p.endsWith('.tap')) yield p;
  }
}

let passed = 0;
let failed = 0;
let skipped = 0;
if (existsSync(resultsDir)) {
  for (const file of walk(resultsDir)) {
    const subtestIndents = [];
    for (const line of readFileSync(file, 'utf8').split('\n')) {
      const sub = /^(\s*)# Subtest/.exec(line);
      if (sub) {
        subtestIndents.push(sub[1].length);
        continue;
      }
      const m = /^(\s*)(not )?ok \d+/.exec(line);
      if (!m) continue;
      const indent = m[1].length;
      if (subtestIndents.length && subtestIndents[subtestIndents.length - 1] === indent) {
        subtestIndents.pop();
        continue;
      }
      if (/# (SKIP|TODO)/i.test(line)) skipped++;
      else if (m[2]) failed++;
      else passed++;
    }
  }
}
const status = run.status ?? 1;
if (status !== 0 && failed === 0) failed = 1; // tap failed for a reason no assertion shows
console.log(`${passed} passed, ${failed} failed, ${skipped} skipped`);
process.exit(status);
