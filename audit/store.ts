/** The SQL of audit/ outside schema.ts, prune.ts and cosign-store.ts: reads and appends of the audit tables. */
import type { Knex } from 'knex';
import type { Db } from './knex-connect.js';
import { readHashAlg } from './log-meta.js';
import { CompactRange } from './merkle.js';
import { checkpointFromRow, checkpointText, fromRow, GENESIS_HASH, toRow, type AuditEntry, type Checkpoint, type CheckpointRow, type EntryRow } from './entry.js';
import { verifyText } from './crypto.js';

/** Rows per INSERT (11 parameters each: far below SQLite's and PostgreSQL's limits). */
const CHUNK = 500;

export interface PruneBase {
  /** First seq still stored (1 when nothing was pruned). */
  firstKept: number;
  /** Compact range of leaves 1..firstKept-1. */
  range: CompactRange;
  /** Leaf hash of entry firstKept-1 (GENESIS_HASH when none). */
  prevHash: string;
}

/** The prune base; its range hashes with the log's algorithm (log-meta.ts), so do the ranges built on it. */
export async function pruneBase(db: Db): Promise<PruneBase> {
  const alg = await readHashAlg(db);
  const row = (await db('audit_prunes').orderBy('first_kept', 'desc').first()) as { first_kept: number | string; frontier: string; prev_hash: string } | undefined;
  if (!row) return { firstKept: 1, range: new CompactRange(0, [], alg), prevHash: GENESIS_HASH };
  const firstKept = Number(row.first_kept);
  return { firstKept, range: CompactRange.fromHex(firstKept - 1, JSON.parse(row.frontier) as string[], alg), prevHash: row.prev_hash };
}

/** Leaf hashes of entries from..to (inclusive), in seq order. */
export async function leafHashes(db: Db, from: number, to: number): Promise<Buffer[]> {
  const rows = (await db('audit_log').select('leaf_hash').where('seq', '>=', from).andWhere('seq', '<=', to).orderBy('seq')) as Array<{ leaf_hash: string }>;
  return rows.map((r) => Buffer.from(r.leaf_hash, 'hex'));
}

export async function lastSeq(db: Db): Promise<number> {
  const row = (await db('audit_log').max({ m: 'seq' }).first()) as { m: number | string | null } | undefined;
  return row?.m == null ? 0 : Number(row.m);
}

/** Who signed the log's checkpoints: a frontier is used only at a checkpoint this certificate's key verifies. */
export interface FrontierTrust {
  certPem: string;
  fingerprint: string;
}

export interface FrontierChoice {
  frontier: { treeSize: number; range: CompactRange; head: string } | null;
  /** Why the newest candidate failed, when that points at tampering (else null). */
  rejected: string | null;
}

/**
 * The newest persisted frontier (audit_frontiers, migration 006) that can stand for the entries up
 * to its tree size: at or after the prune base and within the stored log, its hashes well formed,
 * the root they give equal to the checkpoint's at that size, **that checkpoint's signature verified
 * with the log's own signer key** (`trust`: rows inserted by anyone else cannot pass), and its head
 * equal to the stored entry's leaf hash. The three newest candidates are tried. When none passes,
 * `rejected` says why the newest failed (null when that is no sign of tampering: no frontier, no
 * signer to check with, or a checkpoint signed under an earlier certificate), also when an older
 * one was used. Without a usable one the caller reads every leaf hash as before, so a frontier only
 * ever saves work.
 */
export async function usableFrontier(db: Db, base: PruneBase, trust: FrontierTrust | undefined): Promise<FrontierChoice> {
  const size = await lastSeq(db);
  const rows = (await db('audit_frontiers')
    .where('tree_size', '<=', Math.max(size, base.firstKept - 1))
    .andWhere('tree_size', '>=', base.firstKept - 1)
    .orderBy('tree_size', 'desc')
    .limit(3)) as Array<{ tree_size: number | string; frontier: string; head_hash: string }>;
  if (rows.length === 0 || !trust) return { frontier: null, rejected: null };
  let first: string | null | undefined;
  for (const row of rows) {
    const why = await checkFrontier(db, base, trust, row);
    if (typeof why !== 'string' && why !== null) return { frontier: why, rejected: first ?? null };
    if (first === undefined) first = why;
  }
  return { frontier: null, rejected: first ?? null };
}

