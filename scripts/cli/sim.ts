/**
 * `credit sim --nodes N --hubs H --records R [--database URL] [--queries-per-node Q] [--keep]`
 * (npm run sim): the province simulation of issue 22 (scripts/sim/). Progress goes to stderr; the
 * last line on stdout is one JSON object. Exit code 1 when a record was lost or doubled, the
 * distribution is incomplete, an audit log does not verify or a 5xx was answered. Never part of
 * `npm test` at full size (test/e2e/sim.test.ts runs a small one).
 */
import { isPostgresUrl } from '../../audit/knex-connect.js';
import { cliError } from '../errors.js';
import { command } from './framework.js';

function count(values: Record<string, unknown>, key: string, dflt: number | undefined, min: number, max: number): number {
  const v = values[key];
  if (v === undefined && dflt !== undefined) return dflt;
  const n = typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) throw cliError('ERR_USAGE', `--${key} must be a whole number from ${min} to ${max}${v === undefined ? '' : `, got ${JSON.stringify(v)}`}`);
  return n;
}

export const simCommand = command({
  name: 'sim',
  summary: 'simulate a province on this machine: a CA, H hubs on one store, N nodes, load and queries, one hub killed',
  usage: '--nodes N --hubs H --records R [--database URL] [--queries-per-node Q] [--keep]',
  help: [
    '  --nodes N             city/county nodes, run in this process with their real exchange (1–200)',
    '  --hubs H              hub processes (`credit hub start`) behind a round-robin TCP balancer (1–8; > 1 needs --database)',
    '  --records R           public records loaded per node through its import API (1–1000000)',
    '  --database URL        postgres://… for the hubs (a schema of its own per run, dropped afterwards); default SQLite',
    '  --queries-per-node Q  province-wide subject queries per node, asked while the records load (default 20)',
    '  --keep                keep the run directory and PostgreSQL schema (their names are printed)',
    '  Two clients per node: one imports, one queries. With H > 1, hub 1 is SIGKILLed once half the records are loaded.',
    '  stderr: progress. stdout, last line: {nodes, hubs, sent, atHub, lost, duplicates, distributionComplete,',
    '  auditOk, intakeRps, queryP50Ms, queryP99Ms, errors5xx}. Exit 1 unless lost 0, duplicates 0, distribution',
    '  complete, audit ok and no 5xx. See docs/scale.md.',
  ].join('\n'),
  options: { nodes: { type: 'string' }, hubs: { type: 'string' }, records: { type: 'string' }, database: { type: 'string' }, 'queries-per-node': { type: 'string' }, keep: { type: 'boolean' } },
  run: async ({ values, io }) => {
    const nodes = count(values, 'nodes', undefined, 1, 200);
    const hubs = count(values, 'hubs', 1, 1, 8);
    const records = count(values, 'records', undefined, 1, 1_000_000);
    const queriesPerNode = count(values, 'queries-per-node', 20, 0, 1_000_000);
    const database = typeof values.database === 'string' ? values.database : undefined;
    if (database !== undefined && !isPostgresUrl(database)) throw cliError('ERR_USAGE', `--database must be a postgres:// URL, got ${JSON.stringify(database)}`);
    if (hubs > 1 && !database) throw cliError('ERR_USAGE', 'several hubs share one PostgreSQL store: give --database postgres://…');
    const { runSim } = await import('../sim/run-sim.js');
    // the nodes run in this process: a node whose start failed half-way can leave a handle open, so
    // the process ends 2 s after the run has ended and cleaned up, whatever is left
    const leave = () => setTimeout(() => process.exit(), 2000).unref();
    const r = await runSim({ nodes, hubs, records, queriesPerNode, database, keep: values.keep === true, log: (l) => io.stderr(`sim: ${l}\n`) }).finally(leave);
    io.stdout(JSON.stringify(r) + '\n');
    return r.lost === 0 && r.duplicates === 0 && r.distributionComplete && r.auditOk && r.errors5xx === 0 ? 0 : 1;
  },
});
