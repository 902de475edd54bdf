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
 *   another node waits (was refused and its Retry-After has not run out): its turn runs from its first batch for
 *   as long as it has batches under way or sends the next within WAITING_MS of the last, so a node
 *   with a backlog does not keep its place for the whole backlog; it then waits like the others.
 * Refused: 503 ERR_HUB_BUSY with Retry-After (1 s, longer the more nodes wait: retryAfterFor), logged
 * as a warning; the node waits that long
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
import type { FastifyRequest } from 'fastify';
import { hubError } from './errors.js';

/** Batches of one node admitted at once: the node's pipeline keeps two in flight (node/exchange/sender.ts). */
export const BATCHES_PER_NODE = 2;
/** Seconds a refused node waits before it sends again (Retry-After) when few wait; more wait, longer (retryAfterFor). */
export const BUSY_RETRY_AFTER_S = 1;
/** The longest Retry-After a busy hub gives. */
export const MAX_BUSY_RETRY_AFTER_S = 30;
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
/** Bytes a second an admitted upload must at least arrive at, besides its grace (1 Mbit/s). */
export const UPLOAD_MIN_BYTES_PER_S = 128 * 1024;

/** How long an admitted upload of `length` bytes (unknown: the largest envelope) may take to arrive. */
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

export function batchAdmission(maxNodes: number, now: () => number = Date.now, tenureMs = TENURE_MS): BatchAdmission {
  const held = new Map<string, number>();
  /** When each node's turn began (ms): kept while it has batches under way or came back within WAITING_MS of its last. */
  const since = new Map<string, number>();
  /** When each node's last batch ended, while it may still be part of its turn (ms). */
  const lastEnd = new Map<string, number>();
  /** Nodes refused for want of a place or to give way, and until when they count as waiting (ms). */
  const waiting = new Map<string, number>();
  let batches = 0;
  const busy = (reason: 'node' | 'nodes' | 'turn', message: string, retryAfter = BUSY_RETRY_AFTER_S) => hubError('ERR_HUB_BUSY', message, { retryAfter, reason });
  /** Marks `nodeId` as waiting from `t` and gives its Retry-After. */
  const wait = (nodeId: string, t: number): number => {
    waiting.delete(nodeId);
    const s = retryAfterFor(waiting.size + 1, maxNodes);
    waiting.set(nodeId, t + s * 1500 + WAITING_MS);
    return s;
  };
  const othersWait = (nodeId: string) => {
    for (const n of waiting.keys()) if (n !== nodeId && !held.has(n)) return true;
    return false;
  };
  return {
    admit(nodeId) {
      const t = now();
      for (const [n, until] of waiting) if (t > until) waiting.delete(n);
      for (const [n, at] of lastEnd) {
        if (t - at > WAITING_MS) {
          lastEnd.delete(n);
          if (!held.has(n)) since.delete(n);
        }
      }
      const mine = held.get(nodeId) ?? 0;
      if (mine >= BATCHES_PER_NODE) throw busy('node', `this hub already has ${mine} batches of node ${nodeId} under way; send the next when one is answered`);
      if (mine === 0 && held.size >= maxNodes) {
        const s = wait(nodeId, t);
        throw busy('nodes', `this hub is taking batches of ${held.size} nodes at once (intakeMaxNodes), ${waiting.size} wait; send again in ${s} s`, s);
      }
      const start = since.get(nodeId) ?? t;
      if (t - start >= tenureMs && othersWait(nodeId)) {
        // its turn is over: it waits like the others, and its next turn starts afresh
        const s = wait(nodeId, t);
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
