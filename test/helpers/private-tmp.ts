/** A fresh directory as this test process's $TMPDIR (os.tmpdir() reads it on each call), removed and the old value restored at teardown. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export function privateTmp(t: { teardown(fn: () => void): void }, prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const saved = process.env.TMPDIR;
  process.env.TMPDIR = dir;
  t.teardown(() => {
    if (saved === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = saved;
    rmSync(dir, { recursive: true, force: true });
  });
  return dir;
}
