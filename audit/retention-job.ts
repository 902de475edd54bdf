/**
 * The periodic retention run of node and hub: at start and every `intervalMinutes` (0 = only at
 * start) it prunes settled exchange rows older than the retention period (exchange-retention.ts).
 * One run at a time; stop() waits for a run in progress (periodic-job.ts).
 */
import type { ExchangePruneCounts } from './exchange-retention.js';
import { periodicJob } from './periodic-job.js';

interface JobLog {
  info(o: object, msg: string): void;
  error(o: object, msg: string): void;
}

export interface RetentionJob {
  start(): void;
  /** Runs once now (or joins the run in progress); resolves to the counts removed (null: failed). */
  runNow(): Promise<ExchangePruneCounts | null>;
  stop(): Promise<void>;
}

export function retentionJob(prune: () => Promise<ExchangePruneCounts>, intervalMinutes: number, log: JobLog): RetentionJob {
  const job = periodicJob(prune, {
    done(counts) {
      if (Object.values(counts).some((n) => n > 0)) log.info({ pruned: counts }, 'retention job: pruned settled exchange rows past the retention period');
    },
    failed(e) {
      log.error({ error: { message: (e as Error).message, code: (e as { code?: string }).code } }, 'retention job failed; will retry at the next interval');
    },
  });
  return {
    start() {
      void job.runNow();
      job.every(intervalMinutes * 60_000);
    },
    runNow: job.runNow,
    stop: job.stop,
  };
}
