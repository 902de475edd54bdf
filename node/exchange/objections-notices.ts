/**
 * The node's side of notices (protocol/notices.ts): sends the queued notices (objections, results,
 * dispute marks) to the hub, each sealed as a `notice` envelope whose id was fixed when it was
 * queued (a resend after a lost answer is a replay, taken as delivered), and pulls the notices the
 * hub routed to this node (GET /v1/notices, own cursor), applying each in one transaction with the
 * new cursor and its audit entries. Applying is idempotent (objection ids, decide-if-open, marks).
 * The feed's cursor is checked with the hub's feed marks (feed-marks.ts) as the distribution feed's.
 */
import type { Knex } from 'knex';
import type { AuditEvent } from '../../audit/types.js';
import { isCreditError } from '../../protocol/errors.js';
import { MAX_NOTICE_ITEMS, type Notice, type NoticeFeedPayload } from '../../protocol/notices.js';
import { nodeError } from '../errors.js';
import { objectionsStore } from '../objections-store.js';
import type { AuditWriter } from '../records-service.js';
import { HubError, type HubClient } from './hub-client.js';
import { openFromHub, sealToHub } from './hub-envelopes.js';
import type { ExchangeIdentity } from './identity.js';
import type { Log } from './loop.js';
import { outboxStore } from './outbox-store.js';
import { createFeedMarks, markOf } from './feed-marks.js';

export const NOTICES_CURSOR_KEY = 'notices.cursor';

export type NoticeApplier = (trx: Knex.Transaction, from: string, notice: Notice) => Promise<AuditEvent | null>;

export interface NoticesDeps {
  db: Knex;
  audit: AuditWriter;
  identity: ExchangeIdentity;
  client: () => HubClient;
  clock: () => Date;
  log: Log;
  pollIntervalMs: number;
}

function isFeed(p: unknown): p is NoticeFeedPayload {
  const f = p as NoticeFeedPayload;
  return typeof f === 'object' && f !== null && Array.isArray(f.items) && Number.isSafeInteger(f.next) && typeof f.more === 'boolean';
}

export function createNotices(deps: NoticesDeps) {
  const { db, audit, identity, clock, log } = deps;
  let applier: NoticeApplier | undefined;
  // the hub's marks of the notice cursors applied up to (migration 043), and the search after ERR_FEED_DIVERGED
  const marks = createFeedMarks({ db, audit, clock, log, table: 'node_notice_marks', cursorKey: NOTICES_CURSOR_KEY, action: 'notice.rewind', feed: 'notice feed' });
  let wake: () => void = () => undefined;

  /** Sends every queued notice; returns how many went. A refusal other than a replay is kept for retry and logged. */
  async function send(signal?: AbortSignal): Promise<number> {
    let sent = 0;
    for (const q of await objectionsStore.pending(db, 100)) {
      const envelope = await sealToHub(identity, { type: 'notice', seq: q.n, id: q.envelopeId, ts: clock(), payload: { notice: q.notice } });
      try {
        const raw = await deps.client().postNotice(envelope, signal);
        await openFromHub(raw, 'notice-receipt', identity, { now: clock(), fresh: true });
      } catch (e) {
        if (!(isCreditError(e) && e.code === 'ERR_REPLAY')) {
          await objectionsStore.markFailed(db, q.n, isCreditError(e) ? `${e.code}: ${e.message}` : String(e));
          throw e;
        }
      }
      await objectionsStore.markSent(db, q.n, clock().toISOString());
      sent++;
    }
    return sent;
  }

  /** Opens a notice-feed answer and checks its shape. */
  async function openFeed(raw: unknown, after: number): Promise<NoticeFeedPayload & { envelopeId: string }> {
    const opened = await openFromHub<unknown>(raw, 'notice-feed', identity, { now: clock(), fresh: true });
    const p = opened.payload;
    if (!isFeed(p)) throw nodeError('ERR_HUB_ANSWER_INVALID', 'the notice-feed payload does not have the notice-feed shape');
    if (p.next < after) throw nodeError('ERR_HUB_ANSWER_INVALID', `the hub's next notice cursor ${p.next} is behind ${after}`, { after, next: p.next });
    return { ...p, envelopeId: opened.header.id };
  }

  /** Pulls and applies what the hub routed here; returns how many items were applied and whether more wait. */
  async function pull(signal?: AbortSignal): Promise<{ applied: number; more: boolean }> {
    const after = Number((await outboxStore.getState(db, NOTICES_CURSOR_KEY)) ?? 0);
    const got = await marks.pull(
      after,
      (mark) => deps.client().getNotices(after, MAX_NOTICE_ITEMS, signal, mark),
      async (m) => openFeed(await deps.client().getNotices(m.cursor, 0, signal, m.mark), m.cursor),
    );
    if ('rewound' in got) return { applied: 0, more: !got.rewound.repeated };
    const raw = got.raw;
    const p = await openFeed(raw, after);
    if (p.items.length === 0 && p.next === after) return { applied: 0, more: false };
    const at = clock().toISOString();
    const applied = await db.transaction(async (trx) => {
      const events: AuditEvent[] = [];
      for (const it of p.items) {
        if (!applier || it.from === identity.nodeId) continue;
        const e = await applier(trx, it.from, it.notice);
        if (e) events.push(e);
      }
      await outboxStore.setState(trx, NOTICES_CURSOR_KEY, String(p.next), at);
      await marks.keep(trx, p.next, markOf(p, after), at);
      for (const e of events) await audit.recordIn(trx, e);
      return events.length;
    });
    log.info({ envelope: p.envelopeId, items: p.items.length, applied, cursor: p.next }, 'hub exchange: notices applied');
    return { applied, more: p.more };
  }

  return {
    /** The objections service's notice handler (set once the services exist). */
    setApplier(fn: NoticeApplier) {
      applier = fn;
    },
    setWake(fn: () => void) {
      wake = fn;
    },
    wake: () => wake(),
    send,
    pull,
    /** One round: send, then pull. A hub that predates notices (protocol 1.0: HTTP 404) is asked again only every 10 polls, without an error. */
    async step(signal?: AbortSignal): Promise<number> {
      try {
        await send(signal);
        const r = await pull(signal);
        return r.more ? 0 : deps.pollIntervalMs;
      } catch (e) {
        if (e instanceof HubError && e.status === 404) return deps.pollIntervalMs * 10;
        throw e;
      }
    },
  };
}

export type Notices = ReturnType<typeof createNotices>;
