// TEST ONLY — a wrong clock for one process, without touching the code under test. Preloaded with
//   NODE_OPTIONS="--import=/abs/path/scripts/faults/clock-skew.mjs" CREDIT_TEST_CLOCK_SKEW_MS=120000
// it shifts what JavaScript reads as the time (Date.now() and `new Date()`) by that many ms, as a
// host whose system clock is off would. Timers and monotonic clocks are untouched, and so is
// OpenSSL (certificates here are back-dated 5 minutes, so TLS is unaffected by a skew of minutes).
// Used by test/faults/outage-time.test.ts; never loaded otherwise.
const skew = Number(process.env.CREDIT_TEST_CLOCK_SKEW_MS ?? 0);
if (Number.isFinite(skew) && skew !== 0) {
  const RealDate = globalThis.Date;
  const realNow = RealDate.now.bind(RealDate);
  class SkewedDate extends RealDate {
    constructor(...args) {
      if (args.length === 0) super(realNow() + skew);
      else super(...args);
    }
    static now() {
      return realNow() + skew;
    }
    static [Symbol.hasInstance](x) {
      return x instanceof RealDate;
    }
  }
  globalThis.Date = SkewedDate;
}
