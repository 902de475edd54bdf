/**
 * certs/safe-files.ts writeNewFile under write failures: every byte or an error (a write may take
 * fewer bytes than given), the file it created removed on failure — and only that file: one another
 * process put at the same path meanwhile (a lock taken over after a partial pid was read) stays.
 * The failures are made by replacing node:fs's writeSync for the duration of one call.
 */
import t from 'tap';
import fs, { mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync, existsSync } from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeNewFile } from '../../certs/safe-files.js';

const dir = mkdtempSync(join(tmpdir(), 'safe-files-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

type Real = (fd: number, buf: Buffer, offset: number, length: number) => number;
let bypass = false;
/** Runs `f` with fs.writeSync replaced by `fake` (it gets the real one; writes made while `bypass` is set go straight through). */
function withWriteSync(fake: (real: Real, fd: number, buf: Buffer, offset: number, length: number) => number, f: () => void): void {
  const real = fs.writeSync;
  const realAs = real as unknown as Real;
  fs.writeSync = ((...args: unknown[]) => (bypass ? (real as (...a: unknown[]) => number)(...args) : fake(realAs, args[0] as number, args[1] as Buffer, args[2] as number, args[3] as number))) as typeof fs.writeSync;
  syncBuiltinESMExports();
  try {
    f();
  } finally {
    fs.writeSync = real;
    syncBuiltinESMExports();
  }
}

t.test('short writes are continued until every byte is out', async (t) => {
  const file = join(dir, 'short.txt');
  let calls = 0;
  withWriteSync(
    (real, fd, buf, offset, length) => {
      calls++;
      return real(fd, buf, offset, Math.min(3, length)); // 3 bytes at a time
    },
    () => writeNewFile(file, 'credit-federation 信用', 0o600),
  );
  t.equal(readFileSync(file, 'utf8'), 'credit-federation 信用');
  t.ok(calls > 5, `${calls} writes`);
});

/**
 * writeNewFile(path, '4242\n') whose first write takes 2 bytes and whose second fails with ENOSPC;
 * `meanwhile` runs just before the failure (real writes allowed). Returns the error thrown.
 */
function failingSecondWrite(path: string, meanwhile: () => void = () => undefined): { code?: string } | null {
  let first = true;
  try {
    withWriteSync(
      (real, fd, buf, offset) => {
        if (!first) {
          bypass = true;
          try {
            meanwhile();
          } finally {
            bypass = false;
          }
          throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
        }
        first = false;
        return real(fd, buf, offset, 2);
      },
      () => writeNewFile(path, '4242\n', 0o600),
    );
  } catch (err) {
    return err as { code?: string };
  }
  return null;
}

t.test('a failed write removes the file it created', async (t) => {
  const file = join(dir, 'failed.txt');
  t.equal(failingSecondWrite(file)?.code, 'ENOSPC');
  t.notOk(existsSync(file), 'no torn file left');
});

t.test("a failed write leaves alone a file another process put at the path meanwhile (the other's lock)", async (t) => {
  const lock = join(dir, 'data.lock');
  // meanwhile: another process read the partial pid, judged the holder dead, and took the lock
  const e = failingSecondWrite(lock, () => {
    unlinkSync(lock);
    writeFileSync(lock, '5151\n', { mode: 0o600 });
  });
  t.equal(e?.code, 'ENOSPC');
  t.equal(readFileSync(lock, 'utf8'), '5151\n', "the other process's lock is still there");
});

t.test('an existing file is never touched (EEXIST before anything is written)', async (t) => {
  const file = join(dir, 'exists.txt');
  writeFileSync(file, 'theirs');
  t.throws(() => writeNewFile(file, 'mine', 0o600), { code: 'EEXIST' });
  t.equal(readFileSync(file, 'utf8'), 'theirs');
});
