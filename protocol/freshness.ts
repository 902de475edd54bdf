/**
 * Replay, order and time-window rules for envelopes from one sender. Pure: the caller keeps the
 * state (in memory for tests, in its database for the hub) and gets the next state back.
 *
 * Checked in this order, first failure wins:
 *   1. `id` seen before                    → ERR_REPLAY        (an idempotent resend: answer with the stored result)
 *   2. `seq` ≤ lastSeq                      → ERR_OUT_OF_ORDER
 *   3. `seq` > lastSeq + 1 (unless allowGaps) → ERR_SEQUENCE_GAP
 *   4. |ts − now| > windowMs                → ERR_STALE_TIMESTAMP (too old, or too far in the future)
 */
import { protocolError } from './errors.js';

export const DEFAULT_WINDOW_MS = 5 * 60_000;

export type SeenIds = ReadonlySet<string> | ((id: string) => boolean);

export interface FreshnessState {
  /** Highest seq accepted from this sender so far; 0 before the first envelope. */
  lastSeq: number;
  /** Ids already accepted from this sender (a set, or a lookup backed by the caller's store). */
  seenIds: SeenIds;
}

export interface FreshnessPolicy {
  now: Date;
  /** Accepted distance between `ts` and `now`, either way; default 5 minutes. */
  windowMs?: number;
  /** Accept a seq that skips ahead (the skipped ones are then lost for good); default false. */
  allowGaps?: boolean;
}

export interface FreshnessResult {
  ok: true;
  /** The state after accepting this envelope: lastSeq = seq, and the id counted as seen. */
  next: FreshnessState;
}

/** The state of a sender nothing has been accepted from yet. */
export function initialFreshness(): FreshnessState {
  return { lastSeq: 0, seenIds: new Set<string>() };
}

function seen(ids: SeenIds, id: string): boolean {
  return typeof ids === 'function' ? ids(id) : ids.has(id);
}

/** Throws ERR_STALE_TIMESTAMP unless `ts` lies within `windowMs` of `now`. */
export function checkTimestamp(ts: string, policy: { now: Date; windowMs?: number }): void {
  const windowMs = policy.windowMs ?? DEFAULT_WINDOW_MS;
  if (!Number.isFinite(windowMs) || windowMs < 0) throw new RangeError(`windowMs must be a finite number ≥ 0, got ${windowMs}`); // NaN would let every timestamp through
  const at = Date.parse(ts);
  const skew = at - policy.now.getTime();
  if (Number.isNaN(at) || Math.abs(skew) > windowMs) {
    const where = Number.isNaN(at) ? 'unreadable' : skew < 0 ? `${Math.round(-skew / 1000)} s old` : `${Math.round(skew / 1000)} s in the future`;
    throw protocolError('ERR_STALE_TIMESTAMP', `envelope timestamp ${ts} is ${where} (window ±${windowMs / 1000} s)`, {
      ts,
      now: policy.now.toISOString(),
      windowMs,
      direction: skew < 0 ? 'past' : 'future',
    });
  }
}

/** Applies the four rules above to one envelope header; returns the next state or throws. */
export function checkFreshness(header: { id: string; seq: number; ts: string }, state: FreshnessState, policy: FreshnessPolicy): FreshnessResult {
  const { id, seq } = header;
  if (seen(state.seenIds, id)) throw protocolError('ERR_REPLAY', `envelope ${id} has been seen before`, { id });
  if (seq <= state.lastSeq) {
    throw protocolError('ERR_OUT_OF_ORDER', `envelope seq ${seq} is not above the last accepted seq ${state.lastSeq}`, { lastSeq: state.lastSeq, seq });
  }
  if (seq > state.lastSeq + 1 && policy.allowGaps !== true) {
    throw protocolError('ERR_SEQUENCE_GAP', `envelope seq ${seq} skips ahead: expected ${state.lastSeq + 1}`, { expected: state.lastSeq + 1, seq });
  }
  checkTimestamp(header.ts, policy);
  const prev = state.seenIds;
  const seenIds: SeenIds = typeof prev === 'function' ? (x: string) => x === id || prev(x) : new Set(prev).add(id);
  return { ok: true, next: { lastSeq: seq, seenIds } };
}
