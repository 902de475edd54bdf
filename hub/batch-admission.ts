/**
 * How many nodes' batches one hub process takes at once (POST /v1/batches). Each batch taken is
 * held in memory from its body to its receipt — the envelope text, the opened payload, the checked
 * records, the rows — ≈ 40–80 MB for a batch of 5,000 records (docs/benchmarks.md, "Larger
 * batches"), and on a SQLite hub the batches of different nodes wait for the one connection in turn,
 * opened. Without a bound, a province catching up after a hub outage (every node sending its
 * backlog, two batches in flight each) made the hub hold two opened batches per node.
 *
 * A batch is admitted before its body is read (Fastify's preParsing, after the client check):
 * - while its node has a batch admitted, a second one too (the pipeline of two in flight); a third
 *   is refused;
 * - else while fewer than `maxNodes` nodes have batches admitted.
 * Refused: 503 ERR_HUB_BUSY with Retry-After (seconds), logged as a refusal; the node sends the
 * batch again (its outbox keeps it; same id and seq), so nothing is lost, only delayed. The seq of a
 * refused batch is not consumed (nothing of it was read), and a node's second batch admitted without
 * its first is answered as before (ERR_SEQUENCE_GAP, signed).
 *
 * A slot is released when the handler has finished with the batch, or, when the handler never
 * started (the body was too large or cut off, the client went away), when the response closes; a
 * handler that finds its slot already released (the client left before it began) does not start.
 */
import { hubError } from './errors.js';

/** Batches of one node admitted at once: the node's pipeline keeps two in flight (node/exchange/sender.ts). */
export const BATCHES_PER_NODE = 2;
/** Seconds a refused node waits before it sends again (Retry-After). */
export const BUSY_RETRY_AFTER_S = 1;

export interface BatchSlot {
  /** True once released: a handler that has not begun must not begin. */
  readonly released: boolean;
  /** Marks the handler as begun (the slot is then released only by release()). */
  begin(): void;
  /** Whether the handler has begun. */
  readonly begun: boolean;
  release(): void;
}

export interface BatchAdmission {
  /** A slot for a batch of `nodeId`, or ERR_HUB_BUSY. */
  admit(nodeId: string): BatchSlot;
  /** Nodes with batches admitted now, and the batches (metrics, tests). */
  load(): { nodes: number; batches: number };
}

export function batchAdmission(maxNodes: number): BatchAdmission {
  const held = new Map<string, number>();
  let batches = 0;
  return {
    admit(nodeId) {
      const mine = held.get(nodeId) ?? 0;
      if (mine >= BATCHES_PER_NODE) {
        throw hubError('ERR_HUB_BUSY', `this hub already has ${mine} batches of node ${nodeId} under way; send the next when one is answered`, { retryAfter: BUSY_RETRY_AFTER_S, reason: 'node' });
      }
      if (mine === 0 && held.size >= maxNodes) {
        throw hubError('ERR_HUB_BUSY', `this hub is taking batches of ${held.size} nodes at once (intakeMaxNodes); send again in ${BUSY_RETRY_AFTER_S} s`, { retryAfter: BUSY_RETRY_AFTER_S, reason: 'nodes' });
      }
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
          else held.delete(nodeId);
        },
      };
    },
    load: () => ({ nodes: held.size, batches }),
  };
}
