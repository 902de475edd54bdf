/**
 * Benchmarked servers run as child processes (their own event loop, their own memory figures):
 * start one, wait for the JSON line carrying its `url` on stdout, stop it with SIGTERM.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

export interface ChildServer {
  url: string;
  pid: number;
  /** SIGTERM, then the exit code once it has exited. */
  stop(): Promise<number | null>;
}

/**
 * The arguments that run the naive server (naive-server.ts) with `configFile`: its compiled file
 * when the bench itself runs compiled (`CREDIT_RUNTIME=dist`, no tsx there), else the source
 * through tsx.
 */
export function naiveServerArgs(configFile: string): string[] {
  if (import.meta.url.endsWith('.js')) return [fileURLToPath(new URL('./naive-server.js', import.meta.url)), configFile];
  return ['--import', import.meta.resolve('tsx'), fileURLToPath(new URL('./naive-server.ts', import.meta.url)), configFile];
}

/** Spawns `node …args`; resolves once a stdout line is JSON with a `url` (within 60 s). */
export async function spawnServer(what: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<ChildServer> {
  const child = spawn(process.execPath, args, { env, stdio: ['ignore', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout! });
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${what} did not report listening within 60 s`));
    }, 60_000);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${what} exited with ${code} before listening`));
    });
    lines.on('line', (l) => {
      try {
        const j = JSON.parse(l) as { url?: string };
        if (j.url) {
          clearTimeout(timer);
          resolve(j.url);
        }
      } catch {
        /* not a JSON line */
      }
    });
  });
  return {
    url,
    pid: child.pid!,
    async stop(): Promise<number | null> {
      if (child.exitCode !== null) return child.exitCode;
      child.kill('SIGTERM');
      const [code] = (await once(child, 'exit')) as [number | null];
      return code;
    },
  };
}

function procStatusMb(pid: number, field: 'VmHWM' | 'VmRSS'): number {
  const m = new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

/** Peak resident set size (VmHWM) of a Linux process, in MiB. */
export const peakRssMb = (pid: number): number => procStatusMb(pid, 'VmHWM');

/** Resident set size (VmRSS) of a Linux process now, in MiB. */
export const rssMb = (pid: number): number => procStatusMb(pid, 'VmRSS');
