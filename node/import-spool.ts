/**
 * Where an XLSX import keeps the worksheets it cannot read yet (those stored before the shared
 * strings, Excel's own order): one private directory per import under $TMPDIR (mode 0700, files
 * 0600), named for the process (`credit-xlsx-<pid>-<start time, ms>-…`), removed when the read ends however it ends.
 * The files are SM4-CTR ciphertext under a key and counter drawn for each file and held only in
 * the process's memory, so what a crash or a power cut leaves behind is unreadable (等保 剩余信息保护:
 * personal data never lies on disk in clear). A node starting sweeps the directories of processes
 * that no longer run (`sweepSpools`).
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { lstat, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { randomBytes, sm4CtrStream } from '../protocol/sm-crypto.js';

export const SPOOL_PREFIX = 'credit-xlsx-';
const OURS = /^credit-xlsx-([1-9][0-9]{0,9})-(?:([0-9]{1,15})-)?/;
/** When this process started (ms): with the pid it names a process, also when a container's node is pid 1 every time. */
const STARTED = String(Math.round(performance.timeOrigin));

export interface Spool {
  /** Writes `from` (to its end) to the spool as file `name`, encrypted. */
  put(name: string, from: Readable): Promise<void>;
  /** File `name`, decrypted, as a stream (the caller destroys it). */
  get(name: string): Readable;
  /** Removes file `name`. */
  drop(name: string): Promise<void>;
  /** Removes the directory and everything in it. */
  remove(): Promise<void>;
}

export async function openSpool(): Promise<Spool> {
  const dir = await mkdtemp(join(tmpdir(), `${SPOOL_PREFIX}${process.pid}-${STARTED}-`));
  const keys = new Map<string, { key: Buffer; iv: Buffer }>();
  return {
    async put(name, from) {
      const k = { key: randomBytes(16), iv: randomBytes(16) };
      keys.set(name, k);
      await pipeline(from, sm4CtrStream(k.key, k.iv), createWriteStream(join(dir, name), { flags: 'wx', mode: 0o600 }));
    },
    get(name) {
      const k = keys.get(name);
      if (!k) throw new Error(`no spooled file ${name}`);
      const file = createReadStream(join(dir, name));
      const plain = sm4CtrStream(k.key, k.iv);
      file.on('error', (e) => plain.destroy(e));
      plain.on('close', () => file.destroy());
      return file.pipe(plain);
    },
    async drop(name) {
      keys.delete(name);
      await rm(join(dir, name), { force: true });
    },
    async remove() {
      keys.clear();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

function running(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM'; // alive, another user's
  }
}

/**
 * Removes the spool directories under $TMPDIR of processes that no longer run (a node that
 * crashed mid-import), this user's only. Returns how many were removed; never throws (a
 * directory it cannot read or remove is left, and named in `failed`).
 */
export async function sweepSpools(): Promise<{ removed: number; failed: string[] }> {
  const root = tmpdir();
  const failed: string[] = [];
  let removed = 0;
  let names: string[];
  try {
    names = await readdir(root);
  } catch {
    return { removed, failed };
  }
  const uid = process.getuid?.();
  for (const name of names) {
    const m = OURS.exec(name);
    if (!m) continue;
    const pid = Number(m[1]);
    // this process's own (an import under way), or another live one's; a directory with this pid but
    // another start time was left by an earlier process of the same pid (a container's pid 1)
    if (pid === process.pid ? m[2] === STARTED : running(pid)) continue;
    const path = join(root, name);
    try {
      const st = await lstat(path);
      if (!st.isDirectory() || (uid !== undefined && st.uid !== uid)) continue;
      await rm(path, { recursive: true, force: true });
      removed++;
    } catch {
      failed.push(path);
    }
  }
  return { removed, failed };
}
