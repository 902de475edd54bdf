/**
 * audit/periodic-job.ts: one run at a time (a second runNow joins the first), a failure handed to
 * `failed` and the next run going ahead, the interval running the job, stop() waiting for the run
 * under way and no run after it. Waits on promises the test resolves, never on wall-clock guesses
 * (the interval case waits for the runs themselves).
 */
import t from 'tap';
import { periodicJob } from '../../audit/periodic-job.js';

/** A job whose runs the test ends by hand. */
function gated() {
  const pending: { resolve(n: number): void; reject(e: Error): void }[] = [];
  const done: number[] = [];
  const failed: string[] = [];
  const job = periodicJob(() => new Promise<number>((resolve, reject) => pending.push({ resolve, reject })), {
    done: (n) => void done.push(n),
    failed: (e) => void failed.push((e as Error).message),
  });
  return { job, pending, done, failed };
}

t.test('a run asked for while one is under way joins it; its failure is handed over, the next run goes ahead', async (t) => {
  const { job, pending, done, failed } = gated();
  const a = job.runNow();
  const b = job.runNow();
  t.equal(pending.length, 1, 'one run, not two');
  pending[0]!.resolve(7);
  t.same([await a, await b], [7, 7], 'both callers get its result');
  t.same(done, [7]);

  const c = job.runNow();
  t.equal(pending.length, 2, 'a new run once the first has ended');
  pending[1]!.reject(new Error('store down'));
  t.equal(await c, null, 'a failure resolves to null');
  t.same(failed, ['store down'], 'and is handed to `failed`');

  const d = job.runNow();
  pending[2]!.resolve(1);
  t.equal(await d, 1, 'the next run goes ahead');
  await job.stop();
});

t.test('stop() waits for the run under way; nothing runs after it', async (t) => {
  const { job, pending } = gated();
  const run = job.runNow();
  let stopped = false;
  const stopping = job.stop().then(() => (stopped = true));
  await Promise.resolve();
  t.notOk(stopped, 'not stopped while the run is under way');
  pending[0]!.resolve(3);
  await stopping;
  t.equal(await run, 3);
  t.equal(await job.runNow(), null, 'no run after stop');
  job.every(1);
  t.equal(pending.length, 1, 'nor an interval');
});

t.test('every(ms) runs the job on an interval until stopped', async (t) => {
  let runs = 0;
  let third: () => void = () => {};
  const reached = new Promise<void>((r) => (third = r));
  const job = periodicJob(async () => {
    if (++runs === 3) third();
    return runs;
  }, { done() {}, failed() {} });
  const alive = setInterval(() => {}, 1000); // the job's timer is unref'd: it keeps no process alive, so this test does
  t.teardown(() => clearInterval(alive));
  job.every(5);
  await reached;
  await job.stop();
  const at = runs;
  await new Promise((r) => setTimeout(r, 30));
  t.equal(runs, at, 'no run after stop');
});
