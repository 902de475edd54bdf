/**
 * Bench: a city node imports a generated CSV of 行政处罚 (CF) records, 1% of them bad, through its
 * real HTTP server running as a child process (`credit node start`). Reports lines/s, the node's
 * peak RSS (VmHWM), and next to it the raw knex multi-row insert rate into the same table on the
 * same engine, measured in the same run. DATABASE_URL=postgres://… benches PostgreSQL.
 */
import { spawn } from 'node:child_process';
import { createReadStream, createWriteStream, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { request } from 'undici';
import { connect } from '../../audit/knex-connect.js';
import { randomUscc, seededRng } from '../../protocol/identifiers.js';
import { assertRecord, exampleRecord } from '../../protocol/catalog.js';
import { buildConfig } from '../../node/config.js';
import { migrateNode } from '../../node/migrations.js';
import { toStoredRecord } from '../../node/record-model.js';
import { recordsStore, type StoredRecord } from '../../node/records-store.js';
import { issueToken } from '../../node/tokens.js';
import type { BenchResult, Scenario } from './scenario.js';

const HEADER = '行政相对人名称,行政相对人类别,统一社会信用代码,行政处罚决定书文号,处罚决定日期,处罚类别,处罚内容,罚款金额（万元）,失信程度,处罚机关,处罚机关统一社会信用代码,数据来源单位,数据来源单位统一社会信用代码';
const BAD_KINDS = ['bad-uscc', 'bad-date', 'missing-number', 'bad-severity'] as const;

/**
 * Writes `lines` CF data rows (plus the header) to `file`; every `badEvery`-th row is invalid in
 * one of four ways. Returns the number of bad rows. Streams with backpressure: any size fits.
 */
export async function writeCfCsv(file: string, lines: number, badEvery = 100, seed = 1): Promise<{ bad: number }> {
  const rng = seededRng(seed);
  const subjects = Array.from({ length: 1000 }, () => randomUscc(rng));
  const authority = randomUscc(rng, { authority: '1', category: '1' });
  const source = randomUscc(rng, { authority: '1', category: '2' });
  const out = createWriteStream(file);
  let bad = 0;
  let buf = '\uFEFF' + HEADER + '\r\n';
  for (let i = 1; i <= lines; i++) {
    let uscc = subjects[i % subjects.length]!;
    let date = '2026-10-15';
    let no = `长市监罚〔2026〕${i}号`;
    let severity = '严重';
    if (i % badEvery === 0) {
      const kind = BAD_KINDS[bad % BAD_KINDS.length];
      bad++;
      if (kind === 'bad-uscc') uscc = uscc.slice(0, 17) + (uscc[17] === '0' ? '1' : '0');
      else if (kind === 'bad-date') date = '2026-02-30';
      else if (kind === 'missing-number') no = '';
      else severity = '很严重';
    }
    buf += `示例企业${i % 1000}有限公司,法人及非法人组织,${uscc},${no},${date},罚款,"未按规定公示许可证，罚款人民币伍仟元",0.5,${severity},长沙市市场监督管理局,${authority},长沙市公共信用信息中心,${source}\r\n`;
    if (buf.length > 65536) {
      if (!out.write(buf)) await once(out, 'drain');
      buf = '';
    }
  }
  out.end(buf);
  await once(out, 'finish');
  return { bad };
}

/** Starts `credit node start` as a child process; resolves with its URL and pid once it listens. */
export async function startNodeProcess(configFile: string, env: NodeJS.ProcessEnv = process.env) {
  const child = spawn(process.execPath, ['bin/credit.js', 'node', 'start', '--config', configFile], { env: { ...env, CREDIT_LOG_LEVEL: 'info' }, stdio: ['ignore', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout! });
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error('node did not report listening within 60 s'));
    }, 60_000);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`node exited with ${code} before listening`));
    });
    lines.on('line', (l) => {
      try {
        const j = JSON.parse(l) as { url?: string };
        if (j.url) {
          clearTimeout(timer);
          resolve(j.url);
        }
      } catch {
        /* not a log line */
      }
    });
  });
  return {
    url,
    pid: child.pid!,
    async stop(): Promise<number | null> {
      child.kill('SIGTERM');
      const [code] = (await once(child, 'exit')) as [number | null];
      return code;
    },
  };
}

