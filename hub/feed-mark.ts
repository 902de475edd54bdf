/**
 * Feed marks (docs/protocol.md "Distribution feed marks"): with each distribution page the hub
 * gives `mark`, an opaque token naming the feed row at `next`; the node sends it back with its next
 * `after`. A row keeps its mark for as long as the store keeps the row, so a mark that no longer
 * matches the row at that cursor means the store went back in time (a restore, a failover to a
 * standby that missed commits) and the cursor may now name other rows than the node applied: the
 * hub answers ERR_FEED_DIVERGED and the node looks for the last cursor it holds a matching mark for.
 *
 * This hub derives a mark as the first 8 bytes, in lowercase hex, of
 * SHA-256("CFFEED1" 0x00 cursor 0x00 kind 0x00 source_node 0x00 record_id 0x00 created_at)
 * (decimal cursor, UTF-8). created_at is the row's queue time in milliseconds, so the same record
 * queued again at the same cursor after a restore has another mark. Only the hub computes marks;
 * to a node they are opaque. The notice feed (GET /v1/notices) marks its rows the same way
 * (noticeMark: "CFNOTE1", cursor, to_node, from_node, notice_id, created_at).
 */
import { createHash } from 'node:crypto';

export interface MarkedRow {
  cursor: number;
  kind: string;
  sourceNode: string;
  recordId: string;
  createdAt: string;
}

export function feedMark(r: MarkedRow): string {
  return createHash('sha256').update(`CFFEED1\u0000${r.cursor}\u0000${r.kind}\u0000${r.sourceNode}\u0000${r.recordId}\u0000${r.createdAt}`, 'utf8').digest().subarray(0, 8).toString('hex');
}

export interface MarkedNotice {
  cursor: number;
  toNode: string;
  fromNode: string;
  noticeId: string;
  createdAt: string;
}

export function noticeMark(r: MarkedNotice): string {
  return createHash('sha256').update(`CFNOTE1\u0000${r.cursor}\u0000${r.toNode}\u0000${r.fromNode}\u0000${r.noticeId}\u0000${r.createdAt}`, 'utf8').digest().subarray(0, 8).toString('hex');
}

/**
 * Which divergences to audit: a node's probes (limit 0) never, and at most `perHour` pulls per node
 * per hour (per hub process) — a restore gives each node one or two, so a node asking with wrong
 * marks cannot fill the hub's audit log (each such request is still answered ERR_FEED_DIVERGED and
 * shows in the request log). One entry per enrolled node at most: bounded by the register.
 */
export function divergenceAuditFilter(perHour = 10, now: () => number = Date.now): (nodeId: string, after: number, limit: number) => boolean {
  const windows = new Map<string, { from: number; n: number }>();
  return (nodeId, _after, limit) => {
    if (limit === 0) return false;
    const t = now();
    const w = windows.get(nodeId);
    if (w === undefined || t - w.from >= 3_600_000) {
      windows.set(nodeId, { from: t, n: 1 });
      return true;
    }
    if (w.n >= perHour) return false;
    w.n++;
    return true;
  };
}
