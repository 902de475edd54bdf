/**
 * Feed marks on the node (docs/protocol.md "Distribution feed marks"): the hub's mark of the last
 * row of each page this node applied, kept with that cursor (in the transaction that moves the
 * cursor) and sent back with the next pull; and the search after ERR_FEED_DIVERGED. Two feeds use
 * it: the distribution feed (node_feed_marks, puller.ts) and the notice feed (node_notice_marks,
 * objections-notices.ts).
 *
 * The search: a store that went back in time lost a suffix of its feed, so of the marks held below
 * the cursor, the ones the hub still matches are the lower ones. A binary search with probes
 * (limit 0, `mark`: the hub checks the mark and sends no items; one mark read per probe) finds the highest still held; the
 * cursor moves back there (0 when none matches), the marks above it are dropped, and the move is
 * audited (outcome failure: the hub lost feed rows it had served) and logged as an error. Items
 * received again are skipped by the appliers (idempotent). A probe that fails otherwise (network,
 * 5xx) throws and changes nothing: the next round searches again. A hub that refuses the `mark`
 * parameter (400 ERR_REQUEST_INVALID: a hub from before marks) is not asked again without it: the
 * pull fails (logged as an error, retried by the loop) until a hub that checks marks answers —
 * failing open would skip the check exactly where a restored store runs an older release.
 */
import type { Knex } from 'knex';
import type { AuditWriter } from '../records-service.js';
import { HubError } from './hub-client.js';
import type { Log } from './loop.js';
import { outboxStore } from './outbox-store.js';
import { HUB_NODE_ID } from '../../certs/issue.js';

/** A rewind within this long of the previous one is `repeated`: the puller then waits its poll interval. */
const REPEAT_MS = 3_600_000;

export const MARK = /^[0-9a-f]{16}$/;

/** True for the hub's answer that the row under the mark sent has changed. */
export function isDiverged(e: unknown): boolean {
  return e instanceof HubError && e.code === 'ERR_FEED_DIVERGED';
}

/** True for a 400 ERR_REQUEST_INVALID: a hub older than marks refuses the unknown `mark` parameter. */
export function isMarkRefused(e: unknown): boolean {
  return e instanceof HubError && e.status === 400 && e.code === 'ERR_REQUEST_INVALID';
}

/** A mark from a payload worth keeping: well formed, for a cursor past the one asked from. */
export function markOf(p: { next: number; mark?: unknown }, after: number): string | undefined {
  return typeof p.mark === 'string' && MARK.test(p.mark) && p.next > after ? p.mark : undefined;
}

export interface FeedMarksDeps {
  db: Knex;
  audit: AuditWriter;
  clock: () => Date;
  log: Log;
  /** node_feed_marks or node_notice_marks. */
  table: string;
  /** The node_exchange_state key of the feed's cursor. */
  cursorKey: string;
  /** The audit action of a rewind ('distribution.rewind', 'notice.rewind'). */
  action: string;
  /** The feed's name in messages ("distribution feed", "notice feed"). */
  feed: string;
}