/** Peak resident set size (VmHWM) of a Linux process, in MiB. */
export function peakRssMb(pid: number): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

/**
 * Raw insert rate: the same multi-row insert the node uses (recordsStore.insertMany, 1000 rows a
 * transaction) of prebuilt rows, with no HTTP, parsing, validation or audit. Only inserts are timed.
 */
async function rawKnexRate(target: string, rows: number): Promise<number> {
  const schema = target.startsWith('postgres') ? `bench_raw_${process.pid}` : undefined;
  const db = await connect(target, schema ? { schema } : {});
  try {
    await migrateNode(db);
    const base = assertRecord(exampleRecord('CF'));
    let ns = 0n;
    for (let i = 0; i < rows; i += 1000) {
      const batch: StoredRecord[] = [];
      for (let j = i; j < Math.min(rows, i + 1000); j++) {
        batch.push(toStoredRecord({ ...base, fields: { ...base.fields, decisionNo: `长市监罚〔2026〕raw-${j}号` } }, { nodeId: '430100', actor: 'user:bench', now: '2026-10-15T00:00:00.000Z' }));
      }
      const t0 = process.hrtime.bigint();
      await db.transaction((trx) => recordsStore.insertMany(trx, batch));
      ns += process.hrtime.bigint() - t0;
    }
    return rows / (Number(ns) / 1e9);
  } finally {
    if (schema) await db.raw('DROP SCHEMA IF EXISTS ?? CASCADE', [schema]);
    await db.destroy();
  }
}

export const importScenario: Scenario = {
  name: 'import',
  async run({ quick, log }): Promise<BenchResult[]> {
    const lines = quick ? 200_000 : 1_000_000;
    const dir = mkdtempSync(join(tmpdir(), 'bench-import-'));
    const pg = process.env.DATABASE_URL;
    try {
      const file = join(dir, 'cf.csv');
      const { bad } = await writeCfCsv(file, lines);
      log(`generated ${lines.toLocaleString('en-US')} lines (${bad} bad)`);
      const configFile = join(dir, 'node.json');
      writeFileSync(configFile, JSON.stringify({ nodeId: '430100', dataDir: join(dir, 'data'), listen: { host: '127.0.0.1', port: 0 }, rateLimit: { enabled: false } }));
      const config = buildConfig(JSON.parse(readFileSync(configFile, 'utf8')), {}, dir);
      const token = await issueToken(config.jwtSecret, '430100', { user: 'bench', role: 'submitter', clearance: 'internal', ttlSeconds: 3600 });
      const node = await startNodeProcess(configFile);
      let seconds: number;
      let rss: number;
      try {
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
      log(`imported in ${seconds.toFixed(1)} s; measuring raw knex inserts`);
      const rawTarget = pg ?? join(dir, 'raw.sqlite');
      const raw = await rawKnexRate(rawTarget, lines);
      const engine = pg ? 'PostgreSQL' : 'SQLite';
      return [
        { label: `CSV import through the node (${engine})`, key: 'import_lps', value: lines / seconds, unit: 'lines/s', note: `${lines.toLocaleString('en-US')} lines, 1% bad, HTTP + validation + audit per batch` },
        { label: 'node peak RSS during that import', key: 'import_peak_rss_mb', value: rss, unit: 'MiB', note: 'VmHWM of the `credit node start` process' },
        { label: `raw knex multi-row insert (${engine})`, key: 'knex_insert_rps', value: raw, unit: 'rows/s', note: 'recordsStore.insertMany, 1000 prebuilt rows a transaction, same run' },
      ];
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
};
