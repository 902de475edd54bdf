/**
 * Careful file writes for key material and the CA state: new files are created exclusively with
 * their final mode (fchmod defeats the umask), replaced files are written to a temporary name,
 * fsynced and renamed over the old one, and a lock file made with O_EXCL serialises processes.
 */
import { closeSync, fchmodSync, fstatSync, fsyncSync, lstatSync, openSync, readFileSync, renameSync, rmSync, unlinkSync, writeSync, constants } from 'node:fs';
import { dirname, join, basename } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { certError } from './errors.js';

/**
 * Creates `path` with `data` and `mode`; throws node's EEXIST error if it is already there. Every
 * byte is written (a write may take fewer than it was given: a file-size limit, a quota, some network
 * file systems) and synced; on any failure the file it created is removed, so no torn file is left.
 */
export function writeNewFile(path: string, data: string, mode: number): void {
  const fd = openSync(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, mode);
  try {
    fchmodSync(fd, mode);
    const buf = Buffer.from(data, 'utf8');
    for (let at = 0; at < buf.length; ) {
      const n = writeSync(fd, buf, at, buf.length - at);
      if (n <= 0) throw new Error(`short write to ${path}: ${at} of ${buf.length} bytes`);
      at += n;
    }
    fsyncSync(fd);
  } catch (e) {
    // remove the file this call created, and only it: another process may have replaced it meanwhile
    // (a lock judged stale from a partial pid), and that one must stay
    try {
      const mine = fstatSync(fd);
      const there = lstatSync(path, { throwIfNoEntry: false });
      if (there && there.ino === mine.ino && there.dev === mine.dev) rmSync(path, { force: true });
    } finally {
      closeSync(fd);
    }
    throw e;
  }
  closeSync(fd);
}

/** Syncs a directory, so that a file just created or renamed in it survives a power cut. */
export function fsyncDir(dir: string): void {
  try {
    const fd = openSync(dir, constants.O_RDONLY);
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch {
    // some file systems refuse fsync on a directory; the rename itself is still atomic
  }
}

/** Replaces `path` atomically: readers see the old or the new content, never a torn file. */
export function writeFileAtomic(path: string, data: string, mode: number): void {
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${Date.now()}.tmp`);
  try {
    writeNewFile(tmp, data, mode);
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
  fsyncDir(dirname(path));
}

function holderAlive(lockPath: string): boolean {
  let pid: number;
  try {
    pid = Number(readFileSync(lockPath, 'utf8').trim());
  } catch {
    return true; // vanished or unreadable: let the next attempt decide
  }
  if (!Number.isInteger(pid) || pid <= 0) return true; // being written right now
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export interface LockOptions {
  /** How long to wait for another holder; then ERR_CA_LOCKED. Default 10 s. */
  timeoutMs?: number;
}

/**
 * Runs `fn` holding `lockPath` (created with O_EXCL, holding our pid). A lock whose process has
 * died is taken over; a live holder is waited for up to `timeoutMs`, then ERR_CA_LOCKED.
 */
export async function withFileLock<T>(lockPath: string, fn: () => T | Promise<T>, opts: LockOptions = {}): Promise<T> {
  const deadline = Date.now() + (opts.timeoutMs ?? 10_000);
  for (let attempt = 0; ; attempt++) {
    try {
      writeNewFile(lockPath, `${process.pid}\n`, 0o600);
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      if (!holderAlive(lockPath)) {
        rmSync(lockPath, { force: true });
        continue;
      }
      if (Date.now() >= deadline) {
        throw certError('ERR_CA_LOCKED', `another process holds ${lockPath}; if none is running, remove the file`, { lockPath });
      }
      await sleep(Math.min(10 * 2 ** Math.min(attempt, 5), 200));
    }
  }
  try {
    return await fn();
  } finally {
    try {
      unlinkSync(lockPath);
    } catch {
      // already gone
    }
  }
}
