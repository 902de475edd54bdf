/**
 * How many nodes' batches one hub process takes at once (POST /v1/batches). Each batch taken is
 * held in memory from its body to its receipt — the envelope text, the opened payload, the checked
 * records, the rows — ≈ 40–80 MB for a batch of 5,000 records (docs/benchmarks.md, "Larger
 * batches"), and on a SQLite hub the batches of different nodes wait for the one connection in turn,
 * opened. Without a bound, a province catching up after a hub outage (every node sending its
 * backlog, two batches in flight each) made the hub hold two opened batches per node.
 *
 * A batch is admitted before its body is read (Fastify's preParsing, after the client check):
 * - never a third batch of one node at once (`node`); a first one only while fewer than `maxNodes`
 *   nodes have batches admitted (`nodes`); a second one beside the first (the pipeline of two in
 *   flight);
 * - but a node whose turn has lasted `tenureMs` (intakeTurnMs, 5 s) gives way (`turn`) while
 *   other nodes wait (were refused and their Retry-After has not run out) that the free places cannot
 *   all take: its turn runs from its first batch for
 *   as long as it has batches under way or sends the next within WAITING_MS of the last, so a node
 *   with a backlog does not keep its place for the whole backlog; it then waits like the others.
 * Refused: 503 ERR_HUB_BUSY with Retry-After (1 s, longer the more nodes wait: retryAfterFor), logged
 * as a warning; until that time has passed any batch of that node is refused alike (the pair of
 * batches a node sends together is not split: the second alone could only be a gap); the node waits that long
 * (plus jitter, without counting a failure) and sends the batch again (its outbox keeps it; same id
 * and seq), so nothing is lost, only delayed. The seq of a refused batch is not consumed (nothing of
 * it was processed), and a node's second batch admitted without its first is answered as before
 * (ERR_SEQUENCE_GAP, signed), which the node's pipeline drops.
 *
 * The slot of an admitted upload ends (hub/routes/exchange.ts `guardUpload`): when the handler has
 * finished with the batch; or, if the handler never began, when the response or the connection
 * closes, or when the upload has not arrived within its deadline (uploadDeadlineMs: the connection is
 * then closed). A request whose connection is already closed when it reaches preParsing is not
 * admitted at all.
 */
import { performance } from 'node:perf_hooks';
import type { FastifyRequest } from 'fastify';
import { hubError } from './errors.js';

/** Batches of one node admitted at once: the node's pipeline keeps two in flight (node/exchange/sender.ts). */
export const BATCHES_PER_NODE = 2;
/** Seconds a refused node waits before it sends again (Retry-After) when few wait; more wait, longer (retryAfterFor). */
export const BUSY_RETRY_AFTER_S = 1;
/** The longest Retry-After a busy hub gives. */
export const MAX_BUSY_RETRY_AFTER_S = 30;
/** A node told to wait s seconds is refused until s seconds less this (timers and clocks round). */
const BLOCK_SLACK_MS = 50;
/** How long a refused node counts as waiting past its Retry-After (the node's jitter, up to half of it, and a round trip). */
export const WAITING_MS = 3000;

/**
 * Retry-After (s) for a node refused while `waiting` nodes (itself included) wait for `places`:
 * one second for each time round the places, 1 to MAX_BUSY_RETRY_AFTER_S. A refused upload is still
 * read to its end before the answer (the HTTP connection is kept: server/http-errors.ts drainUnread),
 * so a province of nodes asking every second would cost the hub more than the batches it takes.
 */
export function retryAfterFor(waiting: number, places: number): number {
  return Math.min(MAX_BUSY_RETRY_AFTER_S, Math.max(BUSY_RETRY_AFTER_S, Math.ceil(waiting / Math.max(1, places))));
}
/** How long a node keeps its place while others wait, before its next batch gives way (a handover costs the waiting node's Retry-After): hub config intakeTurnMs. */
export const TENURE_MS = 5000;
/** Bytes a second an admitted upload must at least arrive at, besides its grace (256 kbit/s: a county's slow uplink still gets a batch of 8 MiB through in ≈ 4.5 min). */
export const UPLOAD_MIN_BYTES_PER_S = 32 * 1024;

/** How long an admitted upload of `length` bytes (unknown: the largest envelope) may take to arrive: the grace, plus 1 s per 32 KiB. */
export function uploadDeadlineMs(length: number | undefined, maxEnvelopeBytes: number, graceMs: number): number {
  const bytes = length !== undefined && Number.isFinite(length) && length >= 0 ? Math.min(length, maxEnvelopeBytes) : maxEnvelopeBytes;
  return graceMs + Math.ceil((bytes / UPLOAD_MIN_BYTES_PER_S) * 1000);
}

export interface BatchSlot {
  /** True once released: a handler that has not begun must not begin. */
  readonly released: boolean;
  /** Whether the handler has begun (the slot is then released only by release()). */
  readonly begun: boolean;
  begin(): void;
  release(): void;
}

export interface BatchAdmission {
  /** A slot for a batch of `nodeId`, or ERR_HUB_BUSY (details.reason `node`, `nodes` or `turn`). */
  admit(nodeId: string): BatchSlot;
  /** Nodes with batches admitted now, and the batches (metrics, tests). */
  load(): { nodes: number; batches: number };
}

