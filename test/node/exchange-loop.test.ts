/**
 * The exchange loop's waits: wake() cuts a normal wait short (new outbox rows go out at once),
 * but not a backoff after a failure — otherwise every write to a node whose hub is failing would
 * trigger another retry. stop() ends either at once.
 *
 * The test waits on the loop's own events (a step running, the failure being logged), never on a
 * guess of how long a step takes; the only durations asserted are bounds that a loaded machine
 * can only make safer (a backoff is never cut short; a 60 s wait ends far sooner when woken).
 */
import t from 'tap';
import { createLoop, HoldOff } from '../../node/exchange/loop.js';

/** Resolvable events: `next()` is the promise of the next `fire()`. */
function events() {
  const waiting: (() => void)[] = [];
  let fired = 0;
  let seen = 0;
  return {
    fire() {
      fired++;
      waiting.shift()?.();
    },
    next(): Promise<void> {
      seen++;
      return seen <= fired ? Promise.resolve() : new Promise<void>((r) => waiting.push(r));
    },
  };
}

function quietLog(onWarn: () => void = () => {}) {
  return { info() {}, warn: onWarn, error() {}, debug() {} };
}

/** Rejects if `p` has not settled within `ms` (a bound far above what the step needs, to fail instead of hang). */
function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([p, new Promise<T>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what} did not happen within ${ms} ms`)), ms)))]).finally(() => clearTimeout(timer));
}

t.test('wake() cuts a normal wait short', async (t) => {
  let steps = 0;
  const stepped = events();
  const loop = createLoop({ name: 't', log: quietLog(), step: async () => (steps++, stepped.fire(), 60_000) });
  loop.start();
  await stepped.next();
  t.equal(steps, 1, 'one step, then a 60 s wait');
  loop.wake();
  await within(stepped.next(), 30_000, 'the woken step');
  t.equal(steps, 2, 'woken: the next step ran long before the 60 s wait would have ended');
  await loop.stop();
});

t.test('wake() does not cut a backoff short; the step runs when the backoff ends', async (t) => {
  let steps = 0;
  const stepped = events();
  const failed = events();
  const backoffMs = 1500;
  const loop = createLoop({
    name: 't', log: quietLog(() => failed.fire()), backoff: { baseMs: backoffMs, capMs: backoffMs, jitter: 0 },
    step: async () => {
      steps++;
      stepped.fire();
      if (steps === 1) throw Object.assign(new Error('hub down'), { code: 'ERR_HUB_UNAVAILABLE' });
      return 60_000;
    },
  });
  loop.start();
  await failed.next(); // logged when the backoff is about to start
  const failedAt = Date.now();
  t.equal(loop.failures, 1, 'the first step failed: a 1.5 s backoff');
  for (let i = 0; i < 5; i++) loop.wake();
  await stepped.next(); // the first step
  await within(stepped.next(), 30_000, 'the retry');
  // a timer never fires early (allow 50 ms for clock rounding); a slow machine only adds to this
  t.ok(Date.now() - failedAt >= backoffMs - 50, 'five wakes during the backoff: the retry still waited it out');
  t.equal(steps, 2, 'no extra attempt');
  await loop.stop();
  t.equal(loop.failures, 0, 'the retry succeeded');
});

t.test('stop() ends a backoff at once', async (t) => {
  const failed = events();
  const loop = createLoop({ name: 't', log: quietLog(() => failed.fire()), backoff: { baseMs: 60_000, capMs: 60_000, jitter: 0 }, step: async () => Promise.reject(new Error('down')) });
  loop.start();
  await failed.next(); // the 60 s backoff begins
  await within(loop.stop(), 30_000, 'stop()');
  t.pass('stopped without waiting out a 60 s backoff');
});

t.test('a HoldOff (the hub busy): waited out whatever wakes come, and not counted as a failure', async (t) => {
  let steps = 0;
  const stepped = events();
  const holdMs = 1500;
  const loop = createLoop({
    name: 't', log: quietLog(),
    step: async () => {
      steps++;
      stepped.fire();
      if (steps === 1) throw new HoldOff(holdMs, 'ERR_HUB_BUSY', 503, 'busy');
      return 60_000;
    },
  });
  loop.start();
  await stepped.next();
  const heldAt = Date.now();
  t.equal(loop.failures, 0, 'no failure counted');
  for (let i = 0; i < 5; i++) loop.wake(); // every commit wakes the sender
  await within(stepped.next(), 30_000, 'the step after the wait');
  t.ok(Date.now() - heldAt >= holdMs - 50, 'five wakes: the hub\'s Retry-After was still waited out');
  t.equal(steps, 2);
  await loop.stop();
});
