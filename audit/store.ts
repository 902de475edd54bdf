/** The SQL of audit/ outside schema.ts, prune.ts and cosign-store.ts: reads and appends of the audit tables. */
import type { Knex } from 'knex';
import type { Db } from './knex-connect.js';
import { readHashAlg } from './log-meta.js';
import { CompactRange } from './merkle.js';
import { checkpointFromRow, fromRow, GENESIS_HASH, toRow, type AuditEntry, type Checkpoint, type CheckpointRow, type EntryRow } from './entry.js';

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

/**
 * The newest persisted frontier (audit_frontiers, migration 006) that can stand for the entries up
 * to its tree size: at or after the prune base, within the stored log, the root of its compact
 * range equal to the signed checkpoint's at that size, and its head equal to the stored entry's leaf
 * hash. Anything else (a frontier edited in the database, a log restored shorter) returns null, and
 * the caller reads every leaf hash as before: the frontier only saves work, it is never trusted alone.
 */
export async function usableFrontier(db: Db, base: PruneBase): Promise<{ treeSize: number; range: CompactRange; head: string } | null> {
  const row = (await db('audit_frontiers').orderBy('tree_size', 'desc').first()) as { tree_size: number | string; frontier: string; head_hash: string } | undefined;
  if (!row) return null;
  const treeSize = Number(row.tree_size);
  if (treeSize < base.firstKept - 1) return null;
  let range: CompactRange;
  try {
    const nodes = JSON.parse(row.frontier) as unknown;
    if (!Array.isArray(nodes) || !nodes.every((n) => typeof n === 'string' && /^[0-9a-f]{64}$/.test(n))) return null;
    range = CompactRange.fromHex(treeSize, nodes as string[], base.range.alg);
  } catch {
    return null;
  }
  const cp = (await db('audit_checkpoints').where('tree_size', treeSize).first('root_hash')) as { root_hash: string } | undefined;
  if (!cp || cp.root_hash !== range.root().toString('hex')) return null;
  const head = treeSize === base.firstKept - 1
    ? base.prevHash
    : ((await db('audit_log').where('seq', treeSize).first('leaf_hash')) as { leaf_hash: string } | undefined)?.leaf_hash;
  if (head !== row.head_hash) return null;
  return { treeSize, range, head };
}

/** The tree size of the newest persisted frontier (0 when none). */
export async function lastFrontierSize(db: Db): Promise<number> {
  const row = (await db('audit_frontiers').max({ m: 'tree_size' }).first()) as { m: number | string | null } | undefined;
  return row?.m == null ? 0 : Number(row.m);
}

export async function insertFrontier(db: Db, range: CompactRange, head: string): Promise<void> {
  await db('audit_frontiers').insert({ tree_size: range.size, frontier: JSON.stringify(range.toHex()), head_hash: head });
}

/**
 * Chain head and compact range of everything stored (what an open log keeps in memory): from the
 * newest usable frontier when there is one, else from the prune base; then the leaf hashes after it.
 * `leavesRead` is how many entries were read (start-up work is bounded by the frontier interval).
 */
export async function loadHead(db: Db): Promise<{ range: CompactRange; head: string; leavesRead: number }> {
  const base = await pruneBase(db);
  const frontier = await usableFrontier(db, base);
  const range = frontier ? frontier.range : base.range.clone();
  let head = frontier ? frontier.head : base.prevHash;
  const leaves = await leafHashes(db, frontier ? frontier.treeSize + 1 : base.firstKept, Number.MAX_SAFE_INTEGER);
  for (const l of leaves) range.append(l);
  if (leaves.length) head = leaves[leaves.length - 1]!.toString('hex');
  return { range, head, leavesRead: leaves.length };
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
