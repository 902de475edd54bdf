/** `credit bench [--quick]`: runs every scenario, prints a table, writes docs/benchmarks.md, and
 * prints the figures as one JSON line last. Never part of `npm test`. */
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import { command } from './framework.js';
import { scenarios } from '../bench/scenarios.js';
import type { BenchResult } from '../bench/scenario.js';

export const benchCommand = command({
  name: 'bench',
  summary: 'run the benchmark suite; prints a table and writes docs/benchmarks.md',
  usage: '[--quick] [--only NAME] [--no-write]',
  help: '  --quick     smaller sizes (finishes within about a minute)\n  --only      run one scenario by name\n  --no-write  do not rewrite docs/benchmarks.md',
  options: { quick: { type: 'boolean' }, only: { type: 'string' }, 'no-write': { type: 'boolean' } },
  run: async ({ values, io }) => {
    const quick = values.quick === true;
    const only = typeof values.only === 'string' ? values.only : undefined;
    const results: BenchResult[] = [];
    for (const s of scenarios) {
      if (only && s.name !== only) continue;
      io.stderr(`bench: ${s.name} …\n`);
      results.push(...(await s.run({ quick, log: (l) => io.stderr(`  ${l}\n`) })));
    }
    const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
    const header = `| figure | value | unit | note |\n|---|---:|---|---|`;
    const rows = results.map((r) => `| ${r.label} (\`${r.key}\`) | ${fmt(r.value)} | ${r.unit} | ${r.note ?? ''} |`);
    const table = [header, ...rows].join('\n');
    io.stdout(table + '\n');
    if (values['no-write'] !== true) {
      const doc = [
        '# Benchmarks',
        '',
        `Written by \`npm run bench${quick ? ' -- --quick' : ''}\` on ${new Date().toISOString().slice(0, 10)}.`,
        `Machine: ${cpu}, ${os.cpus().length} cores, Node ${process.version}, ${os.platform()} ${os.release()}.`,
        'Figures are medians of repeated runs; compare the ratios, not the absolute numbers: this machine is shared and noisy.',
        '',
        table,
        '',
      ].join('\n');
      writeFileSync('docs/benchmarks.md', doc);
    }
    io.stdout(JSON.stringify(Object.fromEntries(results.map((r) => [r.key, round(r.value)]))) + '\n');
    return 0;
  },
});

function round(v: number): number {
  return Math.abs(v) >= 100 ? Math.round(v) : Math.round(v * 1000) / 1000;
}

function fmt(v: number): string {
  return round(v).toLocaleString('en-US');
}
