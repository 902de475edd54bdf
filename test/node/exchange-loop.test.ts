/**
 * The exchange loop's waits: wake() cuts a normal wait short (new outbox rows go out at once),
 * but not a backoff after a failure — otherwise every write to a node whose hub is failing would
 * trigger another retry. stop() ends either at once.
 */
import t from 'tap';
import { createLoop } from '../../node/exchange/loop.js';

const quiet = { info() {}, warn() {}, error() {}, debug() {} };
const tick = (ms: number) => new Promise((r) => setTimeout(r, ms));

t.test('wake() cuts a normal wait short', async (t) => {
  let steps = 0;
  const loop = createLoop({ name: 't', log: quiet, step: async () => (steps++, 60_000) });
  loop.start();
  await tick(50);
  t.equal(steps, 1, 'one step, then a 60 s wait');
  loop.wake();
  await tick(50);
  t.equal(steps, 2, 'woken: the next step ran at once');
  await loop.stop();
});

t.test('wake() does not cut a backoff short; the step runs when the backoff ends', async (t) => {
  let steps = 0;
  const loop = createLoop({
    name: 't', log: quiet, backoff: { baseMs: 1500, capMs: 1500, jitter: 0 },
    step: async () => {
      steps++;
      if (steps === 1) throw Object.assign(new Error('hub down'), { code: 'ERR_HUB_UNAVAILABLE' });
      return 60_000;
    },
  });
  loop.start();
  await tick(50);
  t.equal(loop.failures, 1, 'the first step failed: a 1.5 s backoff');
  for (let i = 0; i < 5; i++) loop.wake();
  await tick(100);
  t.equal(steps, 1, 'five wakes during the backoff: no extra attempt');
  for (let i = 0; i < 200 && steps < 2; i++) await tick(50);
  t.equal(steps, 2, 'the retry came when the backoff ended');
  t.equal(loop.failures, 0);
  await loop.stop();
});

t.test('stop() ends a backoff at once', async (t) => {
  const loop = createLoop({ name: 't', log: quiet, backoff: { baseMs: 60_000, capMs: 60_000, jitter: 0 }, step: async () => Promise.reject(new Error('down')) });
  loop.start();
  await tick(50);
  const t0 = Date.now();
  await loop.stop();
  t.ok(Date.now() - t0 < 5_000, 'stopped without waiting out a 60 s backoff');
});
