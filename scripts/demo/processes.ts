/**
 * Child processes of the `credit` command: one-shot commands (`credit hub token …`) and servers
 * (`credit hub start`, `credit node start`) whose URL is read from their "listening" log line.
 * Used by the demo and by the end-to-end tests, so both drive the same real processes.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createWriteStream, existsSync, type WriteStream } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';

/** bin/credit.js of this package: two levels up from scripts/demo/ in a checkout, three from dist/scripts/demo/. */
export const CREDIT_BIN = [new URL('../../bin/credit.js', import.meta.url), new URL('../../../bin/credit.js', import.meta.url)].map((u) => fileURLToPath(u)).find((p) => existsSync(p)) ?? fileURLToPath(new URL('../../bin/credit.js', import.meta.url));

export interface CommandResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `credit ARGS…` to completion. */
export async function credit(args: readonly string[], o: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<CommandResult> {
  const child = spawn(process.execPath, [CREDIT_BIN, ...args], { env: o.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const timer = setTimeout(() => child.kill('SIGKILL'), o.timeoutMs ?? 60_000);
  const [code] = (await once(child, 'exit')) as [number | null];
  clearTimeout(timer);
  return { code, stdout, stderr };
}

/** Like credit() but throws with the command's stderr unless it exits 0; returns stdout. */
export async function creditOk(args: readonly string[], o: { env?: NodeJS.ProcessEnv } = {}): Promise<string> {
  const r = await credit(args, o);
  if (r.code !== 0) throw new Error(`credit ${args.slice(0, 2).join(' ')} exited ${String(r.code)}: ${r.stderr.trim() || r.stdout.trim()}`);
  return r.stdout;
}

export interface ServerProcess {
  name: string;
  url: string;
  /** The web console's URL, when the server runs one (`consoleUrl` in its listening line). */
  consoleUrl?: string;
  pid: number;
  child: ChildProcess;
  /** Graceful stop (SIGTERM); resolves with the exit code. */
  stop(): Promise<number | null>;
  /** SIGKILL: no shutdown code runs (crash tests). */
  kill(): Promise<void>;
  exited: boolean;
}

/**
 * Starts `credit ARGS…` as a server; its JSON log lines go to `logFile`, and it resolves once a
 * line carrying `url` appears (the "listening" line). Rejects if the process exits first.
 */
export async function startServer(name: string, args: readonly string[], o: { logFile: string; env?: NodeJS.ProcessEnv; timeoutMs?: number }): Promise<ServerProcess> {
  const log: WriteStream = createWriteStream(o.logFile, { flags: 'a' });
  const child = spawn(process.execPath, [CREDIT_BIN, ...args], { env: o.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stderr!.pipe(log, { end: false });
  const handle = { exited: false } as ServerProcess;
  const exit = once(child, 'exit').then(([code]) => {
    handle.exited = true;
    log.end();
    return code as number | null;
  });
  const lines = createInterface({ input: child.stdout! });
  let consoleUrl: string | undefined;
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${name} did not report listening within ${(o.timeoutMs ?? 60_000) / 1000} s (log: ${o.logFile})`));
    }, o.timeoutMs ?? 60_000);
    void exit.then((code) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited with ${String(code)} before listening (log: ${o.logFile})`));
    });
    lines.on('line', (l) => {
      log.write(l + '\n');
      try {
        const j = JSON.parse(l) as { url?: unknown; consoleUrl?: unknown };
        if (typeof j.consoleUrl === 'string') consoleUrl = j.consoleUrl;
        if (typeof j.url === 'string') {
          clearTimeout(timer);
          resolve(j.url);
        }
      } catch {
        /* not a JSON log line */
      }
    });
  });
  return Object.assign(handle, {
    name,
    url,
    ...(consoleUrl ? { consoleUrl } : {}),
    pid: child.pid!,
    child,
    async stop() {
      if (handle.exited) return exit;
      child.kill('SIGTERM');
      return exit;
    },
    async kill() {
      if (!handle.exited) child.kill('SIGKILL');
      await exit;
    },
  });
}
