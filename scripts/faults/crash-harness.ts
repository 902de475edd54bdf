/**
 * Crash safety, issue #8 part 1: SIGKILL at seeded random points — a city node during a large CSV
 * import, a city node while it sends its outbox, the hub during batch intake, a receiving node while
 * it applies what the hub distributes — then restart what
 * was killed, re-run an import that was cut off, let the exchange settle, and check the invariants
 * (invariants.ts): every record exactly once at the node, at the hub and at a receiving node, every
 * receipt the very one the hub recorded with the same accepted ids, the three audit logs verifying.
 *
 * A random point is a seeded random amount of progress of the targeted activity — k of the file's
 * records committed at the node, k more receipts stored by the sending node, k of the import's
 * batches taken by the hub, k of its records applied at the receiving node — plus a few random milliseconds, watched in the SQLite files. Each run
 * says whether its kill landed while the activity was under way ('during') or just after it ended
 * ('after'); both must leave the invariants intact. A first, unbroken import comes before the kills.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Knex } from 'knex';
import { seededRng } from '../../protocol/identifiers.js';
import { writeCfCsv } from '../bench/cf-data.js';
import { credit } from '../demo/processes.js';
import { CHANGDE, CHANGSHA, Cluster, waitFor } from './cluster.js';
import { census, checkAudit, lostAndDuplicated, withDb, type AuditCheck, type Census } from './invariants.js';

export type CrashTarget = 'import' | 'send' | 'hub' | 'pull';
export const CRASH_TARGETS: readonly CrashTarget[] = ['import', 'send', 'hub', 'pull'];

export interface CrashOptions {
  /** Kills in total; the targets take turns (import, send, hub, pull, import, …). */
  runs: number;
  seed: number;
  /** CSV lines per import (1% of them invalid). */
  lines: number;
  /** Work directory (default: a new temporary one, removed afterwards unless `keep`). */
  dir?: string;
  keep?: boolean;
  log?: (line: string) => void;
  /** At the end, stop everything and verify the three audit logs with the real commands (`credit audit export` + `credit audit verify --ca`). */
  cliAudit?: boolean;
}

export interface ImportReport {
  lines: number;
  accepted: number;
  duplicates: number;
  rejected: number;
}

export interface RunResult {
  run: number;
  target: CrashTarget;
  /** When the SIGKILL came, ms after the run's activity began, and the random point it was drawn for. */
  killAfterMs: number;
  trigger: string;
  landed: 'during' | 'after';
  /** Lines of this run's import file, and how many are valid. */
  lines: number;
  valid: number;
  /** Own records at the node just after the restart that came from this run's import (before any re-run). */
  committedBeforeKill: number;
  /** The re-run of an import the kill cut off (null when none was needed). */
  rerun: ImportReport | null;
  /** Own records the node should hold after this run, and holds. */
  expectedAtNode: number;
  census: Census;
  lost: number;
  duplicates: number;
  audit: { node: AuditCheck; hub: AuditCheck; receiver: AuditCheck };
  seconds: number;
}

export interface CrashReport {
  options: { runs: number; seed: number; lines: number };
  runs: RunResult[];
  totals: {
    kills: Record<CrashTarget, number>;
    landedDuring: number;
    importLines: number;
    recordsAtNode: number;
    recordsAtHub: number;
    recordsAtReceiver: number;
    lost: number;
    duplicates: number;
    receipts: number;
    receiptsMatched: number;
    auditVerified: number;
    auditChecks: number;
    importsRerun: number;
    seconds: number;
  };
  /** `credit audit verify` output for each log, when cliAudit was asked for. */
  cliAudit?: Record<string, { ok: boolean; output: string }>;
}

const SOURCE = CHANGSHA.id;
const RECEIVER = CHANGDE.id;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Records per batch (hub.batchMaxRecords in cluster.ts FAST_HUB_KEYS). */
const BATCH_RECORDS = 1000;

