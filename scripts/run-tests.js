#!/usr/bin/env node
// `npm test`: runs tap, then prints one plain line CI can count: "N passed, N failed, N skipped".
// tap keeps each file's raw TAP output in .tap/test-results/; we count the leaf assertions there
// (subtest summary lines are not counted twice).
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, rmSync, existsSync, statSync } from 'node:fs';
import { join } from 'node:path';

const resultsDir = '.tap/test-results';
rmSync(resultsDir, { recursive: true, force: true });
const run = spawnSync('npx', ['tap', ...process.argv.slice(2)], { stdio: 'inherit' });

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
