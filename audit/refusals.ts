/**
 * Refusals (unauthenticated or denied requests) go to the audit log aggregated per source and
 * minute, so a flood cannot grow the append-only log without bound while a single refusal is still
 * recorded at once:
 *   - the first refusal of a key (source, action, object, reason) in a UTC minute is written as it
 *     comes, as the caller's event (`request.refused`, `access.denied` …);
 *   - further refusals of that key in the same minute are only counted (first and last time);
 *   - when the minute has closed (the next refusal after it, or the timer shortly after the minute
 *     boundary) and at close(), each counted key is written as ONE entry: action `<action>.aggregate`,
 *     same actor, actorNode, object and class, reason `<reason> count=N first=ISO last=ISO` where N
 *     counts the refusals NOT written one by one (so the one entry plus its aggregate add up to all);
 *   - at most `maxKeys` keys are tracked per minute; refusals of further keys that minute are
 *     counted under one overflow key per (action, reason) with actor `*` (written only as an aggregate).
 * So each minute adds at most 2 × maxKeys + (overflow keys) entries, whatever the request rate.
 * No refusal is ever dropped (issue 22): a write that fails is tried again (`attempts`, a little later
 * each time); when the single entry still cannot be written, refused() rejects, so the caller fails
 * the request instead of answering it unlogged (the hub answers 503 ERR_NOT_READY); aggregates whose
 * write fails go back into the tallies and are written with the next flush (or close()).
 */
import type { AuditEvent, AuditSink } from './types.js';

export interface RefusalAuditOptions {
  /** The clock refusals are dated by (minute buckets); default the system clock. */
  clock?: () => Date;
  /** Keys tracked per minute (default 1000). */
  maxKeys?: number;
  /** Write closed minutes from a timer (default true; the timer does not keep the process alive). */
  timer?: boolean;
  /** Where a failed background write is reported (default: ignored). */
  onError?: (e: unknown) => void;
  /** Tries of each write before it counts as failed (default 4: waits 50, 100, 150 ms between). */
  attempts?: number;
}

export interface RefusalAudit {
  /**
   * Records one refusal of `event` (outcome 'failure') coming from `source` (an address, a
   * certificate fingerprint, a node or user id). Resolves when what it had to write is stored.
   */
  refused(source: string, event: AuditEvent): Promise<void>;
  /** Writes the aggregates of every minute that has closed (all of them with `all`). */
  flush(all?: boolean): Promise<void>;
  /** Writes every open aggregate and stops the timer. */
  close(): Promise<void>;
}

interface Tally {
  minute: number;
  event: AuditEvent;
  /** Refusals counted but not written one by one. */
  count: number;
  first: string | null;
  last: string | null;
}

const MINUTE = 60_000;
export const AGGREGATE_SUFFIX = '.aggregate';

export function refusalAudit(sink: AuditSink, opts: RefusalAuditOptions = {}): RefusalAudit {
  const clock = opts.clock ?? (() => new Date());
  const maxKeys = opts.maxKeys ?? 1000;
  const tallies = new Map<string, Tally>();
  /** Tracked (non-overflow) keys of the current minute. */
  let tracked = 0;
  let minuteNow = -1;
  let timer: NodeJS.Timeout | null = null;
  let closed = false;
  const attempts = Math.max(1, opts.attempts ?? 4);

  /** sink.record(), tried again on failure; rejects with the last error. */
  async function write(e: AuditEvent): Promise<void> {
    for (let i = 1; ; i++) {
      try {
        await sink.record(e);
        return;
      } catch (err) {
        if (i >= attempts) throw err;
        await new Promise((r) => setTimeout(r, 50 * i));
      }
    }
  }

  const aggregate = (t: Tally): AuditEvent => ({
    ...t.event,
    action: `${t.event.action}${AGGREGATE_SUFFIX}`,
    reason: `${t.event.reason ?? '-'} count=${t.count} first=${t.first} last=${t.last}`.slice(0, 2000),
  });

  /** Takes the tallies to write out of the map (those of closed minutes, or all) and writes them. */
  async function flush(all = false): Promise<void> {
    const current = Math.floor(clock().getTime() / MINUTE);
    const out: Array<[string, Tally]> = [];
    for (const [k, t] of tallies) {
      if (!all && t.minute >= current) continue;
      tallies.delete(k);
      if (t.count > 0) out.push([k, t]);
    }
    if (current !== minuteNow || all) {
      minuteNow = current;
      tracked = [...tallies.keys()].filter((k) => !k.startsWith('*\u0000')).length;
    }
    // one flush of the log for all of them; a tally whose aggregate could not be written goes back
    // (under a key of its own minute, so it is written as it was by the next flush)
    const results = await Promise.allSettled(out.map(([, t]) => write(aggregate(t))));
    const failed = results.flatMap((r, i) => (r.status === 'rejected' ? [[out[i]!, r.reason] as const] : []));
    for (const [[k, t]] of failed) tallies.set(`${t.minute}\u0001${k}`, t);
    if (failed.length > 0) {
      schedule();
      throw failed[0]![1];
    }
  }

  function schedule(): void {
    if (opts.timer === false || timer || closed || tallies.size === 0) return;
    const wait = MINUTE - (clock().getTime() % MINUTE) + 1000;
    timer = setTimeout(() => {
      timer = null;
      flush().catch((e: unknown) => opts.onError?.(e)).finally(schedule);
    }, wait);
    timer.unref();
  }

  return {
    async refused(source, event) {
      const now = clock();
      const minute = Math.floor(now.getTime() / MINUTE);
      // aggregates that cannot be written now stay in the tallies: this refusal is still written below
      if (minute !== minuteNow) await flush().catch((e: unknown) => opts.onError?.(e));
      const key = [source, event.action, event.object ?? '', event.reason ?? ''].join('\u0000');
      const t = tallies.get(key);
      if (t && t.minute === minute) {
        t.count++;
        t.first ??= now.toISOString();
        t.last = now.toISOString();
        return;
      }
      if (closed) return void (await write(event));
      if (tracked >= maxKeys) {
        const over = ['*', event.action, event.reason ?? ''].join('\u0000');
        const { actorNode: _node, ...rest } = event;
        const o = tallies.get(over) ?? { minute, event: { ...rest, actor: '*', object: `more than ${maxKeys} sources` }, count: 0, first: null, last: null };
        o.count++;
        o.first ??= now.toISOString();
        o.last = now.toISOString();
        tallies.set(over, o);
        schedule();
        return;
      }
      tallies.set(key, { minute, event, count: 0, first: null, last: null });
      tracked++;
      schedule();
      try {
        await write(event);
      } catch (e) {
        // not written: forget the key, so the next refusal of it is written one by one again
        if (tallies.get(key)?.count === 0) {
          tallies.delete(key);
          tracked--;
        }
        throw e;
      }
    },
    flush,
    async close() {
      closed = true;
      if (timer) clearTimeout(timer);
      timer = null;
      await flush(true);
    },
  };
}
