/**
 * The crash-safety harness from the command line (issue #8):
 *
 *   npx tsx scripts/faults/crash.ts --runs 24 --seed 8 [--lines 10000] [--dir DIR] [--keep] [--json FILE] [--cli-audit]
 *
 * SIGKILLs a node during an import, a node while it sends, the hub during intake and a receiving
 * node while it applies distributions, in turn, at seeded random points; after each restart checks every record exactly once at the node, the hub
 * and a receiving node, every receipt against the hub's record of the batch, and the audit logs.
 * Progress on stderr, a summary on stdout; exit 0 when nothing was lost or duplicated, every
 * receipt matched and every audit log verified, else 1. The tap test test/faults/crash.test.ts
 * runs the same harness.
 */
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { runCrash } from './crash-harness.js';
import { crashSummary, crashVerdict } from './crash-report.js';

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      runs: { type: 'string', default: '24' },
      seed: { type: 'string', default: '8' },
      lines: { type: 'string', default: '10000' },
      dir: { type: 'string' },
      keep: { type: 'boolean', default: false },
      json: { type: 'string' },
      'cli-audit': { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    process.stdout.write('usage: npx tsx scripts/faults/crash.ts [--runs 24] [--seed 8] [--lines 10000] [--dir DIR] [--keep] [--json FILE] [--cli-audit]\n');
    return 0;
  }
  const int = (name: string, v: string, min: number) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) throw new Error(`--${name} must be an integer ≥ ${min}, got ${v}`);
    return n;
  };
  const report = await runCrash({
    runs: int('runs', values.runs, 1),
    seed: int('seed', values.seed, 0),
    lines: int('lines', values.lines, 100),
    ...(values.dir ? { dir: values.dir } : {}),
    keep: values.keep,
    cliAudit: values['cli-audit'],
    log: (l) => process.stderr.write(l + '\n'),
  });
  if (values.json) writeFileSync(values.json, JSON.stringify(report, null, 2) + '\n');
  process.stdout.write(crashSummary(report) + '\n');
  const v = crashVerdict(report);
  if (!v.ok) process.stdout.write(`FAILED:\n  ${v.reasons.join('\n  ')}\n`);
  return v.ok ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`crash harness failed: ${(e as Error).stack ?? String(e)}\n`);
    process.exit(2);
  },
);
