import t from 'tap';
import fc from 'fast-check';
import { uuidv7 } from '../../protocol/crypto.js';
import { checkFreshness, checkTimestamp, DEFAULT_WINDOW_MS, initialFreshness, type FreshnessState } from '../../protocol/freshness.js';
import { codeOf } from '../helpers/code-of.js';

const now = new Date('2026-05-01T10:00:00.000Z');
const at = (offsetMs: number) => new Date(now.getTime() + offsetMs).toISOString();
const h = (seq: number, offsetMs = 0, id = uuidv7()) => ({ id, seq, ts: at(offsetMs) });

t.test('accepts 1, 2, 3 … and returns the next state without touching the old one', async (t) => {
  const s0 = initialFreshness();
  const a = h(1);
  const r1 = checkFreshness(a, s0, { now });
  t.equal(r1.ok, true);
  t.equal(r1.next.lastSeq, 1);
  t.ok((r1.next.seenIds as ReadonlySet<string>).has(a.id));
  t.equal(s0.lastSeq, 0, 'input state unchanged');
  t.equal((s0.seenIds as ReadonlySet<string>).size, 0, 'input set unchanged');
  const r2 = checkFreshness(h(2), r1.next, { now });
  t.equal(r2.next.lastSeq, 2);
});

t.test('each rule has its own code, checked in the documented order', async (t) => {
  const id = uuidv7();
  const state: FreshnessState = { lastSeq: 5, seenIds: new Set([id]) };
  t.equal(codeOf(() => checkFreshness({ id, seq: 6, ts: at(0) }, state, { now })), 'ERR_REPLAY', 'replayed id');
  t.equal(codeOf(() => checkFreshness({ id, seq: 2, ts: at(-3600_000) }, state, { now })), 'ERR_REPLAY', 'replay wins over seq and time');
  t.equal(codeOf(() => checkFreshness(h(5), state, { now })), 'ERR_OUT_OF_ORDER', 'seq = lastSeq');
  t.equal(codeOf(() => checkFreshness(h(3), state, { now })), 'ERR_OUT_OF_ORDER', 'seq < lastSeq');
  t.equal(codeOf(() => checkFreshness(h(3, -3600_000), state, { now })), 'ERR_OUT_OF_ORDER', 'order wins over time');
  t.equal(codeOf(() => checkFreshness(h(7), state, { now })), 'ERR_SEQUENCE_GAP', 'seq skips 6');
  t.equal(codeOf(() => checkFreshness(h(7), state, { now, allowGaps: true })), 'ok', 'allowGaps');
  t.equal(codeOf(() => checkFreshness(h(6, -DEFAULT_WINDOW_MS - 1), state, { now })), 'ERR_STALE_TIMESTAMP', 'too old');
  t.equal(codeOf(() => checkFreshness(h(6, DEFAULT_WINDOW_MS + 1), state, { now })), 'ERR_STALE_TIMESTAMP', 'too far in the future');
  t.equal(codeOf(() => checkFreshness(h(6, -DEFAULT_WINDOW_MS), state, { now })), 'ok', 'exactly at the window edge');
  t.equal(codeOf(() => checkFreshness(h(6, -60 * 60_000), state, { now, windowMs: 2 * 60 * 60_000 })), 'ok', 'custom window');
});

t.test('error details say what was expected', async (t) => {
  const state: FreshnessState = { lastSeq: 5, seenIds: new Set() };
  t.throws(() => checkFreshness(h(9), state, { now }), { code: 'ERR_SEQUENCE_GAP', details: { expected: 6, seq: 9 } });
  t.throws(() => checkFreshness(h(4), state, { now }), { code: 'ERR_OUT_OF_ORDER', details: { lastSeq: 5, seq: 4 } });
  t.throws(() => checkTimestamp(at(-600_000), { now }), { code: 'ERR_STALE_TIMESTAMP', details: { direction: 'past', windowMs: DEFAULT_WINDOW_MS, now: now.toISOString() } });
  t.throws(() => checkTimestamp('garbage', { now }), { code: 'ERR_STALE_TIMESTAMP' });
});

t.test('seenIds may be a lookup function (e.g. backed by a database)', async (t) => {
  const stored = new Set<string>();
  const lookup = (id: string) => stored.has(id);
  const a = h(1);
  const r = checkFreshness(a, { lastSeq: 0, seenIds: lookup }, { now });
  t.equal(typeof r.next.seenIds, 'function');
  t.equal((r.next.seenIds as (id: string) => boolean)(a.id), true, 'the accepted id counts as seen');
  t.equal(codeOf(() => checkFreshness({ ...h(2), id: a.id }, r.next, { now })), 'ERR_REPLAY');
  stored.add('0190aaaa-0000-7000-8000-000000000000');
  t.equal(codeOf(() => checkFreshness({ ...h(2), id: '0190aaaa-0000-7000-8000-000000000000' }, r.next, { now })), 'ERR_REPLAY', 'ids in the store');
});

t.test('property: a sender replaying any prefix of its stream is caught; the in-order stream passes', async (t) => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 30 }), fc.nat(), (n, k) => {
      const stream = Array.from({ length: n }, (_, i) => h(i + 1, (i % 7) * 1000));
      let state = initialFreshness();
      for (const e of stream) state = checkFreshness(e, state, { now }).next;
      const again = stream[k % n]!;
      return state.lastSeq === n && codeOf(() => checkFreshness(again, state, { now })) === 'ERR_REPLAY';
    }),
    { numRuns: 100 },
  );
  t.pass('100 streams');
});

t.test('property: a shuffled stream is accepted only if it is already in order', async (t) => {
  fc.assert(
    fc.property(fc.shuffledSubarray([1, 2, 3, 4, 5, 6], { minLength: 6, maxLength: 6 }), (seqs) => {
      let state = initialFreshness();
      for (const seq of seqs) {
        const c = codeOf(() => (state = checkFreshness(h(seq), state, { now }).next));
        if (c !== 'ok') return c === 'ERR_SEQUENCE_GAP' || c === 'ERR_OUT_OF_ORDER';
      }
      return seqs.join() === '1,2,3,4,5,6';
    }),
    { numRuns: 100 },
  );
  t.pass('100 permutations');
});

t.test('a window that is not a finite number ≥ 0 is a programming error, never "accept everything"', async (t) => {
  for (const windowMs of [NaN, -1, Infinity]) {
    t.throws(() => checkTimestamp(at(-3600_000), { now, windowMs }), RangeError, String(windowMs));
  }
  t.equal(codeOf(() => checkTimestamp(at(0), { now, windowMs: 0 })), 'ok', 'zero: only the exact instant');
});