type Counter = (db: Knex) => Promise<number>;
const num = (row: unknown) => Number((row as { n: number | string } | undefined)?.n ?? 0);
const ownRecords: Counter = async (db) => num(await db('node_records').where({ source_node: SOURCE }).count({ n: '*' }).first());
const receiptCount: Counter = async (db) => num(await db('node_batches').whereIn('status', ['accepted', 'refused']).count({ n: '*' }).first());
const receivedRecords: Counter = async (db) => num(await db('node_records').where({ source_node: SOURCE }).count({ n: '*' }).first());
const hubBatches: Counter = async (db) => num(await db('hub_envelopes').where({ from_node: SOURCE, type: 'batch' }).count({ n: '*' }).first());

/** Own records at the source node (read from its file; works while it is down). */
function ownCount(cluster: Cluster): Promise<number> {
  return withDb(cluster.nodeDb(SOURCE), ownRecords);
}

/** Polls `count` over one connection to `file` until it reaches `target` or `stop()` says the activity is over. */
async function whenCount(file: string, count: Counter, target: number, stop: () => boolean, timeoutMs = 300_000): Promise<number> {
  return withDb(file, async (db) => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const n = await count(db);
      if (n >= target || stop()) return n;
      if (Date.now() > deadline) throw new Error(`timed out waiting for a count of ${target} in ${file} (at ${n})`);
      await sleep(10);
    }
  });
}

/** Receipts stored so far, and how many batches the node still has to send (cut or not). */
async function sendProgress(cluster: Cluster): Promise<{ receipts: number; toGo: number }> {
  return withDb(cluster.nodeDb(SOURCE), async (db) => {
    const unbatched = num(await db('node_outbox').whereNull('batch_id').count({ n: '*' }).first());
    const open = num(await db('node_batches').whereIn('status', ['open', 'sent']).count({ n: '*' }).first());
    return { receipts: await receiptCount(db), toGo: open + Math.ceil(unbatched / BATCH_RECORDS) };
  });
}

/** Unsent work at the source node: unbatched outbox rows plus batches without a receipt. */
function backlog(cluster: Cluster): Promise<number> {
  return withDb(cluster.nodeDb(SOURCE), async (db) => {
    const a = (await db('node_outbox').whereNull('batch_id').count({ n: '*' }).first()) as { n: number | string };
    const b = (await db('node_batches').whereIn('status', ['open', 'sent']).count({ n: '*' }).first()) as { n: number | string };
    return Number(a.n) + Number(b.n);
  });
}

function checkReport(what: string, r: { status: number; body: ImportReport }, valid: number, bad: number): ImportReport {
  if (r.status !== 200) throw new Error(`${what}: HTTP ${r.status} ${JSON.stringify(r.body).slice(0, 300)}`);
  const b = r.body;
  if (b.accepted + b.duplicates !== valid || b.rejected !== bad) throw new Error(`${what}: report ${JSON.stringify(b)} does not account for ${valid} valid and ${bad} bad lines`);
  return b;
}

