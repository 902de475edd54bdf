/**
 * GET /v1/distributions?after=C&limit=N: what other nodes published that the asking node's grade
 * may receive (public ≥ 1, shared ≥ 2; restricted and internal never), in cursor order, sealed to
 * the asker as a 'distribution' envelope. Every item is decided when it is served, on the record's
 * CURRENT class and status (release-policy.ts feedDecision), whatever it was when the item was
 * queued and whatever cursor the node asks from: content only for an active record whose class the
 * grade covers now and whose disclosure window is open; a withdrawn, raised or expired record only
 * as a tombstone (no content). Feed rows are read only when their queued class was one the grade
 * covers, so a node gets no tombstone of a record it could never have held (intake queues an item
 * at the earlier class when a record is raised, so every node that may hold it hears of it).
 * Read-only except, when items go out, the node's records_out counter and one audit entry in the
 * same transaction, and the cursor the node pulled from when it moved (hub_feed_cursors).
 */
import { answerKeys } from './answer-keys.js';
import { HUB_NODE_ID } from '../certs/issue.js';
import { todayInChina } from '../protocol/catalog-calendar.js';
import { MAX_DISTRIBUTION_ITEMS, type DistributionItem, type DistributionPayload } from '../protocol/exchange.js';
import { seal } from '../protocol/seal.js';
import { envelopeDigest, type Envelope } from '../protocol/envelope.js';
import type { Peer } from './client-check.js';
import type { HubDeps } from './context.js';
import { envelopesStore } from './envelopes-store.js';
import { feedCursorsStore } from './feed-cursors-store.js';
import { divergenceAuditFilter, feedMark } from './feed-mark.js';
import { protocolError } from '../protocol/errors.js';
import { keepSent } from './evidence-log.js';
import { nodesStore } from './nodes-store.js';
import { recordsStore, type DistributionJoined } from './records-store.js';
import { feedDecision, receivableClasses, stillDisclosed } from './release-policy.js';

export const DEFAULT_DISTRIBUTION_LIMIT = 1000;
/** last_seen_at is refreshed by reads at most this often (every write refreshes it anyway). */
const SEEN_EVERY_MS = 30_000;

export interface DistributionService {
  /** `mark`: the one the hub gave with `next` = `after` (ERR_FEED_DIVERGED when the row at `after` is no longer that one); `limit` 0 only checks it. */
  feed(peer: Peer, o: { after: number; limit?: number; mark?: string }): Promise<{ envelope: Envelope; payload: DistributionPayload }>;
}

/** The item a feed row becomes for a node of `grade`, served at `now`; null when the hub holds no such record. */
export function feedItem(r: DistributionJoined, grade: number, now: Date): DistributionItem | null {
  const cur = r.current;
  if (cur === null) return null;
  const disclosed = cur.status === 'active' && stillDisclosed(cur.record, todayInChina(now));
  const d = feedDecision({ classification: cur.record.classification, status: cur.status, disclosed }, grade);
  if (d.serve === 'content') return { cursor: r.cursor, kind: 'record', sourceNode: r.sourceNode, record: cur.record };
  const base = { cursor: r.cursor, kind: 'withdrawal' as const, sourceNode: r.sourceNode, id: r.recordId, type: cur.record.type };
  if (d.serve === 'withdrawn') return { ...base, status: 'withdrawn', reason: cur.withdrawnReason ?? 'correction', at: cur.withdrawnAt ?? r.createdAt };
  return { ...base, status: 'withheld', reason: d.reason, at: now.toISOString() };
}

export function distributionService(deps: HubDeps): DistributionService {
  /** The cursor each node was last seen pulling from, as stored by this process: a poll from the same cursor writes nothing. */
  const cursors = new Map<string, number>();
  const auditDivergence = divergenceAuditFilter();
  return {
    async feed(peer, o) {
      const limit = Math.min(o.limit ?? DEFAULT_DISTRIBUTION_LIMIT, MAX_DISTRIBUTION_ITEMS);
      if (o.mark !== undefined && o.after > 0) {
        const row = await recordsStore.feedRowAt(deps.db, o.after);
        if (row === null || feedMark(row) !== o.mark) {
          // audited as batch.gap is (the hub's own record that its store went back in time), once per node and cursor, probes not
          if (auditDivergence(peer.nodeId, o.after, limit)) await deps.audit.record({ action: 'distribution.diverged', actor: `node:${peer.nodeId}`, actorNode: peer.nodeId, object: `cursor ${o.after}`, outcome: 'failure', reason: `ERR_FEED_DIVERGED after=${o.after} row=${row === null ? 'none' : 'other'}` });
          throw protocolError('ERR_FEED_DIVERGED', `the feed row at cursor ${o.after} is not the one marked when it was served: this hub's store went back in time (a restore or a failover); look for an earlier cursor whose mark still matches`, { after: o.after });
        }
      }
      const rows = limit === 0 ? [] : await recordsStore.feed(deps.db, { after: o.after, limit: limit + 1, excludeNode: peer.nodeId, classes: receivableClasses(peer.grade) });
      const more = rows.length > limit;
      const now = deps.clock();
      const at = now.toISOString();
      const items: DistributionItem[] = [];
      for (const r of rows.slice(0, limit)) {
        const item = feedItem(r, peer.grade, now);
        if (item) items.push(item);
      }
      const last = rows.length === 0 ? undefined : rows[Math.min(rows.length, limit) - 1]!;
      const next = last === undefined ? o.after : last.cursor;
      // the mark of the row at `next`, for the node to send back with after=next (hub/feed-mark.ts)
      const payload: DistributionPayload = last === undefined ? { items, next, more } : { items, next, more, mark: feedMark({ ...last, recordId: last.recordId, createdAt: last.createdAt }) };
      const sealFor = (seq: number) => seal({ type: 'distribution', from: HUB_NODE_ID, to: peer.nodeId, seq, payload, ...answerKeys(deps, peer), suites: deps.config.suites });
      // the node asks from `after`: everything up to it has reached it (the feed lag in /metrics)
      const moved = cursors.get(peer.nodeId) !== o.after;
      const envelope = await deps.db.transaction(async (trx) => {
        const n = await envelopesStore.nextOut(trx, peer.nodeId, 'out:distribution');
        if (moved) await feedCursorsStore.set(trx, peer.nodeId, o.after, at);
        if (items.length > 0) {
          // sealed inside: its evidence and the audit entry name the envelope (id, digest) it goes out as
          const env = await sealFor(n);
          await nodesStore.count(trx, peer.nodeId, at, { recordsOut: items.length });
          await keepSent(trx, env, at);
          await deps.audit.recordIn(trx, {
            action: 'distribution.send', actor: `node:${peer.nodeId}`, actorNode: peer.nodeId, object: `cursor ${o.after}..${next}`, outcome: 'success',
            reason: `items=${items.length} records=${items.filter((i) => i.kind === 'record').length} tombstones=${items.filter((i) => i.kind === 'withdrawal').length} more=${more} envelope=${env.id} digest=${envelopeDigest(env)}`,
          });
          return env;
        }
        if (peer.lastSeenAt === null || now.getTime() - Date.parse(peer.lastSeenAt) > SEEN_EVERY_MS) {
          await nodesStore.count(trx, peer.nodeId, at, {});
        }
        return n;
      });
      if (moved) cursors.set(peer.nodeId, o.after);
      if (typeof envelope === 'number') return { envelope: await sealFor(envelope), payload };
      if (items.length > 0) deps.metrics.distributed.inc(items.length);
      return { envelope, payload };
    },
  };
}
