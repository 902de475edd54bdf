/**
 * The files a server keeps at rest, shared by node/ and hub/: the data directory (mode 0700, also
 * when it already exists), the SQLite store and its -wal/-shm/-journal files (0600; SQLite gives
 * the side files the mode of the database file), and the data-directory lock that keeps a second
 * server process off a directory one is already using.
 *
 * The lock is DATADIR/.datadir.lock, created with O_EXCL and holding `{"pid":…,"start":…}` (start:
 * the holder's start time from /proc, where there is one). A holder that is gone — no such process,
 * a zombie, or a different process that got the pid since (another start time), or this very pid
 * from an earlier life of a container — leaves a stale lock, which the next start takes over: a
 * crash or SIGKILL never blocks the restart.
 */
import { chmodSync, closeSync, existsSync, fchmodSync, linkSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, statSync, unlinkSync, constants } from 'node:fs';
import { dirname, join } from 'node:path';
import { writeNewFile } from '../certs/safe-files.js';
import { serviceError } from '../protocol/service-errors.js';

export const DATADIR_LOCK = '.datadir.lock';

/** Creates `dir` (and its parents) if needed and sets it to 0700. */
export function secureDataDir(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
}

/** Creates the SQLite file `file` with mode 0600 when it is absent, and sets it and its side files to 0600. */
export function secureSqliteFiles(file: string): void {
  const fd = openSync(file, constants.O_RDWR | constants.O_CREAT, 0o600);
  try {
    fchmodSync(fd, 0o600);
  } finally {
    closeSync(fd);
  }
  for (const side of ['-wal', '-shm', '-journal']) {
    try {
      chmodSync(`${file}${side}`, 0o600);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
  }
}

interface Holder {
  pid: number;
  start?: string;
}

/** State and start time of a process from /proc (Linux); undefined where there is no /proc. */
function procStat(pid: number): { state: string; start: string } | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = text.slice(text.lastIndexOf(')') + 2).split(' ');
    return { state: f[0]!, start: f[19]! };
  } catch {
    return undefined;
  }
}

function readHolder(path: string): Holder | null {
  try {
    const h = JSON.parse(readFileSync(path, 'utf8')) as Holder;
    return Number.isInteger(h.pid) && h.pid > 0 ? h : null;
  } catch {
    return null;
  }
}

/** Paths this process holds (a second start inside one process is refused too). */
const held = new Set<string>();

function holderAlive(h: Holder): boolean {
  if (h.pid === process.pid) return false; // this pid in an earlier life (the set above covers this life)
  try {
    process.kill(h.pid, 0);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  const stat = procStat(h.pid);
  if (stat === undefined) return true;
  if (stat.state === 'Z' || stat.state === 'X') return false;
  return h.start === undefined || h.start === stat.start;
}

/** A lock file without a holder in it for over 5 s: its writer died between creating and writing it. */
function unreadableForLong(path: string): boolean {
  try {
    return Date.now() - statSync(path).mtimeMs > 5000;
  } catch {
    return false;
  }
}

function locked(dir: string, h: Holder | null): never {
  const who = h ? `process ${h.pid}` : 'another process (starting)';
  throw serviceError('ERR_DATADIR_LOCKED', `data directory ${dir} is in use by ${who}; stop it first (if no such process runs, remove ${join(dir, DATADIR_LOCK)})`, {
    dataDir: dir,
    ...(h ? { pid: h.pid } : {}),
  });
}

export interface DataDirLock {
  readonly path: string;
  /** Removes the lock (once; a lock taken over by someone else is left alone). */
  release(): void;
}

/** Takes the lock on `dir`, or throws ERR_DATADIR_LOCKED naming the holder's pid. */
export function lockDataDir(dir: string): DataDirLock {
  const path = join(dir, DATADIR_LOCK);
  if (held.has(path)) locked(dir, { pid: process.pid });
  const start = procStat(process.pid)?.start;
  const mine = JSON.stringify({ pid: process.pid, ...(start ? { start } : {}) });
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      writeNewFile(path, `${mine}\n`, 0o600);
      held.add(path);
      let released = false;
      return {
        path,
        release() {
          if (released) return;
          released = true;
          held.delete(path);
          if (readHolder(path)?.pid === process.pid) unlinkSync(path);
        },
      };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    const holder = readHolder(path);
    if (holder === null ? !unreadableForLong(path) : holderAlive(holder)) locked(dir, holder);
    // Stale: move it aside (only one process can), and put it back if it was not the stale one.
    const aside = `${path}.${process.pid}.stale`;
    try {
      renameSync(path, aside);
    } catch {
      continue;
    }
    const moved = readHolder(aside);
    if (moved && moved.pid !== holder?.pid && holderAlive(moved)) {
      try {
        linkSync(aside, path);
      } catch {
        /* a third process locked it meanwhile */
      }
      rmSync(aside, { force: true });
      locked(dir, moved);
    }
    rmSync(aside, { force: true });
  }
  return locked(dir, readHolder(path));
}

/** A file a start creates (mode 0600) once its checks have passed: a generated secret, say. */
export interface NewFile {
  path: string;
  content: string;
}

export interface PreparedDataDir {
  lock: DataDirLock;
  /**
   * After a failed start: releases the lock and removes what this start created — the data
   * directory (and parents) when it was absent, else the new files and the stores in `stores`
   * that were absent — so the disk is as it was before.
   */
  undo(): void;
}

/**
 * What a server start changes on disk, done only after every check that can fail has passed:
 * creates the data directory (0700, also set on an existing one), takes its lock
 * (ERR_DATADIR_LOCKED), then writes `files` (0600). `stores`: SQLite files the start may create,
 * removed (with their side files) by undo() when they are absent now.
 */
export function prepareDataDir(dir: string, files: readonly NewFile[] = [], stores: readonly string[] = []): PreparedDataDir {
  let createdDir: string | undefined;
  try {
    createdDir = mkdirSync(dir, { recursive: true, mode: 0o700 });
    chmodSync(dir, 0o700);
  } catch (e) {
    if (createdDir !== undefined) rmSync(createdDir, { recursive: true, force: true });
    throw serviceError('ERR_CONFIG_INVALID', `config key dataDir: cannot create ${dir} or make it 0700: ${(e as Error).message}`, { key: 'dataDir' });
  }
  const created: string[] = stores.filter((s) => !existsSync(s)).flatMap((s) => [s, `${s}-wal`, `${s}-shm`, `${s}-journal`]);
  let lock: DataDirLock | undefined;
  const undo = () => {
    lock?.release();
    for (const p of created.reverse()) rmSync(p, { force: true });
    if (createdDir !== undefined) rmSync(createdDir, { recursive: true, force: true });
  };
  try {
    lock = lockDataDir(dir);
    for (const f of files) {
      mkdirSync(dirname(f.path), { recursive: true, mode: 0o700 });
      try {
        writeNewFile(f.path, f.content, 0o600);
        created.push(f.path);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
        if (readFileSync(f.path, 'utf8') !== f.content) throw serviceError('ERR_CONFIG_INVALID', `${f.path} was created by another process while this one started; start again`, { key: 'dataDir' });
      }
    }
  } catch (e) {
    undo();
    throw e;
  }
  return { lock, undo };
}
