/**
 * The scheduled disclosure job: at start and every `intervalMinutes` (0 = only at start) it
 * withdraws negative records whose disclosure window ended (reason `expired`). One run at a time;
 * stop() waits for a run in progress, so shutdown never cuts a withdrawal in half.
 */
import type { FastifyBaseLogger } from 'fastify';
import { loggableError } from './logger.js';

export interface DisclosureJob {
  start(): void;
  /** Runs once now (or joins the run in progress); resolves to how many records it withdrew. */
  runNow(): Promise<number>;
  stop(): Promise<void>;
}

export function disclosureJob(expireDue: () => Promise<number>, intervalMinutes: number, log: FastifyBaseLogger): DisclosureJob {
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<number> | undefined;
  let stopped = false;

  const runNow = (): Promise<number> => {
    if (stopped) return Promise.resolve(0);
    running ??= expireDue()
      .then((n) => {
        if (n > 0) log.info({ withdrawn: n }, 'disclosure job: withdrew records whose disclosure window ended');
        return n;
      })
      .catch((e: unknown) => {
        log.error({ error: loggableError(e) }, 'disclosure job failed; will retry at the next interval');
        return 0;
      })
      .finally(() => {
        running = undefined;
      });
    return running;
  };

  return {
    start() {
      void runNow();
      if (intervalMinutes > 0) {
        timer = setInterval(() => void runNow(), intervalMinutes * 60_000);
        timer.unref();
      }
    },
    runNow,
    async stop() {
      stopped = true;
      if (timer) clearInterval(timer);
      await running;
    },
  };
}