export async function runCrash(o: CrashOptions): Promise<CrashReport> {
  const log = o.log ?? (() => undefined);
  const own = !o.dir;
  const dir = o.dir ?? mkdtempSync(join(tmpdir(), 'cf-crash-'));
  mkdirSync(dir, { recursive: true });
  const rng = seededRng(o.seed);
  const t0 = Date.now();
  const cluster = new Cluster(dir);
  const results: RunResult[] = [];
  let expected = 0;
  let importLines = 0;
  let cliAudit: CrashReport['cliAudit'];
  try {
    await cluster.init();
    await cluster.startHub();
    await cluster.addNode(CHANGSHA);
    await cluster.addNode(CHANGDE);
    await cluster.startNode(SOURCE);
    await cluster.startNode(RECEIVER);
    const caPem = readFileSync(cluster.caCertFile, 'utf8');
    const nodeKeyFile = join(cluster.node(SOURCE).dataDir, 'exchange', 'node.key');
    const signers = {
      node: { nodeId: SOURCE, keyFile: nodeKeyFile, certFile: join(cluster.node(SOURCE).dataDir, 'exchange', 'node.pem') },
      receiver: { nodeId: RECEIVER, keyFile: join(cluster.node(RECEIVER).dataDir, 'exchange', 'node.key'), certFile: join(cluster.node(RECEIVER).dataDir, 'exchange', 'node.pem') },
      hub: { nodeId: '430000', keyFile: join(cluster.hubDir, 'data', 'hub.key'), certFile: join(cluster.hubDir, 'data', 'hub.pem') },
    };
    const file = (n: number) => join(dir, `import-${n}.csv`);

    // An unbroken import first: it measures how long an import and the drain after it take.
    const first = await writeCfCsv(file(0), o.lines, 100, o.seed * 1000);
    const i0 = Date.now();
    checkReport('first import', await cluster.importFile(SOURCE, file(0)), o.lines - first.bad, first.bad);
    const importMs = Date.now() - i0;
    const d0 = Date.now();
    await cluster.drained(SOURCE);
    const drainMs = Date.now() - d0;
    expected += o.lines - first.bad;
    importLines += o.lines;
    log(`first import: ${o.lines} lines in ${importMs} ms, outbox drained ${drainMs} ms later`);

    for (let run = 1; run <= o.runs; run++) {
      const target = CRASH_TARGETS[(run - 1) % CRASH_TARGETS.length]!;
      const r0 = Date.now();
      const { bad } = await writeCfCsv(file(run), o.lines, 100, o.seed * 1000 + run);
      const valid = o.lines - bad;
      const before = await ownCount(cluster);
      let killAfterMs: number;
      let trigger: string;
      let landed: RunResult['landed'];
      let rerun: ImportReport | null = null;
      let committedBeforeKill = 0;

      const started = Date.now();
      if (target === 'import') {
        // the point: after k of this file's records have committed (k random, short of the last
        // batch so that the import is still going), plus a random few ms
        const k = 1 + Math.floor(rng() * Math.max(1, valid - BATCH_RECORDS));
        const jitter = Math.round(rng() * 40);
        let finished = false;
        const upload = cluster.importFile<ImportReport>(SOURCE, file(run)).then(
          (r) => ((finished = true), { ok: r.status === 200 }),
          () => ((finished = true), { ok: false }),
        );
        await whenCount(cluster.nodeDb(SOURCE), ownRecords, before + k, () => finished);
        await sleep(jitter);
        killAfterMs = Date.now() - started;
        trigger = `${k} of ${valid} records committed + ${jitter} ms`;
        await cluster.node(SOURCE).process!.kill();
        landed = (await upload).ok ? 'after' : 'during';
        committedBeforeKill = (await ownCount(cluster)) - before;
        await cluster.startNode(SOURCE);
        // Re-run the file whether or not the kill cut it off: natural keys make the second pass add only what is missing.
        rerun = checkReport(`run ${run}: import re-run`, await cluster.importFile(SOURCE, file(run)), valid, bad);
      } else if (target === 'send') {
        // the point: after k more receipts (k random below the batches still to go), plus a random few ms
        checkReport(`run ${run}: import`, await cluster.importFile(SOURCE, file(run)), valid, bad);
        const { receipts, toGo } = await sendProgress(cluster);
        const k = Math.floor(rng() * toGo);
        const jitter = Math.round(rng() * 40);
        await whenCount(cluster.nodeDb(SOURCE), receiptCount, receipts + k, () => false);
        await sleep(jitter);
        killAfterMs = Date.now() - started;
        trigger = `${k} of ${toGo} remaining receipts stored + ${jitter} ms`;
        await cluster.node(SOURCE).process!.kill();
        landed = (await backlog(cluster)) > 0 ? 'during' : 'after';
        committedBeforeKill = valid;
        await cluster.startNode(SOURCE);
      } else if (target === 'pull') {
        // the point: after the receiving node has applied k of this import's records (k random), plus a random few ms
        const base = await withDb(cluster.nodeDb(RECEIVER), receivedRecords);
        const k = 1 + Math.floor(rng() * (valid - 1));
        const jitter = Math.round(rng() * 40);
        checkReport(`run ${run}: import`, await cluster.importFile(SOURCE, file(run)), valid, bad);
        await whenCount(cluster.nodeDb(RECEIVER), receivedRecords, base + k, () => false);
        await sleep(jitter);
        killAfterMs = Date.now() - started;
        trigger = `${k} of ${valid} records applied at ${RECEIVER} + ${jitter} ms`;
        await cluster.node(RECEIVER).process!.kill();
        landed = (await withDb(cluster.nodeDb(RECEIVER), receivedRecords)) < base + valid ? 'during' : 'after';
        committedBeforeKill = valid;
        await cluster.startNode(RECEIVER);
      } else {
        // the point: after the hub has taken k of this import's batches (k random), plus a random few ms
        const base = await withDb(cluster.hubDb, hubBatches);
        const k = Math.floor(rng() * Math.ceil(valid / BATCH_RECORDS));
        const jitter = Math.round(rng() * 100);
        const upload = cluster.importFile<ImportReport>(SOURCE, file(run));
        upload.catch(() => undefined); // awaited below
        await whenCount(cluster.hubDb, hubBatches, base + k, () => false);
        await sleep(jitter);
        killAfterMs = Date.now() - started;
        trigger = `${k} of this import's batches taken + ${jitter} ms`;
        await cluster.hub!.kill();
        const s = await cluster.status(SOURCE);
        landed = s.outbox.pending + s.batches.pending > 0 ? 'during' : 'after';
        await sleep(Math.round(rng() * 1500)); // the hub stays away a little while
        await cluster.startHub();
        checkReport(`run ${run}: import while the hub was killed`, await upload, valid, bad);
        committedBeforeKill = valid;
      }
      expected += valid;
      importLines += o.lines + (rerun ? o.lines : 0);

      await cluster.drained(SOURCE);
      const distributable = await withDb(cluster.nodeDb(SOURCE), async (db) => Number(((await db('node_records').where({ source_node: SOURCE }).whereIn('class', ['public', 'shared']).count({ n: '*' }).first()) as { n: number | string }).n));
      await waitFor(`${RECEIVER} to receive ${distributable} records`, async () => {
        const n = await withDb(cluster.nodeDb(RECEIVER), async (db) => Number(((await db('node_records').where({ source_node: SOURCE }).count({ n: '*' }).first()) as { n: number | string }).n));
        return n >= distributable ? n : undefined;
      }, { timeoutMs: 120_000, everyMs: 300 });

      const c = await census(cluster, SOURCE, [RECEIVER], [readFileSync(nodeKeyFile, 'utf8')]);
      const { lost, duplicates } = lostAndDuplicated(c);
      const atNodeLost = Math.max(0, expected - c.nodeOwn);
      const atNodeExtra = Math.max(0, c.nodeOwn - expected);
      const audit = {
        node: await checkAudit(cluster.nodeDb(SOURCE), signers.node, caPem, dir),
        hub: await checkAudit(cluster.hubDb, signers.hub, caPem, dir),
        receiver: await checkAudit(cluster.nodeDb(RECEIVER), signers.receiver, caPem, dir),
      };
      const res: RunResult = {
        run, target, killAfterMs, trigger, landed, lines: o.lines, valid, committedBeforeKill, rerun, expectedAtNode: expected, census: c,
        lost: lost + atNodeLost, duplicates: duplicates + atNodeExtra, audit, seconds: Math.round((Date.now() - r0) / 100) / 10,
      };
      results.push(res);
      log(
        `run ${run}/${o.runs} kill ${target} at +${killAfterMs} ms [${trigger}] (${landed}; ${committedBeforeKill}/${valid} committed${rerun ? `; re-run: ${rerun.accepted} new, ${rerun.duplicates} duplicates` : ''}): ` +
          `node ${c.nodeOwn}/${expected}, hub ${c.hubRecords}, ${RECEIVER} ${c.receivers[0]!.held}/${c.receivers[0]!.expected}, lost ${res.lost}, duplicates ${res.duplicates}, ` +
          `receipts ${c.receiptsMatched}/${c.receipts}, audit ${Object.entries(audit).map(([k, a]) => `${k} ${a.ok ? 'ok' : a.code}`).join(', ')}${c.problems.length ? `; ${c.problems.slice(0, 3).join(' | ')}` : ''} (${res.seconds} s)`,
      );
    }
    await cluster.close();
    if (o.cliAudit) cliAudit = await auditWithCli(cluster, dir);
  } finally {
    await cluster.close();
    if (own && !o.keep) rmSync(dir, { recursive: true, force: true });
  }

  const last = results.at(-1);
  const kills = { import: 0, send: 0, hub: 0, pull: 0 } as Record<CrashTarget, number>;
  for (const r of results) kills[r.target]++;
  return {
    options: { runs: o.runs, seed: o.seed, lines: o.lines },
    runs: results,
    totals: {
      kills,
      landedDuring: results.filter((r) => r.landed === 'during').length,
      importLines,
      recordsAtNode: last?.census.nodeOwn ?? 0,
      recordsAtHub: last?.census.hubRecords ?? 0,
      recordsAtReceiver: last?.census.receivers[0]?.held ?? 0,
      lost: results.reduce((s, r) => s + r.lost, 0),
      duplicates: results.reduce((s, r) => s + r.duplicates, 0),
      receipts: last?.census.receipts ?? 0,
      receiptsMatched: last?.census.receiptsMatched ?? 0,
      auditVerified: results.reduce((s, r) => s + Object.values(r.audit).filter((a) => a.ok).length, 0),
      auditChecks: results.reduce((s, r) => s + Object.values(r.audit).length, 0),
      importsRerun: results.filter((r) => r.rerun).length,
      seconds: Math.round((Date.now() - t0) / 1000),
    },
    ...(cliAudit ? { cliAudit } : {}),
  };
}

