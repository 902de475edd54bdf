#!/usr/bin/env node
// Summarises a .cpuprofile: self time by function and by file, and inclusive time by function.
//   node scripts/bench/profile-top.mjs PROFILE [N=30]
import { readFileSync } from 'node:fs';

const [file, nArg] = process.argv.slice(2);
if (!file || file === '--help') {
  console.log('usage: node scripts/bench/profile-top.mjs PROFILE.cpuprofile [N]\nself time by function and by file, then inclusive time by function (top N, default 30)');
  process.exit(file ? 0 : 2);
}
const n = Number(nArg ?? 30);
const p = JSON.parse(readFileSync(file, 'utf8'));
const byId = new Map(p.nodes.map((x) => [x.id, x]));
const parent = new Map();
for (const x of p.nodes) for (const c of x.children ?? []) parent.set(c, x.id);
const self = new Map();
let total = 0;
p.samples.forEach((id, i) => {
  const d = p.timeDeltas[i] ?? 0;
  total += d;
  self.set(id, (self.get(id) ?? 0) + d);
});
const where = (x) => x.callFrame.url.replace(/^.*?node_modules\//, 'npm:').replace(/^file:\/\/.*?\/(audit|certs|hub|node|protocol|scripts)\//, '$1/');
const label = (x) => `${x.callFrame.functionName || '(anonymous)'} ${where(x)}:${x.callFrame.lineNumber + 1}`;
const fn = new Map();
const files = new Map();
const incl = new Map();
for (const [id, t] of self) {
  const x = byId.get(id);
  fn.set(label(x), (fn.get(label(x)) ?? 0) + t);
  const f = where(x).split('/').slice(0, 2).join('/') || x.callFrame.functionName;
  files.set(f, (files.get(f) ?? 0) + t);
  const seen = new Set();
  for (let cur = id; cur !== undefined; cur = parent.get(cur)) {
    const k = label(byId.get(cur));
    if (!seen.has(k)) incl.set(k, (incl.get(k) ?? 0) + t);
    seen.add(k);
  }
}
const show = (m) => [...m].sort((a, b) => b[1] - a[1]).slice(0, n).map(([k, v]) => `${(v / 1000).toFixed(0).padStart(8)} ms ${((100 * v) / total).toFixed(1).padStart(5)} %  ${k}`).join('\n');
console.log(`${file}: ${(total / 1000).toFixed(0)} ms sampled`);
console.log('\nself time by function\n' + show(fn));
console.log('\nself time by file\n' + show(files));
console.log('\ninclusive time by function\n' + show(new Map([...incl].filter(([k]) => !k.startsWith('(root)')))));
