/**
 * POST /v1/notices and GET /v1/notices (protocol 1.1, protocol/notices.ts): the hub routes
 * objections (异议) to the record's owner, the owner's results back to the filing node, and the
 * owner's dispute marks to every other active node whose grade may hold the record. A notice is
 * opened and checked like every envelope (envelope-in.ts), its id claimed against replay and its
 * ts checked in the same transaction that queues it for its recipients; the answer is a signed
 * `notice-receipt`. What the hub refuses to route is ERR_NOTICE_UNROUTABLE with `details.reason`.
 * Each notice is audited ('notice.route'); served notices are sealed to the asking node.
 */
import { answerKeys } from './answer-keys.js';
import { HUB_NODE_ID } from '../certs/issue.js';
import { protocolError } from '../protocol/errors.js';
import { checkTimestamp } from '../protocol/freshness.js';
import { MAX_NOTICE_ITEMS, NOTICE_SCHEMA, noticeProblems, type NoticeFeedPayload, type NoticePayload, type NoticeReceiptPayload } from '../protocol/notices.js';
import { seal } from '../protocol/seal.js';
import type { Envelope } from '../protocol/envelope.js';
import type { Peer } from './client-check.js';
import type { HubDeps } from './context.js';
import { malformedPayload, openFrom } from './envelope-in.js';
import { envelopesStore } from './envelopes-store.js';
import { hubError } from './errors.js';
import { nodesStore } from './nodes-store.js';
import { noticesStore } from './objections-store.js';
import { divergenceAuditFilter, noticeMark } from './feed-mark.js';
import { recordsStore } from './records-store.js';
import { mayReceive } from './release-policy.js';

export interface NoticeService {
  receive(peer: Peer, raw: string): Promise<Envelope>;
  /** `mark`, `limit` 0: as the distribution feed's (ERR_FEED_DIVERGED when the notice row at `after` is no longer the one marked). */
  feed(peer: Peer, o: { after: number; limit?: number; mark?: string }): Promise<Envelope>;
}

const unroutable = (reason: string, message: string) => hubError('ERR_NOTICE_UNROUTABLE', message, { reason });

export function noticeService(deps: HubDeps): NoticeService {
  const auditDivergence = divergenceAuditFilter();
  return {
    async receive(peer, raw) {
      const { header, digest, payload, problems } = await openFrom<NoticePayload>(deps, peer, raw, { type: 'notice', schema: NOTICE_SCHEMA });
      if (problems.length > 0) throw malformedPayload('notice', problems);
      const more = noticeProblems(payload.notice);
      if (more.length > 0) throw malformedPayload('notice', more);
      const n = payload.notice;
      const now = deps.clock();
      const at = now.toISOString();
      let recipients = 0;
      await deps.db.transaction(async (trx) => {
        const claimed = await envelopesStore.insert(trx, { id: header.id, fromNode: peer.nodeId, type: 'notice', seq: header.seq, ts: header.ts, digest, receivedAt: at, outcome: 'answered', code: null, response: null });
        if (!claimed) throw protocolError('ERR_REPLAY', `notice ${header.id} has been seen before`, { id: header.id });
        checkTimestamp(header.ts, { now, windowMs: deps.config.windowMs });
        const held = (await recordsStore.held(trx, n.owner, [n.recordId])).get(n.recordId);
        if (!held) throw unroutable('record-unknown', `the hub holds no record ${n.recordId} published by ${n.owner}`);
        let to: string[];
        if (n.kind === 'objection') {
          if (n.owner === peer.nodeId) throw unroutable('own-record', 'an objection about a node\'s own record is filed at that node, not sent');
          to = [n.owner];
        } else {
          if (n.owner !== peer.nodeId) throw unroutable('not-owner', `only the record's owner ${n.owner} sends ${n.kind} notices about it`);
          if (n.kind === 'objection-result') {
            const filed = await noticesStore.objectionFiler(trx, n.objectionId);
            if (!filed || filed.owner !== peer.nodeId || filed.recordId !== n.recordId) throw unroutable('objection-unknown', `the hub routed no objection ${n.objectionId} about this record to ${peer.nodeId}`);
            to = [filed.from];
          } else {
            const nodes = await nodesStore.list(trx);
            to = nodes.filter((x) => x.status === 'active' && x.nodeId !== peer.nodeId && mayReceive(held.classification, x.grade)).map((x) => x.nodeId);
            await noticesStore.setDisputed(trx, n.owner, n.recordId, n.disputed, n.at);
          }
        }
        await noticesStore.insert(trx, { to, from: peer.nodeId, noticeId: header.id, notice: n, at });
        recipients = to.length;
        await deps.audit.recordIn(trx, {
          action: 'notice.route', actor: `node:${peer.nodeId}`, actorNode: peer.nodeId, object: `${n.owner}/${n.recordId}`, class: held.classification, outcome: 'success',
          reason: `kind=${n.kind} notice=${header.id} to=${to.join(',') || '-'}`,
        });
      });
      const answer: NoticeReceiptPayload = { noticeId: header.id, recipients, receivedAt: at };
      return seal({ type: 'notice-receipt', from: HUB_NODE_ID, to: peer.nodeId, seq: header.seq, payload: answer, ...answerKeys(deps, peer, header), suites: deps.config.suites });
    },

    async feed(peer, o) {
      const limit = Math.min(o.limit ?? MAX_NOTICE_ITEMS, MAX_NOTICE_ITEMS);
      if (o.mark !== undefined && o.after > 0) {
        const row = await noticesStore.rowAt(deps.db, peer.nodeId, o.after);
        if (row === null || noticeMark(row) !== o.mark) {
          if (auditDivergence(peer.nodeId, o.after, limit)) await deps.audit.record({ action: 'notice.diverged', actor: `node:${peer.nodeId}`, actorNode: peer.nodeId, object: `cursor ${o.after}`, outcome: 'failure', reason: `ERR_FEED_DIVERGED after=${o.after} row=${row === null ? 'none' : 'other'}` });
          throw protocolError('ERR_FEED_DIVERGED', `the notice row at cursor ${o.after} is not the one marked when it was served: this hub's store went back in time (a restore or a failover); look for an earlier cursor whose mark still matches`, { after: o.after });
        }
      }
      const rows = limit === 0 ? [] : await noticesStore.feed(deps.db, peer.nodeId, o.after, limit + 1);
      const page = rows.slice(0, limit);
      const items = page.map(({ createdAt: _at, ...item }) => item);
      const last = page.at(-1);
      const payload: NoticeFeedPayload = last === undefined
        ? { items, next: o.after, more: rows.length > limit }
        : { items, next: last.cursor, more: rows.length > limit, mark: noticeMark({ cursor: last.cursor, toNode: peer.nodeId, fromNode: last.from, noticeId: last.noticeId, createdAt: last.createdAt }) };
      const seq = await deps.db.transaction(async (trx) => {
        const s = await envelopesStore.nextOut(trx, peer.nodeId, 'out:notices');
        if (items.length > 0) {
          await deps.audit.recordIn(trx, { action: 'notice.send', actor: `node:${peer.nodeId}`, actorNode: peer.nodeId, object: `cursor ${o.after}..${payload.next}`, outcome: 'success', reason: `items=${items.length}` });
        }
        return s;
      });
      return seal({ type: 'notice-feed', from: HUB_NODE_ID, to: peer.nodeId, seq, payload, ...answerKeys(deps, peer), suites: deps.config.suites });
    },
  };
}