/** `credit audit export --key --cert` then `credit audit verify --ca` for both nodes and the hub (processes stopped). */
async function auditWithCli(cluster: Cluster, dir: string): Promise<Record<string, { ok: boolean; output: string }>> {
  const out: Record<string, { ok: boolean; output: string }> = {};
  const ex = (id: string) => join(cluster.node(id).dataDir, 'exchange');
  const stores: [string, string, string, string][] = [
    [SOURCE, cluster.nodeDb(SOURCE), join(ex(SOURCE), 'node.key'), join(ex(SOURCE), 'node.pem')],
    [RECEIVER, cluster.nodeDb(RECEIVER), join(ex(RECEIVER), 'node.key'), join(ex(RECEIVER), 'node.pem')],
    ['430000', cluster.hubDb, join(cluster.hubDir, 'data', 'hub.key'), join(cluster.hubDir, 'data', 'hub.pem')],
  ];
  for (const [id, db, key, cert] of stores) {
    const bundle = join(dir, `audit-${id}.ndjson`);
    const e = await credit(['audit', 'export', '--db', db, '--out', bundle, '--key', key, '--cert', cert], { env: cluster.env });
    if (e.code !== 0) {
      out[id] = { ok: false, output: `export failed: ${e.stderr.trim()}` };
      continue;
    }
    const v = await credit(['audit', 'verify', bundle, '--ca', cluster.caCertFile, '--node', id, '--allow-unwitnessed'], { env: cluster.env });
    out[id] = { ok: v.code === 0, output: (v.stdout + v.stderr).trim() };
  }
  return out;
}