export function createFeedMarks(deps: FeedMarksDeps) {
  const { db, table } = deps;

  /** The hub's mark for cursor `at`, when this node holds one. */
  async function markAt(at: number): Promise<string | undefined> {
    if (at <= 0) return undefined;
    const r = (await db(table).where({ cursor: at }).first('mark')) as { mark: string } | undefined;
    return r?.mark;
  }

  /** Keeps `mark` for `cursor`, in the transaction that moves the cursor there. */
  async function keep(trx: Knex.Transaction, cursor: number, mark: string | undefined, at: string): Promise<void> {
    if (mark !== undefined && cursor > 0) await trx(table).insert({ cursor, mark, at }).onConflict('cursor').merge(['mark', 'at']);
  }

  /** The `i`-th mark below `after`, in cursor order (the search reads one row per probe, not the whole table). */
  async function nth(after: number, i: number): Promise<{ cursor: number; mark: string } | null> {
    const r = (await db(table).where('cursor', '<', after).orderBy('cursor').offset(i).first('cursor', 'mark')) as { cursor: number | string; mark: string } | undefined;
    return r === undefined ? null : { cursor: Number(r.cursor), mark: String(r.mark) };
  }

  /**
   * After ERR_FEED_DIVERGED at `after`: the highest cursor below it whose mark `stillHeld` confirms
   * (0 when none), made the feed's cursor. `stillHeld` resolves true when the hub still holds the row
   * under that mark, false on ERR_FEED_DIVERGED, and throws otherwise. `repeated`: another rewind of
   * this feed happened within the hour before (a hub that keeps diverging): the caller waits its
   * poll interval before pulling again instead of at once.
   */
  async function rewind(after: number, stillHeld: (m: { cursor: number; mark: string }) => Promise<boolean>): Promise<{ to: number; repeated: boolean }> {
    const count = Number(((await db(table).where('cursor', '<', after).count({ n: '*' }).first()) as { n: number | string } | undefined)?.n ?? 0);
    let lo = 0;
    let hi = count - 1;
    let to = 0;
    let probes = 0;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const m = await nth(after, mid);
      if (m === null) break; // the marks changed under the search (another process of this node): search with what was found
      probes++;
      if (await stillHeld(m)) {
        to = m.cursor;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    const now = deps.clock();
    const at = now.toISOString();
    const stateKey = `${deps.cursorKey}.rewind`;
    const prevText = await outboxStore.getState(db, stateKey);
    const prevAt = prevText ? Date.parse((JSON.parse(prevText) as { at?: string }).at ?? '') : NaN;
    const repeated = Number.isFinite(prevAt) && now.getTime() - prevAt < REPEAT_MS;
    await db.transaction(async (trx) => {
      await outboxStore.setState(trx, deps.cursorKey, String(to), at);
      await outboxStore.setState(trx, stateKey, JSON.stringify({ from: after, to, at }), at);
      await trx(table).where('cursor', '>', to).del();
      await deps.audit.recordIn(trx, {
        actor: `node:${HUB_NODE_ID}`, actorNode: HUB_NODE_ID, action: deps.action, object: `cursor ${after}→${to}`, outcome: 'failure',
        reason: `ERR_FEED_DIVERGED from=${after} to=${to} probes=${probes}${repeated ? ' repeated' : ''}: the hub's ${deps.feed} no longer holds what this node applied up to cursor ${after} (its store went back in time); pulling again from ${to}`,
      });
    });
    deps.log.error({ code: 'ERR_FEED_DIVERGED', feed: deps.feed, from: after, to, probes, repeated }, `hub exchange: the hub's ${deps.feed} went back in time; pulling again from an earlier cursor`);
    return { to, repeated };
  }

  /**
   * One pull of the feed from `after`, with the mark held for it: `get(mark)` asks the hub. On
   * ERR_FEED_DIVERGED the search runs with `probe` (asks with limit 0 and the mark given, opens the
   * answer; throws ERR_FEED_DIVERGED when the hub no longer holds that row) and `rewound` says where
   * the cursor went. A refusal of the mark parameter fails closed (logged, thrown).
   */
  async function pull(after: number, get: (mark: string | undefined) => Promise<unknown>, probe: (m: { cursor: number; mark: string }) => Promise<unknown>): Promise<{ raw: unknown } | { rewound: { to: number; repeated: boolean } }> {
    const mark = await markAt(after);
    try {
      return { raw: await get(mark) };
    } catch (e) {
      if (mark === undefined) throw e;
      if (isMarkRefused(e)) {
        // fail closed: a hub that cannot check the mark (one from before marks: e.g. a standby restored
        // with an older release) is exactly where rows at reused cursors would be missed
        deps.log.error({ after, code: 'ERR_REQUEST_INVALID', feed: deps.feed }, `hub exchange: the hub refuses feed marks (a hub from before them); the ${deps.feed} waits until the hub is upgraded`);
        throw e;
      }
      if (!isDiverged(e)) throw e;
      const stillHeld = async (m: { cursor: number; mark: string }) => {
        try {
          await probe(m);
          return true;
        } catch (pe) {
          if (isDiverged(pe)) return false;
          throw pe;
        }
      };
      return { rewound: await rewind(after, stillHeld) };
    }
  }

  return { markAt, keep, rewind, pull };
}

export type FeedMarks = ReturnType<typeof createFeedMarks>;
