/**
 * Shared pieces of the end-to-end tests: a federation of real processes (scripts/demo/federation.ts)
 * in a temporary directory, read-only looks into the hub's and nodes' SQLite files, and an
 * mTLS client that speaks for an enrolled node from its exchange directory.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import { connect } from '../../audit/knex-connect.js';
import { tlsClientOptions } from '../../certs/tls.js';
import { Federation, waitFor, type FederationOptions, type NodeSpec } from '../../scripts/demo/federation.js';

export { waitFor };

export const CHANGSHA: NodeSpec = { id: '430100', name: '长沙市', grade: 3 };
export const CHANGDE: NodeSpec = { id: '430700', name: '常德市', grade: 2 };
export const LIUYANG: NodeSpec = { id: '430181', name: '浏阳市', grade: 3 };

/** Fast loops so the tests do not wait on production intervals. */
export const FAST = { pollIntervalMs: 150, batchMaxAgeMs: 50, checkpointIntervalMs: 500, timeoutMs: 5000 };

export interface ExchangeStatus {
  outbox: { pending: number };
  batches: { pending: number; accepted: number; refused: number; lastSeq: number };
  inbox: { cursor: number; applied: number };
  certificate: { serial: string; notAfter: string; renewFrom: string };
  witness: { treeSize: number; cosignedAt: string } | null;
  lastError: { loop: string; code: string; message: string; at: string } | null;
}

/** The test's hooks the federation needs: teardown, and (tap) passing/comment to show the logs of a failed test. */
interface TestHooks {
  teardown(fn: () => unknown): void;
  passing?(): boolean;
  comment?(...message: unknown[]): void;
}

/** The last `lines` lines of every process log under `dir` (hub.log, node.log), for a failed test's output. */
function logTails(dir: string, lines = 40): string[] {
  const logs = readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.log')).sort();
  return logs.map((f) => `--- ${f} (last ${lines} lines)\n${readFileSync(join(dir, f), 'utf8').trimEnd().split('\n').slice(-lines).join('\n')}`);
}

/**
 * A federation in a temporary directory, removed at teardown — unless CF_E2E_KEEP=1 (then its path
 * is printed). A failed test prints the tail of every process log (CI keeps nothing else).
 */
export async function federation(t: TestHooks, opts: FederationOptions = {}): Promise<Federation> {
  const dir = mkdtempSync(join(tmpdir(), 'cf-e2e-'));
  const fed = new Federation(dir, { ...opts, nodeHubConfig: { ...FAST, ...opts.nodeHubConfig } });
  t.teardown(async () => {
    await fed.close();
    if (t.passing?.() === false) for (const tail of logTails(dir)) t.comment?.(tail);
    if (process.env.CF_E2E_KEEP === '1') {
      t.comment?.(`federation kept in ${dir} (CF_E2E_KEEP=1)`);
      return;
    }
    rmSync(dir, { recursive: true, force: true });
  });
  await fed.init();
  await fed.startHub();
  return fed;
}

export async function status(fed: Federation, id: string): Promise<ExchangeStatus> {
  const r = await fed.api<ExchangeStatus>(id, 'GET', '/v1/exchange/status');
  if (r.status !== 200) throw new Error(`status of ${id}: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body;
}

/** Waits until the node has nothing left to send. */
export function drained(fed: Federation, id: string, timeoutMs = 30_000): Promise<ExchangeStatus> {
  return waitFor(`${id}'s outbox to drain`, async () => {
    const s = await status(fed, id);
    return s.outbox.pending === 0 && s.batches.pending === 0 ? s : undefined;
  }, { timeoutMs });
}

/** Runs `fn` on a fresh knex connection to a SQLite file, then closes it. */
export async function withSqlite<T>(file: string, fn: (db: Awaited<ReturnType<typeof connect>>) => Promise<T>): Promise<T> {
  const db = await connect(file);
  try {
    return await fn(db);
  } finally {
    await db.destroy();
  }
}

export const hubDb = (fed: Federation) => join(fed.hubDir, 'data', 'hub.sqlite');
export const nodeDb = (fed: Federation, id: string) => join(fed.node(id).dir, 'data', 'node.sqlite');

/** Ids of the hub's records from `source` (with duplicates, if there were any). */
export function hubRecordIds(fed: Federation, source: string): Promise<string[]> {
  return withSqlite(hubDb(fed), async (db) => (await db('hub_records').where({ source_node: source }).select('id')).map((r: { id: string }) => r.id));
}

/** Ids of records held at node `id` that came from `source`. */
export function nodeRecordIds(fed: Federation, id: string, source: string, status?: string): Promise<string[]> {
  return withSqlite(nodeDb(fed, id), async (db) => {
    const q = db('node_records').where({ source_node: source });
    if (status) void q.andWhere({ status });
    return (await q.select('id')).map((r: { id: string }) => r.id);
  });
}

/** An undici Agent presenting node `id`'s certificate (from its exchange directory) to the hub. */
export function nodeAgent(fed: Federation, id: string): { agent: Agent; keyPem: string; certPem: string; hubCertPem: string } {
  const ex = join(fed.node(id).dir, 'data', 'exchange');
  const keyPem = readFileSync(join(ex, 'node.key'), 'utf8');
  const certPem = readFileSync(join(ex, 'node.pem'), 'utf8');
  const hubCertPem = readFileSync(join(ex, 'hub.pem'), 'utf8');
  const caCertPem = readFileSync(fed.caCertFile, 'utf8');
  const agent = new Agent({ connect: tlsClientOptions({ caCertPem, certPem, keyPem, expectNodeId: '430000' }) });
  return { agent, keyPem, certPem, hubCertPem };
}

export async function post(agent: Agent, url: string, body: unknown): Promise<{ status: number; json: any }> { // eslint-disable-line @typescript-eslint/no-explicit-any
  const res = await request(url, { method: 'POST', dispatcher: agent, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const text = await res.body.text();
  return { status: res.statusCode, json: text ? JSON.parse(text) : null };
}
