/**
 * Bench: a city node imports a generated CSV of 行政处罚 (CF) records (bench/cf-data.ts, 1% bad)
 * through its real HTTP server running as a child process (`credit node start`). Reports lines/s
 * and the node's peak RSS (VmHWM). The raw-insert scenario stores the same records straight
 * through the store in the same run. DATABASE_URL=postgres://… benches PostgreSQL (in a schema of
 * its own, dropped afterwards).
 */
import { createReadStream, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { buildConfig } from '../../node/config.js';
import { mintServiceTokenFor } from '../../node/service-tokens.js';
import { closeStore, openStore, storeTarget } from './bench-store.js';
import { peakRssMb, rssMb, spawnServer, type ChildServer } from './child.js';
import { writeCfCsv } from './cf-data.js';
import { importLines } from './raw-insert.js';
import type { BenchResult, Scenario } from './scenario.js';

/** Re-exported for the tests that generate import files (it lives in cf-data.ts). */
export { writeCfCsv } from './cf-data.js';

/** Starts `credit node start` as a child process; resolves with its URL and pid once it listens. */
export function startNodeProcess(configFile: string, env: NodeJS.ProcessEnv = process.env): Promise<ChildServer> {
  return spawnServer('node', ['bin/credit.js', 'node', 'start', '--config', configFile], { ...env, CREDIT_LOG_LEVEL: 'info' });
}

/** The PostgreSQL URL with `schema` first on the search path (libpq `options`), so a child process writes there. */
function withSearchPath(url: string, schema: string): string {
  const u = new URL(url);
  u.searchParams.set('options', `-c search_path=${schema}`);
  return u.toString();
}

export const importScenario: Scenario = {
  name: 'import',
  async run({ quick, log }): Promise<BenchResult[]> {
    const lines = importLines(quick);
    const dir = mkdtempSync(join(tmpdir(), 'cf-bench-import-'));
    const target = storeTarget(dir, 'import');
    const store = target.schema ? await openStore(target) : undefined; // creates the schema
    try {
      const file = join(dir, 'cf.csv');
      const { bad } = await writeCfCsv(file, lines);
      log(`generated ${lines.toLocaleString('en-US')} lines (${bad} bad); the node runs as a child process on ${target.engine}`);
      const configFile = join(dir, 'node.json');
      writeFileSync(configFile, JSON.stringify({ nodeId: '430100', dataDir: join(dir, 'data'), listen: { host: '127.0.0.1', port: 0 }, rateLimit: { enabled: false } }));
      const env = { ...process.env };
      if (target.schema) env.DATABASE_URL = withSearchPath(target.target, target.schema);
      else delete env.DATABASE_URL;
      const config = buildConfig(JSON.parse(readFileSync(configFile, 'utf8')), target.schema ? { DATABASE_URL: env.DATABASE_URL } : {}, dir);
      const { token } = await mintServiceTokenFor(config, { user: 'bench', role: 'submitter', clearance: 'internal', ttlSeconds: 3600 });
      const node = await startNodeProcess(configFile, env);
      let seconds: number;
      let rss: number;
      let idle: number;
      try {
        idle = rssMb(node.pid);
        const t0 = process.hrtime.bigint();
        const res = await request(`${node.url}/v1/records/import?type=CF`, {
          method: 'POST', body: createReadStream(file), headersTimeout: 0, bodyTimeout: 0,
          headers: { authorization: `Bearer ${token}`, 'content-type': 'text/csv' },
        });
        const report = (await res.body.json()) as { accepted: number; rejected: number };
        seconds = Number(process.hrtime.bigint() - t0) / 1e9;
        if (res.statusCode !== 200 || report.accepted !== lines - bad || report.rejected !== bad) throw new Error(`import went wrong: HTTP ${res.statusCode} ${JSON.stringify(report).slice(0, 300)}`);
        rss = peakRssMb(node.pid);
      } finally {
        await node.stop();
      }
      log(`imported in ${seconds.toFixed(1)} s; node RSS ${Math.round(idle)} MiB idle, ${Math.round(rss)} MiB peak`);
      return [
        { label: `CSV import through the node (${target.engine})`, key: 'import_lps', value: lines / seconds, unit: 'lines/s', note: `${lines.toLocaleString('en-US')} lines, 1% bad, over HTTP; validation, audit and hooks in each 1,000-line transaction; one run` },
        { label: 'node peak RSS during that import', key: 'import_peak_rss_mb', value: rss, unit: 'MiB', note: `VmHWM of the \`credit node start\` process (${Math.round(idle)} MiB when idle before the import)` },
      ];
    } finally {
      if (store) await closeStore(store, target);
      rmSync(dir, { recursive: true, force: true });
    }
  },
};