/** Requests answered ERR_HUB_BUSY: hub/request-log.ts logs them as warnings, not as failures. */
const busyAnswers = new WeakSet<FastifyRequest>();
export function markBusy(request: FastifyRequest): void {
  busyAnswers.add(request);
}
export function answeredBusy(request: FastifyRequest): boolean {
  return busyAnswers.has(request);
}

export function batchAdmission(maxNodes: number, now: () => number = () => performance.now(), tenureMs = TENURE_MS): BatchAdmission {
  const held = new Map<string, number>();
  /** When each node's turn began (ms): kept while it has batches under way or came back within WAITING_MS of its last. */
  const since = new Map<string, number>();
  /** When each node's last batch ended, while it may still be part of its turn (ms). */
  const lastEnd = new Map<string, number>();
  /** Nodes refused for want of a place or to give way: since when they wait (their place in the queue) and until when they count as waiting (ms). */
  const waiting = new Map<string, { from: number; until: number }>();
  /** Nodes told to wait, and until when (their Retry-After, ms): a batch of theirs before then is refused alike, so the pair a node sends together stays together. */
  const blocked = new Map<string, number>();
  let batches = 0;
  const busy = (reason: 'node' | 'nodes' | 'turn', message: string, retryAfter = BUSY_RETRY_AFTER_S) => hubError('ERR_HUB_BUSY', message, { retryAfter, reason });
  /** Marks `nodeId` as waiting (keeping its place in the queue, or at its end: `requeue`) and gives its Retry-After. */
  const wait = (nodeId: string, t: number, requeue = false): number => {
    const from = requeue ? t : (waiting.get(nodeId)?.from ?? t);
    waiting.delete(nodeId);
    const s = retryAfterFor(waiting.size + 1, maxNodes);
    waiting.set(nodeId, { from, until: t + s * 1500 + WAITING_MS });
    blocked.set(nodeId, t + s * 1000 - BLOCK_SLACK_MS);
    return s;
  };
  /** Waiting nodes ahead of `nodeId` (all of them when it does not wait itself): the free places are theirs first. */
  const ahead = (nodeId: string) => {
    const mine = waiting.get(nodeId)?.from;
    let n = 0;
    for (const [other, w] of waiting) if (other !== nodeId && !held.has(other) && (mine === undefined || w.from < mine || (w.from === mine && other < nodeId))) n++;
    return n;
  };
  return {
    admit(nodeId) {
      const t = now();
      for (const [n, w] of waiting) if (t > w.until) waiting.delete(n);
      for (const [n, until] of blocked) if (t >= until) blocked.delete(n);
      for (const [n, at] of lastEnd) {
        if (t - at > WAITING_MS) {
          lastEnd.delete(n);
          if (!held.has(n)) since.delete(n);
        }
      }
      const mine = held.get(nodeId) ?? 0;
      const until = blocked.get(nodeId);
      if (until !== undefined) {
        const s = Math.max(1, Math.ceil((until + BLOCK_SLACK_MS - t) / 1000));
        throw busy(held.has(nodeId) ? 'turn' : 'nodes', `node ${nodeId} was told to wait; send again in ${s} s`, s);
      }
      if (mine >= BATCHES_PER_NODE) throw busy('node', `this hub already has ${mine} batches of node ${nodeId} under way; send the next when one is answered`);
      const start = since.get(nodeId) ?? t;
      const continuing = since.has(nodeId); // batches under way, or its last ended moments ago
      // a new turn: only while the free places outnumber the waiting nodes ahead of it (first come, first served)
      if (mine === 0 && !continuing && maxNodes - held.size <= ahead(nodeId)) {
        const s = wait(nodeId, t);
        throw busy('nodes', `this hub is taking batches of ${held.size} nodes at once (intakeMaxNodes), ${waiting.size} wait; send again in ${s} s`, s);
      }
      if (mine === 0 && held.size >= maxNodes) {
        const s = wait(nodeId, t);
        throw busy('nodes', `this hub is taking batches of ${held.size} nodes at once (intakeMaxNodes), ${waiting.size} wait; send again in ${s} s`, s);
      }
      // a turn that has lasted tenureMs ends when waiting nodes are more than the places free after this batch
      if (t - start >= tenureMs && ahead(nodeId) > maxNodes - held.size - (mine === 0 ? 1 : 0)) {
        // its turn is over: it waits like the others, at the end of the queue, and its next turn starts afresh
        const s = wait(nodeId, t, true);
        since.delete(nodeId);
        lastEnd.delete(nodeId);
        throw busy('turn', `other nodes wait for a place at this hub: node ${nodeId} has had its turn; send again in ${s} s`, s);
      }
      waiting.delete(nodeId);
      since.set(nodeId, start);
      held.set(nodeId, mine + 1);
      batches++;
      let released = false;
      let begun = false;
      return {
        get released() {
          return released;
        },
        get begun() {
          return begun;
        },
        begin() {
          begun = true;
        },
        release() {
          if (released) return;
          released = true;
          batches--;
          const n = (held.get(nodeId) ?? 1) - 1;
          if (n > 0) held.set(nodeId, n);
          else {
            held.delete(nodeId);
            lastEnd.set(nodeId, now());
          }
        },
      };
    },
    load: () => ({ nodes: held.size, batches }),
  };
}
