import { readFileSync } from 'node:fs';
import { writeNationalXlsx } from '../scripts/bench/national-data.js';
const file = '/tmp/s24-bench.xlsx';
await writeNationalXlsx(file, 20000, 1, true);
const buf = readFileSync(file);
const mods = { old: await import('/tmp/s24-old/node/import-xlsx.ts'), new: await import('/work/main/node/import-xlsx.ts') };
async function* body() { for (let i = 0; i < buf.length; i += 65536) yield buf.subarray(i, i + 65536); }
const res: Record<string, number[]> = { old: [], new: [] };
for (let round = 0; round < 6; round++) {
  for (const k of (round % 2 ? ['new', 'old'] : ['old', 'new']) as ('old' | 'new')[]) {
    const c0 = process.cpuUsage();
    let n = 0;
    for await (const g of mods[k].xlsxRowGroups(body())) n += g.length;
    const c = process.cpuUsage(c0);
    res[k].push((c.user + c.system) / 1000);
    if (n !== 20001) throw new Error(`${k} rows ${n}`);
  }
}
const med = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
console.log(JSON.stringify({ bytes: buf.length, old_ms: res.old.map(Math.round), new_ms: res.new.map(Math.round), old_median: med(res.old), new_median: med(res.new) }));