async function checkFrontier(db: Db, base: PruneBase, trust: FrontierTrust, row: { tree_size: number | string; frontier: string; head_hash: string }): Promise<{ treeSize: number; range: CompactRange; head: string } | string | null> {
  const treeSize = Number(row.tree_size);
  let range: CompactRange;
  try {
    const nodes = JSON.parse(row.frontier) as unknown;
    if (!Array.isArray(nodes) || !nodes.every((n) => typeof n === 'string' && /^[0-9a-f]{64}$/.test(n))) return `the frontier at ${treeSize} is malformed`;
    range = CompactRange.fromHex(treeSize, nodes as string[], base.range.alg);
  } catch {
    return `the frontier at ${treeSize} is malformed`;
  }
  const cp = (await db('audit_checkpoints').where('tree_size', treeSize).first()) as CheckpointRow | undefined;
  if (!cp) return `no checkpoint at ${treeSize}, the frontier's size`;
  if (cp.signer_fingerprint !== trust.fingerprint) return null; // signed under an earlier certificate: read everything once, a new frontier follows
  const stored = checkpointFromRow(cp);
  if (!verifyText(trust.certPem, checkpointText(stored, base.range.alg), stored.signature)) return `the checkpoint at ${treeSize} does not verify with the log's signer`;
  if (stored.rootHash !== range.root().toString('hex')) return `the frontier at ${treeSize} does not give the signed root`;
  const head = treeSize === base.firstKept - 1
    ? base.prevHash
    : ((await db('audit_log').where('seq', treeSize).first('leaf_hash')) as { leaf_hash: string } | undefined)?.leaf_hash;
  if (head !== row.head_hash) return `the frontier's head at ${treeSize} is not the stored entry's`;
  return { treeSize, range, head };
}

/** The tree size of the newest persisted frontier within the first `size` entries (0 when none). */
export async function lastFrontierSize(db: Db, size: number): Promise<number> {
  const row = (await db('audit_frontiers').where('tree_size', '<=', size).max({ m: 'tree_size' }).first()) as { m: number | string | null } | undefined;
  return row?.m == null ? 0 : Number(row.m);
}

export async function insertFrontier(db: Db, range: CompactRange, head: string): Promise<void> {
  // another writer on the store may have written the frontier of the same checkpoint
  await db('audit_frontiers').insert({ tree_size: range.size, frontier: JSON.stringify(range.toHex()), head_hash: head }).onConflict('tree_size').ignore();
}

/**
 * Chain head and compact range of everything stored (what an open log keeps in memory): from the
 * newest usable frontier when there is one, else from the prune base; then the leaf hashes after it.
 * `leavesRead` is how many entries were read (bounded by the frontier interval when a frontier was
 * used); `frontierRejected` says why a frontier that should have been usable was not (a sign the
 * audit tables were written outside the log: the servers warn and audit it).
 */
export async function loadHead(db: Db, trust?: FrontierTrust): Promise<{ range: CompactRange; head: string; leavesRead: number; frontierRejected: string | null }> {
  const base = await pruneBase(db);
  const choice = await usableFrontier(db, base, trust);
  const frontier = choice.frontier;
  const range = frontier ? frontier.range : base.range.clone();
  let head = frontier ? frontier.head : base.prevHash;
  const leaves = await leafHashes(db, frontier ? frontier.treeSize + 1 : base.firstKept, Number.MAX_SAFE_INTEGER);
  for (const l of leaves) range.append(l);
  if (leaves.length) head = leaves[leaves.length - 1]!.toString('hex');
  return { range, head, leavesRead: leaves.length, frontierRejected: choice.rejected };
}

export async function entries(db: Db, from: number, to: number): Promise<AuditEntry[]> {
  const rows = (await db('audit_log').select('*').where('seq', '>=', from).andWhere('seq', '<=', to).orderBy('seq')) as EntryRow[];
  return rows.map(fromRow);
}

/** What the audit viewer filters by (docs/consoles.md): times are ISO 8601 UTC, texts match a prefix (actor, action) or a substring (object). */
export interface EntryFilter {
  since?: string;
  until?: string;
  actor?: string;
  action?: string;
  object?: string;
  outcome?: 'success' | 'failure';
  /** Only entries with a smaller seq (the next page, newest first). */
  beforeSeq?: number;
  limit: number;
}

