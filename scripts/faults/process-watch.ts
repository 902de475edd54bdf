/**
 * Watching a server process from outside while faults are injected: its resident memory sampled
 * from /proc/PID/status (Linux), and its JSON log lines read back from the log file.
 */
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** The clock preload (clock-skew.mjs) as NODE_OPTIONS for a process whose clock is off by `skewMs`. */
export function skewedClockEnv(skewMs: number): NodeJS.ProcessEnv {
  const file = fileURLToPath(new URL('./clock-skew.mjs', import.meta.url));
  return { NODE_OPTIONS: `--import=${file}`, CREDIT_TEST_CLOCK_SKEW_MS: String(skewMs) };
}

/** VmRSS of a live process, MiB. */
export function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(m[1]) / 1024;
}

export interface RssSample {
  /** ms since sampling began */
  t: number;
  mb: number;
}

/** Samples a process's RSS every `everyMs` until stop(). */
export function sampleRss(pid: number, everyMs = 500): { stop(): RssSample[] } {
  const t0 = Date.now();
  const samples: RssSample[] = [];
  const take = () => {
    try {
      samples.push({ t: Date.now() - t0, mb: rssMb(pid) });
    } catch {
      /* the process is gone */
    }
  };
  take();
  const timer = setInterval(take, everyMs);
  return {
    stop() {
      clearInterval(timer);
      take();
      return samples;
    },
  };
}

/** Peak RSS over the first and over the second half of a series, and the growth between them. */
export function rssHalves(samples: readonly RssSample[]): { firstPeak: number; secondPeak: number; growth: number; max: number } {
  const half = Math.floor(samples.length / 2);
  const peak = (xs: readonly RssSample[]) => xs.reduce((m, s) => Math.max(m, s.mb), 0);
  const firstPeak = peak(samples.slice(0, Math.max(1, half)));
  const secondPeak = peak(samples.slice(half));
  return { firstPeak, secondPeak, growth: secondPeak - firstPeak, max: Math.max(firstPeak, secondPeak) };
}

/** The JSON lines of a pino log file (other lines skipped), optionally only those passing `keep`. */
export function logLines<T = Record<string, unknown>>(file: string, keep: (l: Record<string, unknown>) => boolean = () => true): T[] {
  const out: T[] = [];
  if (!existsSync(file)) return out;
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (!line.startsWith('{')) continue;
    try {
      const j = JSON.parse(line) as Record<string, unknown>;
      if (keep(j)) out.push(j as T);
    } catch {
      /* a partial last line */
    }
  }
  return out;
}

/** A loop's retry log lines (node/exchange/loop.ts): attempt number, the delay it chose, and the failure. */
export interface RetryLine {
  time: number;
  loop: string;
  attempt: number;
  retryInMs: number;
  code: string;
  status?: number;
}

export function retryLines(file: string, loop: string): RetryLine[] {
  return logLines<RetryLine>(file, (l) => l.loop === loop && typeof l.attempt === 'number' && typeof l.retryInMs === 'number');
}
