/**
 * The acceptance import: generated CSV lines, 1% bad, streamed from a file through the node's
 * real HTTP server — 1,000,000 lines in the long suite (`npm run test:long`, CREDIT_FAULTS=long),
 * 200,000 in `npm test` (the same paths; the million takes minutes). Counts must be exact; time and
 * memory are reported, not asserted (`npm run bench` measures them).
 */
import t from 'tap';
import { createReadStream, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { buildConfig } from '../../node/config.js';
import { startNode } from '../../node/server.js';
import { mintServiceTokenFor } from '../../node/service-tokens.js';
import { writeCfCsv } from '../../scripts/bench/cf-data.js';

const LINES = process.env.CREDIT_FAULTS === 'long' ? 1_000_000 : 200_000;
t.setTimeout(15 * 60_000);

t.test(`import of ${LINES.toLocaleString('en-US')} CSV lines with 1% bad lines`, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'import-large-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'cf.csv');
  const { bad } = await writeCfCsv(file, LINES, 100, 7);
  t.equal(bad, LINES / 100);
  const config = buildConfig({ nodeId: '430100', dataDir: join(dir, 'data'), listen: { host: '127.0.0.1', port: 0 }, logLevel: 'warn', rateLimit: { enabled: false } }, {});
  const node = await startNode({ config });
  t.teardown(() => node.close());
  const token = (await mintServiceTokenFor(config, { user: 'loader', role: 'submitter', clearance: 'public', ttlSeconds: 3600 })).token;
  const t0 = Date.now();
  const rss0 = process.memoryUsage().rss;
  let peak = rss0;
  const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 250);
  const res = await request(`${node.url}/v1/records/import?type=CF`, {
    method: 'POST', body: createReadStream(file), headersTimeout: 0, bodyTimeout: 0,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'text/csv' },
  });
  const report = (await res.body.json()) as { lines: number; accepted: number; duplicates: number; rejected: number; rejectedLines: { line: number; errors: { code: string }[] }[]; truncated: boolean };
  clearInterval(sampler);
  const seconds = (Date.now() - t0) / 1000;
  t.equal(res.statusCode, 200);
  t.equal(report.lines, LINES);
  t.equal(report.accepted, LINES - bad);
  t.equal(report.duplicates, 0);
  t.equal(report.rejected, bad);
  t.equal(report.rejectedLines.length, 1000, 'the first 1000 rejected lines are listed');
  t.equal(report.truncated, true);
  t.equal(report.rejectedLines[0]!.line, 101, 'line numbers count the header as line 1');
  t.same(new Set(report.rejectedLines.slice(0, 4).map((l) => l.errors[0]!.code)), new Set(['ERR_INVALID_USCC', 'ERR_INVALID_DATE', 'ERR_FIELD_REQUIRED', 'ERR_FIELD_ENUM']));
  const n = await node.app.nodeCtx.db('node_records').count({ n: '*' });
  t.equal(Number(n[0]!.n), LINES - bad, 'rows in the store');
  t.comment(`${Math.round(LINES / seconds).toLocaleString('en-US')} lines/s; process RSS grew ${Math.round((peak - rss0) / 1048576)} MiB (peak ${Math.round(peak / 1048576)} MiB)`);
});
