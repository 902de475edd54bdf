/**
 * Backup and restore of a node (`credit node backup` / `credit node restore`).
 *
 * A backup is a directory (mode 0700):
 *   manifest.json   { format: 'credit-node-backup/1', nodeId, engine: 'sqlite' | 'pg', createdAt, store, files }
 *   node.sqlite     (SQLite) a consistent copy of the store, made with `VACUUM INTO` while the node runs
 *   data/           every file of the data directory except the store, its -wal/-shm/-journal files and
 *                   the lock: exchange/ (node key and certificate, CA, hub certificate, CRL, enrolment),
 *                   subject.key, jwt.secret, the province catalog, … — but not the data key file
 *                   (DATADIR/data.key): record rows stay sealed in the copy and the key is backed up
 *                   apart from it (docs/at-rest.md § Key backup)
 * On PostgreSQL the store is not copied: the backup names the `pg_dump` / `pg_restore` commands to run
 * (pgCommands) and copies the data directory the same way.
 *
 * Restore refuses a data directory a server process is using (ERR_DATADIR_LOCKED: it takes the lock
 * itself for the duration) and a backup of another node or of an unknown format (ERR_BACKUP_INVALID).
 * A node restored from an older backup resynchronises with the hub when it starts (exchange/resync.ts).
 * Restore also writes RESTORE_MARKER (`restored.json`: { format, backupCreatedAt, restoredAt }) into
 * the data directory: the witness loop (exchange/witness.ts) asks the hub for an armed witness reset
 * with it, since the restored audit log no longer extends the head the hub cosigned, and removes it
 * once the hub has taken the reset. `createdAt` is taken before the store is copied, so every head
 * the hub cosigned before it is in the copy (README "Backup and restore", docs/audit-format.md §10a).
 */
