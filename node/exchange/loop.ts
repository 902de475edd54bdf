/**
 * A background loop for the exchange (sender, puller, witness, renewal): runs one step at a
 * time; a step returns how long to wait before the next, a failing step is retried with
 * exponential backoff and jitter (Retry-After honoured). wake() cuts a wait short — but not a
 * backoff after a failure: new work (every commit wakes the sender) must not turn a failing hub's
 * backoff into one retry per write; the woken step runs when the backoff ends (nor a HoldOff's wait).
 * stop() aborts the
 * step's hub request (its signal) and resolves when the step has finished.
 */
import { isCreditError } from '../../protocol/errors.js';

/**
 * Thrown by a step that was told "not now" (the hub is busy: ERR_HUB_BUSY with Retry-After): the
 * loop waits `ms`, which wake() does not cut short (else every commit would send the batch again at
 * once), and counts no failure. `code` and `status` are the answer's, for the exchange's status.
 */
export class HoldOff extends Error {
  constructor(
    readonly ms: number,
    readonly code: string,
    readonly status: number | undefined,
    message: string,
  ) {
    super(message);
    this.name = 'HoldOff';
  }
}

export interface Log {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
  debug(obj: object, msg: string): void;
}

export interface BackoffPolicy {
  baseMs: number;
  capMs: number;
  /** 0..1: 0 = no jitter; 0.5 = the delay is drawn from [d/2, d]. */
  jitter: number;
}

export const DEFAULT_BACKOFF: BackoffPolicy = { baseMs: 500, capMs: 30_000, jitter: 0.5 };

/** Delay before retry number `attempt` (1 = first retry), never below Retry-After. */
export function backoffDelay(attempt: number, policy: BackoffPolicy = DEFAULT_BACKOFF, retryAfterMs?: number, random: () => number = Math.random): number {
  const exp = Math.min(policy.capMs, policy.baseMs * 2 ** Math.max(0, Math.min(attempt - 1, 30)));
  const jittered = exp * (1 - policy.jitter * random());
  return Math.round(Math.max(jittered, retryAfterMs ?? 0));
}

export interface Loop {
  readonly name: string;
  start(): void;
  /** Runs the next step now (or right after the current one). */
  wake(): void;
  stop(): Promise<void>;
  /** Consecutive failures of the step (0 after a success). */
  readonly failures: number;
}

export interface LoopOptions {
  name: string;
  /** One step; resolves with the wait before the next (ms). */
  step(signal: AbortSignal): Promise<number>;
  log: Log;
  backoff?: BackoffPolicy;
}

/** The log fields of a failure: its code and status only (hub messages may quote data). */
export function failureFields(e: unknown): { code: string; status?: number } {
  const status = (e as { status?: unknown }).status;
  return { code: isCreditError(e) ? e.code : ((e as { code?: string }).code ?? (e as Error).name ?? 'Error'), ...(typeof status === 'number' ? { status } : {}) };
}

export function createLoop(opts: LoopOptions): Loop {
  let abort = new AbortController();
  let running: Promise<void> | undefined;
  let stopped = true;
  let failures = 0;
  let timer: NodeJS.Timeout | undefined;
  let stopNow: (() => void) | undefined;
  let wakeNow: (() => void) | undefined;
  let woken = false;

  /** Waits `ms`; wake() ends it early unless it is a backoff; stop() always does. */
  const sleep = (ms: number, backoff: boolean) =>
    new Promise<void>((resolve) => {
      if ((woken && !backoff) || stopped) return resolve();
      const end = () => {
        clearTimeout(timer);
        wakeNow = undefined;
        stopNow = undefined;
        resolve();
      };
      timer = setTimeout(end, ms);
      stopNow = end;
      if (!backoff) wakeNow = end;
    });

  async function run(): Promise<void> {
    while (!stopped) {
      woken = false;
      let wait: number;
      let failed = false;
      try {
        wait = await opts.step(abort.signal);
        failures = 0;
      } catch (e) {
        if (stopped) break;
        if (e instanceof HoldOff) {
          wait = e.ms;
          failed = true; // a wait wake() does not cut; not a failure
          opts.log.debug({ loop: opts.name, retryInMs: wait, code: e.code }, `hub exchange: ${opts.name} told to wait`);
          await sleep(wait, true);
          continue;
        }
        failures++;
        failed = true;
        wait = backoffDelay(failures, opts.backoff, (e as { retryAfterMs?: number }).retryAfterMs);
        const fields = { loop: opts.name, attempt: failures, retryInMs: wait, ...failureFields(e) };
        if (failures === 1 || failures % 10 === 0) opts.log.warn(fields, `hub exchange: ${opts.name} failed; retrying`);
        else opts.log.debug(fields, `hub exchange: ${opts.name} failed; retrying`);
      }
      if (stopped) break;
      await sleep(wait, failed);
    }
  }

  return {
    name: opts.name,
    get failures() {
      return failures;
    },
    start() {
      if (!stopped) return;
      stopped = false;
      abort = new AbortController();
      running = run();
    },
    wake() {
      woken = true;
      wakeNow?.();
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      abort.abort();
      stopNow?.();
      await running;
    },
  };
}