const likeEscape = (s: string) => s.replace(/[\\%_]/g, (c) => `\\${c}`);

/** Entries matching `f`, newest first, at most `f.limit`. */
export async function findEntries(db: Db, f: EntryFilter): Promise<AuditEntry[]> {
  const q = db('audit_log').select('*').orderBy('seq', 'desc').limit(f.limit);
  if (f.since) q.where('time', '>=', f.since);
  if (f.until) q.where('time', '<', f.until);
  if (f.actor) q.whereRaw("actor LIKE ? ESCAPE '\\'", [`${likeEscape(f.actor)}%`]);
  if (f.action) q.whereRaw("action LIKE ? ESCAPE '\\'", [`${likeEscape(f.action)}%`]);
  if (f.object) q.whereRaw("object LIKE ? ESCAPE '\\'", [`%${likeEscape(f.object)}%`]);
  if (f.outcome) q.where('outcome', f.outcome);
  if (f.beforeSeq !== undefined) q.where('seq', '<', f.beforeSeq);
  return ((await q) as EntryRow[]).map(fromRow);
}

/** Entries per UTC day from `since` (ISO) on: [{ day: 'YYYY-MM-DD', n }], oldest first. */
export async function entriesPerDay(db: Db, since: string): Promise<{ day: string; n: number }[]> {
  const rows = (await db('audit_log').select(db.raw('substr(time, 1, 10) as day')).count({ n: '*' }).where('time', '>=', since).groupByRaw('substr(time, 1, 10)').orderBy('day')) as { day: string; n: number | string }[];
  return rows.map((r) => ({ day: r.day, n: Number(r.n) }));
}

const ENTRY_COLUMNS = ['seq', 'time', 'actor', 'actor_node', 'action', 'object', 'class', 'outcome', 'reason', 'prev_hash', 'leaf_hash'] as const;
const ROW_SQL = `(${ENTRY_COLUMNS.map(() => '?').join(',')})`;

/** One multi-row VALUES insert per CHUNK rows (knex's builder emits a slow compound SELECT on SQLite). */
export async function insertEntries(db: Db, list: readonly AuditEntry[]): Promise<void> {
  for (let i = 0; i < list.length; i += CHUNK) {
    const rows = list.slice(i, i + CHUNK).map(toRow);
    const values: Array<string | number | null> = [];
    for (const r of rows) for (const c of ENTRY_COLUMNS) values.push(r[c]);
    await db.raw(`INSERT INTO audit_log (${ENTRY_COLUMNS.join(',')}) VALUES ${rows.map(() => ROW_SQL).join(',')}`, values);
  }
}

export interface StoredCheckpoint extends Checkpoint {
  certPem: string;
  chainPems: string[];
}

function storedFromRow(r: CheckpointRow): StoredCheckpoint {
  return { ...checkpointFromRow(r), certPem: r.cert_pem, chainPems: JSON.parse(r.chain_pems) as string[] };
}

export async function insertCheckpoint(db: Db, c: StoredCheckpoint): Promise<void> {
  await db('audit_checkpoints').insert({
    tree_size: c.treeSize, root_hash: c.rootHash, time: c.time, node_id: c.nodeId, signature: c.signature,
    signer_fingerprint: c.signerFingerprint, cert_pem: c.certPem, chain_pems: JSON.stringify(c.chainPems),
  }).onConflict('tree_size').ignore(); // an export may already have signed this size
}

export async function latestCheckpoint(db: Db): Promise<StoredCheckpoint | null> {
  const row = (await db('audit_checkpoints').orderBy('tree_size', 'desc').first()) as CheckpointRow | undefined;
  return row ? storedFromRow(row) : null;
}

export async function checkpointAt(db: Db, treeSize: number): Promise<StoredCheckpoint | null> {
  const row = (await db('audit_checkpoints').where('tree_size', treeSize).first()) as CheckpointRow | undefined;
  return row ? storedFromRow(row) : null;
}

export async function checkpointsBetween(db: Db, from: number, to: number): Promise<StoredCheckpoint[]> {
  const rows = (await db('audit_checkpoints').where('tree_size', '>=', from).andWhere('tree_size', '<=', to).orderBy('tree_size')) as CheckpointRow[];
  return rows.map(storedFromRow);
}

export type { Knex };
