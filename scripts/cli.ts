/**
 * `credit`: the one command line of credit-federation. Each group lives in scripts/cli/<group>.ts and
 * loads only when the command line reaches it (`credit --help` and `--version` load none of them).
 */
import { readFileSync } from 'node:fs';
import { dispatch, group, lazy, processIo, type Io } from './cli/framework.js';

export const root = group('credit', 'credit-federation: city nodes, the provincial hub, the provincial CA and audit logs.', [
  lazy('id', 'check identifiers (USCC, resident ID)', async () => (await import('./cli/id.js')).idGroup),
  lazy('catalog', 'the credit record catalog', async () => (await import('./cli/catalog.js')).catalogGroup),
  lazy('ca', 'the provincial certificate authority (hub operator)', async () => (await import('./cli/ca.js')).caGroup),
  lazy('node', 'a city or county node: keys, tokens, running it', async () => (await import('./cli/node.js')).nodeGroup),
  lazy('hub', 'the provincial hub (hub operator): run it, enrol and revoke nodes', async () => (await import('./cli/hub.js')).hubGroup),
  lazy('import', "upload a CSV or NDJSON file of credit records to a city node's import endpoint", async () => (await import('./cli/import.js')).importCommand, { leaf: true }),
  lazy('audit', 'tamper-evident audit logs: export, verify offline, prove', async () => (await import('./cli/audit.js')).auditGroup),
  lazy('exchange', 'the signed exchange log: export it from a node or the hub, verify it offline', async () => (await import('./cli/exchange.js')).exchangeGroup),
  lazy('logs', "print a node's or the hub's JSON log lines readably (a file, or stdin: journalctl -u credit-node -o cat | credit logs)", async () => (await import('./cli/logs.js')).logsCommand, { leaf: true }),
  lazy('demo', 'run a whole federation on this machine (CA, hub, three nodes) and show the exchange', async () => (await import('./cli/demo.js')).demoCommand, { leaf: true }),
  lazy('bench', 'run the benchmark suite; prints a table and writes docs/benchmarks.md', async () => (await import('./cli/bench.js')).benchCommand, { leaf: true }),
  lazy('sim', 'simulate a province on this machine: a CA, H hubs on one store, N nodes, load and queries, one hub killed', async () => (await import('./cli/sim.js')).simCommand, { leaf: true }),
]);

/** The package version, from the package.json above this file (scripts/ in a checkout, dist/scripts/ when built). */
export function packageVersion(): string {
  for (const rel of ['../package.json', '../../package.json']) {
    try {
      const pkg = JSON.parse(readFileSync(new URL(rel, import.meta.url), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'credit-federation' && typeof pkg.version === 'string') return pkg.version;
    } catch {
      // not this level
    }
  }
  return 'unknown';
}

export async function main(argv: string[], io: Io = processIo): Promise<number> {
  if (argv.length === 1 && (argv[0] === '--version' || argv[0] === '-V' || argv[0] === 'version')) {
    io.stdout(`credit-federation ${packageVersion()} (Node.js ${process.versions.node})\n`);
    return 0;
  }
  return dispatch(root, argv, io);
}
