/**
 * `credit bench [--quick] [--only NAME[,NAME…]] [--no-write]`: runs the scenarios, prints one table
 * and then, as the last line, the figures as one JSON object; writes docs/benchmarks.md. Progress
 * goes to stderr. A scenario that fails is reported as such (exit code 1) and the others still
 * run. Never part of `npm test`.
 */
import { command } from './framework.js';
import { cliError } from '../errors.js';
import { scenarios } from '../bench/scenarios.js';
import type { BenchResult } from '../bench/scenario.js';
import { benchEngine } from '../bench/bench-store.js';
import { jsonLine, machine, table, withRatios, writeDoc, type Skipped } from '../bench/report.js';

const DOC = 'docs/benchmarks.md';

export const benchCommand = command({
  name: 'bench',
  summary: 'run the benchmark suite; prints a table and writes docs/benchmarks.md',
  usage: '[--quick] [--only NAME[,NAME…]] [--no-write]',
  help: [
    '  --quick     smaller sizes (≈ 60 s on 2 cores with the PostgreSQL scenarios, compiled as `npm run bench` runs it; ≈ 2 min through tsx)',
    `  --only      run only these scenarios: ${scenarios.map((s) => s.name).join(', ')}`,
    `  --no-write  do not rewrite ${DOC}`,
    '  env DATABASE_URL=postgres://… benches PostgreSQL instead of SQLite (in throwaway schemas)',
    '  env BENCH_PG_URL=postgres://… the server of e2e-pg and hubs-pg (default: DATABASE_URL if postgres://; none: skipped)',
    '  stdout: the table, then one JSON line with every figure (null where not measured)',
  ].join('\n'),
  options: { quick: { type: 'boolean' }, only: { type: 'string' }, 'no-write': { type: 'boolean' } },
  run: async ({ values, io }) => {
    const quick = values.quick === true;
    const only = typeof values.only === 'string' ? values.only.split(',').map((s) => s.trim()).filter(Boolean) : undefined;
    const unknown = only?.filter((n) => !scenarios.some((s) => s.name === n)) ?? [];
    if (unknown.length) throw cliError('ERR_USAGE', `no scenario ${unknown.join(', ')} (known: ${scenarios.map((s) => s.name).join(', ')})`);
    const host = machine(benchEngine()); // before the run: its load average is other work's
    const results: BenchResult[] = [];
    const skipped: Skipped[] = [];
    const t0 = Date.now();
    for (const s of scenarios) {
      if (only && !only.includes(s.name)) continue;
      const why = s.unavailable?.();
      if (why) {
        io.stderr(`bench: ${s.name} skipped: ${why}\n`);
        skipped.push({ name: s.name, note: why });
        continue;
      }
      io.stderr(`bench: ${s.name} …\n`);
      const started = Date.now();
      try {
        results.push(...(await s.run({ quick, log: (l) => io.stderr(`  ${l}\n`) })));
        io.stderr(`  ${s.name}: ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
      } catch (e) {
        // one broken scenario must not cost the figures of the others: report it and go on
        const message = e instanceof Error ? e.message : String(e);
        io.stderr(`bench: ${s.name} FAILED: ${message}\n`);
        skipped.push({ name: s.name, note: message.split('\n')[0]!.slice(0, 300), failed: true });
      }
    }
    io.stderr(`bench: done in ${Math.round((Date.now() - t0) / 1000)} s\n`);
    const all = withRatios(results);
    const body = table(all, skipped);
    io.stdout(body + '\n');
    if (values['no-write'] !== true) {
      const cmd = `npm run bench${quick || only ? ' --' : ''}${quick ? ' --quick' : ''}${only ? ` --only ${only.join(',')}` : ''}`;
      writeDoc(DOC, host, cmd, body);
    }
    io.stdout(jsonLine(all) + '\n');
    return skipped.some((x) => x.failed) ? 1 : 0;
  },
});