import { chmodSync, copyFileSync, cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { connect, isPostgresUrl } from '../audit/knex-connect.js';
import { DATADIR_LOCK, lockDataDir } from '../audit/store-files.js';
import { atRestOptions } from '../server/config-schema.js';
import type { NodeConfig } from './config.js';
import { nodeError } from './errors.js';

export const BACKUP_FORMAT = 'credit-node-backup/1';
const MANIFEST = 'manifest.json';
const STORE_COPY = 'node.sqlite';
const DATA = 'data';
/** In the data directory after a restore, until the hub has taken the node's witness reset. */
export const RESTORE_MARKER = 'restored.json';
export const RESTORE_MARKER_FORMAT = 'credit-node-restored/1';

export interface RestoreMarker {
  format: typeof RESTORE_MARKER_FORMAT;
  backupCreatedAt: string;
  restoredAt: string;
}

/** The restore marker of a data directory, or null (none, or unreadable: then no reset is asked for). */
export function readRestoreMarker(dataDir: string): RestoreMarker | null {
  try {
    const m = JSON.parse(readFileSync(join(dataDir, RESTORE_MARKER), 'utf8')) as RestoreMarker;
    return m.format === RESTORE_MARKER_FORMAT && typeof m.backupCreatedAt === 'string' && /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/.test(m.backupCreatedAt) ? m : null;
  } catch {
    return null;
  }
}

export function clearRestoreMarker(dataDir: string): void {
  rmSync(join(dataDir, RESTORE_MARKER), { force: true });
}

export interface BackupManifest {
  format: typeof BACKUP_FORMAT;
  nodeId: string;
  engine: 'sqlite' | 'pg';
  createdAt: string;
  /** SQLite: the copy's file name in the backup; PostgreSQL: the dump file the operator writes there. */
  store: string;
  /** The data-directory files in data/, relative paths. */
  files: string[];
}

/**
 * The PostgreSQL commands to dump a node's store into `out` and to restore it from there. `schema`:
 * the node's tables live in one schema of a shared database (pg_dump --schema; pg_restore --clean
 * then replaces only that schema's objects).
 */
export function pgCommands(url: string, out: string, schema?: string): { dump: string; restore: string } {
  const file = join(out, 'node.pgdump');
  return {
    dump: `pg_dump --format=custom --no-owner${schema ? ` --schema='${schema}'` : ''} --file='${file}' '${url}'`,
    restore: `pg_restore --clean --if-exists --no-owner --dbname='${url}' '${file}'`,
  };
}

/**
 * Data-directory entries that are not copied: the store and its side files, the lock, and the data
 * key file of encryption at rest (and its temporary files): a backup holds the store sealed, never
 * the key that opens it (docs/at-rest.md § Key backup).
 */
function skipped(config: NodeConfig): (rel: string) => boolean {
  const store = isPostgresUrl(config.databaseTarget) ? null : resolve(config.databaseTarget);
  const side = store ? new Set([store, `${store}-wal`, `${store}-shm`, `${store}-journal`]) : new Set<string>();
  const keyFile = resolve(atRestOptions(config).keyFile);
  return (rel) => {
    const name = basename(rel);
    const abs = resolve(config.dataDir, rel);
    if (abs === keyFile || (dirname(abs) === dirname(keyFile) && name.startsWith(`.${basename(keyFile)}.`))) return true;
    return side.has(abs) || name === DATADIR_LOCK || name.startsWith(`${DATADIR_LOCK}.`);
  };
}

function listFiles(root: string, skip: (rel: string) => boolean, under = ''): string[] {
  const out: string[] = [];
  for (const e of readdirSync(join(root, under), { withFileTypes: true })) {
    const rel = under ? join(under, e.name) : e.name;
    if (skip(rel)) continue;
    if (e.isDirectory()) out.push(...listFiles(root, skip, rel));
    else if (e.isFile()) out.push(rel);
  }
  return out.sort();
}

function copyFiles(from: string, to: string, files: string[]): void {
  for (const f of files) {
    mkdirSync(dirname(join(to, f)), { recursive: true, mode: 0o700 });
    cpSync(join(from, f), join(to, f), { preserveTimestamps: true, force: true });
  }
}

/** Writes a backup of the (running or stopped) node into the new directory `out`. */
export async function backupNode(config: NodeConfig, out: string, now = new Date()): Promise<BackupManifest> {
  // `now` is taken before the store is copied: a witness reset starts from the largest head the hub
  // cosigned before it, which the copy therefore holds (docs/audit-format.md §10a).
  const rel = relative(resolve(config.dataDir), resolve(out));
  if (rel === '' || !(rel.startsWith('..') || resolve(out) === rel)) throw nodeError('ERR_BACKUP_INVALID', `${out} is inside the data directory ${config.dataDir}: put the backup elsewhere`, { out });
  if (existsSync(out) && readdirSync(out).length > 0) throw nodeError('ERR_BACKUP_INVALID', `${out} exists and is not empty: name a new directory for the backup`, { out });
  mkdirSync(out, { recursive: true, mode: 0o700 });
  chmodSync(out, 0o700);
  const pg = isPostgresUrl(config.databaseTarget);
  if (!pg) {
    if (!existsSync(config.databaseTarget)) throw nodeError('ERR_BACKUP_INVALID', `the node's store ${config.databaseTarget} does not exist`, { store: config.databaseTarget });
    const db = await connect(config.databaseTarget);
    try {
      // one read transaction: the copy is the store as of one commit, while the node goes on writing
      await db.raw('VACUUM INTO ?', [join(out, STORE_COPY)]);
    } finally {
      await db.destroy();
    }
    chmodSync(join(out, STORE_COPY), 0o600);
  }
  const files = listFiles(config.dataDir, skipped(config));
  copyFiles(config.dataDir, join(out, DATA), files);
  const manifest: BackupManifest = { format: BACKUP_FORMAT, nodeId: config.nodeId, engine: pg ? 'pg' : 'sqlite', createdAt: now.toISOString(), store: pg ? 'node.pgdump' : STORE_COPY, files };
  writeFileSync(join(out, MANIFEST), JSON.stringify(manifest, null, 2) + '\n', { mode: 0o600 });
  return manifest;
}

export function readManifest(from: string): BackupManifest {
  let m: BackupManifest;
  try {
    m = JSON.parse(readFileSync(join(from, MANIFEST), 'utf8')) as BackupManifest;
  } catch (e) {
    throw nodeError('ERR_BACKUP_INVALID', `${from} is not a node backup: ${MANIFEST} cannot be read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`, { from });
  }
  if (m.format !== BACKUP_FORMAT || !Array.isArray(m.files) || (m.engine !== 'sqlite' && m.engine !== 'pg')) {
    throw nodeError('ERR_BACKUP_INVALID', `${from} is not a node backup of format ${BACKUP_FORMAT}`, { from });
  }
  for (const f of m.files) {
    if (typeof f !== 'string' || f.startsWith('/') || relative(join(from, DATA), join(from, DATA, f)).startsWith('..')) throw nodeError('ERR_BACKUP_INVALID', `${from}: ${MANIFEST} names a file outside data/`, { from });
  }
  return m;
}

/**
 * Restores the backup `from` over the node's data directory and (SQLite) store. The node must be
 * stopped: the data-directory lock is taken for the duration (ERR_DATADIR_LOCKED otherwise).
 */
export async function restoreNode(config: NodeConfig, from: string): Promise<BackupManifest> {
  const m = readManifest(from);
  if (m.nodeId !== config.nodeId) throw nodeError('ERR_BACKUP_INVALID', `${from} is a backup of node ${m.nodeId}, this config is node ${config.nodeId}`, { from, backupNode: m.nodeId, nodeId: config.nodeId });
  const pg = isPostgresUrl(config.databaseTarget);
  if ((m.engine === 'pg') !== pg) throw nodeError('ERR_BACKUP_INVALID', `${from} holds a ${m.engine === 'pg' ? 'PostgreSQL' : 'SQLite'} node; this config uses ${pg ? 'PostgreSQL' : 'SQLite'}`, { from, engine: m.engine });
  if (m.engine === 'sqlite' && !existsSync(join(from, m.store))) throw nodeError('ERR_BACKUP_INVALID', `${from}: the store copy ${m.store} is missing`, { from });
  for (const f of m.files) if (!existsSync(join(from, DATA, f))) throw nodeError('ERR_BACKUP_INVALID', `${from}: data/${f} is missing`, { from, file: f });
  mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
  const lock = lockDataDir(config.dataDir);
  try {
    copyFiles(join(from, DATA), config.dataDir, m.files);
    const marker: RestoreMarker = { format: RESTORE_MARKER_FORMAT, backupCreatedAt: m.createdAt, restoredAt: new Date().toISOString() };
    writeFileSync(join(config.dataDir, RESTORE_MARKER), JSON.stringify(marker) + '\n', { mode: 0o600 }); // after the copy: a marker inside the backup is replaced
    if (m.engine === 'sqlite') {
      const store = config.databaseTarget;
      for (const side of ['-wal', '-shm', '-journal']) rmSync(`${store}${side}`, { force: true }); // they belong to the store being replaced
      copyFileSync(join(from, m.store), store);
      chmodSync(store, 0o600);
    }
  } finally {
    lock.release();
  }
  return m;
}
