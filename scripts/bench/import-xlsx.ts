/**
 * Bench: a city node imports a 行政处罚 export in the national layout as an XLSX workbook
 * (national-data.ts: every CF column, no 失信程度, 6% bad rows) through `credit import` — the CLI
 * with its progress line — to `credit node start` in a child process. 100,000 rows (20,000 with
 * --quick). Reports rows/s and the node's peak RSS (VmHWM): the streaming XLSX reader keeps it
 * bounded (issue 14 item 10).
 */
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildConfig } from '../../node/config.js';
import { mintServiceTokenFor } from '../../node/service-tokens.js';
import { main } from '../cli.js';
import { peakRssMb, rssMb } from './child.js';
import { startNodeProcess } from './import.js';
import { BAD_KINDS, writeNationalXlsx } from './national-data.js';
import type { BenchResult, Scenario } from './scenario.js';

export const importXlsxScenario: Scenario = {
  name: 'import-xlsx',
  async run({ quick, log }): Promise<BenchResult[]> {
    const rows = Number(process.env.BENCH_XLSX_ROWS) || (quick ? 10_000 : 100_000); // the env var shrinks it for smoke runs (a multiple of 100)
    const dir = mkdtempSync(join(tmpdir(), 'cf-bench-xlsx-'));
    try {
      const file = join(dir, 'cf.xlsx');
      await writeNationalXlsx(file, rows);
      const bad = BAD_KINDS.length * Math.floor(rows / 100);
      log(`generated ${rows.toLocaleString('en-US')} XLSX rows (${bad} bad, ${(statSync(file).size / 1048576).toFixed(1)} MiB); the node runs as a child process on SQLite`);
      const configFile = join(dir, 'node.json');
      writeFileSync(configFile, JSON.stringify({ nodeId: '430100', dataDir: join(dir, 'data'), listen: { host: '127.0.0.1', port: 0 }, rateLimit: { enabled: false }, severityDefaults: { CF: 'ordinary' } }));
      const config = buildConfig(JSON.parse(readFileSync(configFile, 'utf8')), {}, dir);
      const { token } = await mintServiceTokenFor(config, { user: 'bench', role: 'submitter', clearance: 'internal', ttlSeconds: 3600 });
      const env = { ...process.env };
      delete env.DATABASE_URL;
      const node = await startNodeProcess(configFile, env);
      let seconds: number;
      let rss: number;
      let idle: number;
      const out: string[] = [];
      try {
        idle = rssMb(node.pid);
        const t0 = process.hrtime.bigint();
        const code = await main(['import', '--url', node.url, '--token', token, '--type', 'CF', '--file', file, '--report', join(dir, 'rejected.xlsx')], { stdout: (s) => void out.push(s), stderr: (s) => log(s.trim()) });
        seconds = Number(process.hrtime.bigint() - t0) / 1e9;
        const summary = out.join('');
        // `credit import`'s summary (scripts/cli/import.ts): the counts, whatever other figures it names between them
        const counts = /: (\d+) lines: (\d+) accepted, (?:(\d+) corrected \(new versions\), )?(\d+) duplicates, (\d+) rejected/.exec(summary);
        const [, lines, accepted, corrected, duplicates, rejected] = counts ?? [];
        if (code !== 0 || Number(lines) !== rows || Number(accepted) !== rows - bad || Number(corrected ?? 0) !== 0 || Number(duplicates) !== 0 || Number(rejected) !== bad) throw new Error(`XLSX import went wrong: ${summary.slice(0, 300)}`);
        rss = peakRssMb(node.pid);
      } finally {
        await node.stop();
      }
      log(`imported in ${seconds.toFixed(1)} s; node RSS ${Math.round(idle)} MiB idle, ${Math.round(rss)} MiB peak`);
      return [
        { label: 'XLSX import through the node, national layout (SQLite)', key: 'import_xlsx_rps', value: rows / seconds, unit: 'rows/s', note: `${rows.toLocaleString('en-US')} rows, 6% bad, \`credit import\` with its progress line; one run` },
        { label: 'node peak RSS during that XLSX import', key: 'import_xlsx_peak_rss_mb', value: rss, unit: 'MiB', note: `VmHWM of the \`credit node start\` process (${Math.round(idle)} MiB idle before)` },
      ];
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
};
