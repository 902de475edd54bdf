/**
 * POST /v1/queries: a province-wide subject query. The 'query' stream is unordered: the envelope
 * id must be new (ERR_REPLAY) and its ts inside the window; seq is any positive integer. The
 * answer holds the active, still disclosed records of every node about the subject (their class
 * and status as they are now) that the asking node's grade,
 * its user's clearance and the stated purpose allow (release-policy.ts); held-back classes are
 * listed with counts and codes. Audited as 'query.answer' with the subject as an HMAC, never raw.
 */
import { answerKeys } from './answer-keys.js';
import { HUB_NODE_ID } from '../certs/issue.js';
import { classRank, type Classification } from '../protocol/classification.js';
import { protocolError } from '../protocol/errors.js';
import { QUERY_SCHEMA, type QueryAnswerPayload, type QueryPayload } from '../protocol/exchange.js';
import { todayInChina } from '../protocol/catalog-calendar.js';
import { checkTimestamp } from '../protocol/freshness.js';
import { seal } from '../protocol/seal.js';
import type { Envelope } from '../protocol/envelope.js';
import type { Peer } from './client-check.js';
import type { HubDeps } from './context.js';
import { subjectHmac } from './crypto.js';
import { malformedPayload, openFrom } from './envelope-in.js';
import { answerFields } from '../audit/evidence-record.js';
import { envelopesStore } from './envelopes-store.js';
import { keepReceived, keepSent } from './evidence-log.js';
import { nodesStore } from './nodes-store.js';
import { recordsStore } from './records-store.js';
import { noticesStore } from './objections-store.js';
import { releaseFor, stillDisclosed } from './release-policy.js';

export interface QueryService {
  answer(peer: Peer, raw: string): Promise<Envelope>;
}

export function queryService(deps: HubDeps): QueryService {
  return {
    async answer(peer, raw) {
      const inc = await openFrom<QueryPayload>(deps, peer, raw, { type: 'query', schema: QUERY_SCHEMA });
      const { header, digest, payload, problems } = inc;
      if (problems.length > 0) throw malformedPayload('query', problems);
      const purpose = payload.purpose?.trim() || undefined;
      let sealed!: Promise<Envelope>;
      // the subject scan on the read replica, before the transaction (a slow replica holds no primary connection); null: scan the primary
      const keys = deps.replica ? await deps.replica.keys(payload.subject) : null;
      await deps.db.transaction(async (trx) => {
        const now = deps.clock();
        const at = now.toISOString();
        // Statements that do not depend on each other go to the connection together (SQLite runs
        // them one after the other on it, PostgreSQL queues them on the transaction's client): one
        // round trip each pair instead of two. Both settle before anything is decided or thrown.
        // Replay first: the id is claimed by inserting it (a stale ts below rolls the insert back).
        const [claimed, read] = await Promise.allSettled([
          envelopesStore.insert(trx, { id: header.id, fromNode: peer.nodeId, type: 'query', seq: header.seq, ts: header.ts, digest, receivedAt: at, outcome: 'answered', code: null, response: null }),
          // rows read whole on the primary: found by the replica's scan, or by the primary's own (hub/replica.ts)
          keys ? recordsStore.byKeys(trx, keys, payload.subject) : recordsStore.bySubject(trx, payload.subject),
        ]);
        if (claimed.status === 'rejected') throw claimed.reason;
        if (!claimed.value) throw protocolError('ERR_REPLAY', `query ${header.id} has been seen before`, { id: header.id });
        checkTimestamp(header.ts, { now, windowMs: deps.config.windowMs });
        if (read.status === 'rejected') throw read.reason;
        // current status (active only) and class; a negative record past its disclosure window is no longer shared
        const today = todayInChina(now);
        const all = read.value.filter((r) => stillDisclosed(r, today));
        const released: QueryAnswerPayload['records'] = [];
        const withheld = new Map<Classification, { count: number; code: string }>();
        for (const r of all) {
          const d = releaseFor(r.classification, { grade: peer.grade, clearance: payload.clearance, purpose });
          if (d.release) released.push(r);
          else {
            const w = withheld.get(r.classification) ?? { count: 0, code: d.code };
            w.count++;
            withheld.set(r.classification, w);
          }
        }
        const disputed = await noticesStore.disputedAmong(trx, released); // 1.1: the owner's 异议中 mark travels with the record
        const answer: QueryAnswerPayload = {
          subject: payload.subject,
          queryId: header.id,
          records: released.map((r) => (disputed.has(`${r.sourceNode}/${r.id}`) ? { ...r, disputed: true } : r)),
          withheld: [...withheld].map(([classification, w]) => ({ classification, count: w.count, code: w.code })),
          answeredAt: at,
        };
        // The answer is sealed (its signature made in the thread pool) while the counters, the audit
        // entry and the commit are written; it leaves only once they are committed. Should the
        // transaction fail, its error is the one reported and the sealed answer is dropped.
        sealed = seal({ type: 'query-answer', from: HUB_NODE_ID, to: peer.nodeId, seq: header.seq, payload: answer, ...answerKeys(deps, peer, header), suites: deps.config.suites, extra: answerFields(header.id, digest) });
        sealed.catch(() => undefined);
        // Lock order (audit/log.ts): the hub_nodes row lock first, the audit lock last. Started
        // together, the audit lock could be held while the counter update waits for a batch of the
        // same node that holds the row and waits for the audit lock: a wedge PostgreSQL cannot see.
        await nodesStore.count(trx, peer.nodeId, at, { queries: 1, recordsOut: released.length });
        const top = released.reduce<Classification | undefined>((m, r) => (m === undefined || classRank(r.classification) > classRank(m) ? r.classification : m), undefined);
        const held = [...withheld].map(([c, w]) => `${c}:${w.count}:${w.code}`).join(',');
        const sent = await sealed;
        await keepReceived(trx, inc, at);
        await keepSent(trx, sent, at);
        await deps.audit.recordIn(trx, {
          action: 'query.answer',
          actor: `node:${peer.nodeId}/${payload.actor}`.slice(0, 200),
          actorNode: peer.nodeId,
          object: subjectHmac(deps.subjectKey, payload.subject),
          ...(top ? { class: top } : {}),
          outcome: 'success',
          reason: `purpose=${purpose ?? '-'} clearance=${payload.clearance} released=${released.length} withheld=${held || '-'} query=${header.id} digest=${digest} answer=${sent.id}`,
        });
      });
      deps.metrics.queries.inc();
      return sealed;
    },
  };
}
