/**
 * A job a server runs now and then beside its requests (the retention run of node and hub, the
 * hub's register reconciliation): one run at a time — runNow() while a run is under way joins it —
 * a failure handed to `failed` (the caller logs it) and tried again at the next interval, and
 * stop() waits for a run in progress. everyMs() starts the interval (an unref'd timer: it never
 * keeps a process alive); a run at start is the caller's choice.
 */
export interface PeriodicJob<T> {
  /** Runs once now (or joins the run under way); null when it failed or the job is stopped. */
  runNow(): Promise<T | null>;
  /** Runs every `ms` from now on (0: never). */
  every(ms: number): void;
  /** No more runs; resolves when the run under way (if any) has ended. */
  stop(): Promise<void>;
}

export function periodicJob<T>(run: () => Promise<T>, on: { done(result: T): void; failed(e: unknown): void }): PeriodicJob<T> {
  let running: Promise<T | null> | undefined;
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  const runNow = (): Promise<T | null> => {
    if (stopped) return Promise.resolve(null);
    running ??= run()
      .then((r) => {
        on.done(r);
        return r;
      })
      .catch((e: unknown) => {
        on.failed(e);
        return null;
      })
      .finally(() => {
        running = undefined;
      });
    return running;
  };
  return {
    runNow,
    every(ms) {
      if (ms <= 0 || stopped) return;
      if (timer) clearInterval(timer);
      timer = setInterval(() => void runNow(), ms);
      timer.unref();
    },
    async stop() {
      stopped = true;
      if (timer) clearInterval(timer);
      await running;
    },
  };
}
