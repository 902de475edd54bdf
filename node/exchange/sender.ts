/**
 * The outbox sender: cuts batches (id = UUIDv7 and the next seq, fixed in one transaction) when
 * enough rows wait or the oldest has waited long enough, and sends them in seq order. A batch is
 * re-sent — same id and seq, fresh ts — until a receipt is stored; it is never re-cut, so each
 * outbox row reaches the hub exactly once. Answers:
 *   200                               → the receipt envelope
 *   409 ERR_REPLAY + details.receipt  → the receipt the hub stored (the first answer was lost)
 *   403 ERR_CLASSIFICATION_DENIED     → refused by policy (seq consumed at the hub); receipt if given
 *   anything else                     → kept, retried with backoff (the loop's)
 * Receipts are opened and checked (signed by the hub under the provincial CA, addressed to this
 * node, for this batch id and seq) before they are stored, with audit 'batch.send'/'batch.receipt'.
 *
 * Pipelined: two batches are in flight at once (seq n and n + 1, POSTed in that order), so the
 * node seals n + 1 and the hub opens and checks it while n is in the hub's transaction. The hub
 * starts n + 1's transaction only after n's (hub/intake-service.ts); receipts are stored in seq
 * order. If n + 1 overtakes n on the way and is answered ERR_SEQUENCE_GAP, it is sent once more
 * at once. When n fails, whatever is behind it is dropped and the next round starts again from
 * the lowest batch without a receipt (a batch the hub did take answers with its stored receipt).
 * The first batch of a round answered ERR_SEQUENCE_GAP while the node holds receipts for seqs from
 * the hub's `expected` up means the hub's store went back in time: those batches are sent again
 * (resync.ts reopenFrom); ERR_OUT_OF_ORDER with `lastSeq` means this store did (renumberAfter).
 * Either is acted on only with the hub's signed refusal of that very attempt (protocol 1.2,
 * seq-answer.ts; an unsigned one only with hub.unsignedSeqRefusals, for a hub still on 1.1).
 */
import type { Knex } from 'knex';
import { uuidv7 } from '../../protocol/crypto.js';
import type { Envelope } from '../../protocol/envelope.js';
import type { BatchPayload, ReceiptPayload } from '../../protocol/exchange.js';
import { canonicalize } from '../../protocol/canonical-json.js';
import type { HubConfig } from '../config.js';
import { nodeError } from '../errors.js';
import type { AuditWriter } from '../records-service.js';
import { HoldOff } from './loop.js';
import { HubError, type HubClient } from './hub-client.js';
import { openFromHub, sealToHub } from './hub-envelopes.js';
import type { ExchangeIdentity } from './identity.js';
import type { Log } from './loop.js';
import { sendableClasses } from './outbox-hooks.js';
import { isCreditError } from '../../protocol/errors.js';
import { UNREADABLE_RECEIPT, outboxStore, type BatchRow } from './outbox-store.js';
import { evidenceOf } from '../../audit/evidence-record.js';
import { keepEnvelope, keepEvidence } from './evidence-log.js';
import { renumberAfter, reopenFrom, type ReceiptItems } from './resync.js';
import { actingOn, readSeqAnswer, type SeqAnswer } from './seq-answer.js';

export interface SenderDeps {
  db: Knex;
  audit: AuditWriter;
  identity: ExchangeIdentity;
  client: () => HubClient;
  clock: () => Date;
  log: Log;
  hub: Pick<HubConfig, 'batchMaxRecords' | 'batchMaxAgeMs'> & Partial<Pick<HubConfig, 'batchMaxBytes' | 'unsignedSeqRefusals'>>;
  /** After a round that stored at least one receipt (the witness loop hooks in here). */
  onReceipts?: () => void;
  /** The hub's certificate may have changed (it could not decrypt): fetch it again. */
  refreshHubCert?: () => Promise<void>;
}

export type SendOutcome = { batch: BatchRow; status: 'accepted' | 'refused'; accepted: number; rejected: number; via: 'answer' | 'replay' | 'refusal' };

/** When nothing is due, check again after this long at most (records written in-process wake the loop sooner). */
const IDLE_MS = 5000;
/** Batches POSTed before the one ahead of them has its receipt (the hub keeps them in seq order). */
const IN_FLIGHT = 2;
/** A batch sealed ahead (step) and not sent within this long is sealed again: its ts must stay well inside the hub's window. */
const AHEAD_MAX_AGE_MS = 60_000;

/** What the hub answered a batch with (a receipt, or a refusal without one). */
type Answer = { status: 'accepted' | 'refused'; receipt: unknown; payload?: ReceiptPayload; code?: string; via: SendOutcome['via'] };

/** A batch read from the outbox and sealed, ready to POST. */
interface Prepared {
  batch: BatchRow;
  records: number;
  withdrawals: number;
  envelope: Envelope;
}

function isReceiptPayload(p: unknown): p is ReceiptPayload {
  const r = p as ReceiptPayload;
  return typeof r === 'object' && r !== null && typeof r.batchId === 'string' && typeof r.seq === 'number' && (r.outcome === 'accepted' || r.outcome === 'refused') &&
    Array.isArray(r.accepted) && Array.isArray(r.rejected) && Array.isArray(r.withdrawn);
}

/** How long to wait after ERR_HUB_BUSY: the hub's Retry-After (1 s if absent), plus up to half of it again at random. */
export function busyWait(e: { retryAfterMs?: number }, random: () => number = Math.random): number {
  const base = e.retryAfterMs !== undefined && Number.isFinite(e.retryAfterMs) && e.retryAfterMs > 0 ? Math.min(e.retryAfterMs, 60_000) : 1000;
  return Math.round(base * (1 + 0.5 * random()));
}

export function createSender(deps: SenderDeps) {
  const { db, audit, identity, clock, log } = deps;
  const nodeId = identity.nodeId;
  const actor = `node:${nodeId}`;
  /** Since when the hub has answered this node's batches ERR_HUB_BUSY (null: it takes them). */
  let busySince: Date | null = null;

  /** Cuts one batch when due (full by count or by bytes, or the oldest row older than batchMaxAgeMs, or `force`); else how long until one is due. */
  async function cutIfDue(force = false): Promise<BatchRow | { waitMs: number }> {
    const { batchMaxRecords: max, batchMaxAgeMs: maxAge } = deps.hub;
    const maxBytes = deps.hub.batchMaxBytes ?? Infinity;
    const p = await outboxStore.pending(db, max, maxBytes);
    if (!p) return { waitMs: IDLE_MS };
    const age = clock().getTime() - Date.parse(p.oldestAt);
    if (!force && !p.full && age < maxAge) return { waitMs: Math.max(10, maxAge - age) };
    const at = clock().toISOString();
    const batch = await db.transaction((trx) => outboxStore.cut(trx, { id: uuidv7(clock()), max, maxBytes, at }));
    if (!batch) return { waitMs: IDLE_MS };
    log.debug({ batch: batch.id, seq: batch.seq, records: batch.records, withdrawals: batch.withdrawals }, 'hub exchange: batch cut');
    return batch;
  }

  /** Stores a batch's receipt, audited as 'batch.receipt'. */
  async function storeOutcome(b: BatchRow, o: Answer): Promise<SendOutcome> {
    const accepted = o.payload ? o.payload.accepted.length + o.payload.withdrawn.length : 0;
    const rejected = o.payload ? o.payload.rejected.length : 0;
    const at = clock().toISOString();
    const code = o.code ?? o.payload?.code;
    await db.transaction(async (trx) => {
      const items = o.payload ? await outboxStore.ownReceiptIds(trx, b.id, { accepted: o.payload.accepted, versioned: Array.isArray(o.payload.versioned) ? o.payload.versioned : [], withdrawn: o.payload.withdrawn }) : null;
      const stored = await outboxStore.storeReceipt(trx, b.id, { status: o.status, receipt: o.receipt === undefined ? null : canonicalize(o.receipt), items, accepted, rejected, at, ...(code ? { error: code } : {}) });
      if (stored) {
        const ev = o.receipt === undefined ? null : await keepEnvelope(trx, o.receipt, 'received', at);
        const evidence = ev ? ` receipt=${ev.header.id} digest=${ev.digest} batchDigest=${o.payload?.digest ?? '-'}` : '';
        await audit.recordIn(trx, {
          actor, actorNode: nodeId, action: 'batch.receipt', object: b.id, outcome: o.status === 'accepted' ? 'success' : 'failure',
          reason: `seq=${b.seq} outcome=${o.status}${code ? ` code=${code}` : ''} accepted=${accepted} rejected=${rejected}${evidence}`,
        });
      }
    });
    const codes = [...new Set(o.payload?.rejected.map((r) => r.code) ?? [])];
    const fields = { batch: b.id, seq: b.seq, accepted, rejected, ...(codes.length ? { rejectedCodes: codes } : {}), ...(code ? { code } : {}) };
    if (o.status === 'refused') log.error(fields, 'hub exchange: batch refused by the hub');
    else if (rejected > 0) log.warn(fields, 'hub exchange: batch accepted with rejected records');
    else log.info(fields, 'hub exchange: batch accepted');
    return { batch: b, status: o.status, accepted, rejected, via: o.via };
  }

  /**
   * One more attempt at `p`'s batch, its envelope kept as evidence (each attempt is signed anew);
   * the first moves it from open to sent, audited as 'batch.send' with the envelope's digest.
   */
  async function markSent(p: Prepared, at: string): Promise<void> {
    const b = p.batch;
    const ev = evidenceOf(p.envelope, 'sent', at);
    await db.transaction(async (trx) => {
      await outboxStore.markAttempt(trx, b.id, at);
      await keepEvidence(trx, ev);
      if (b.status === 'open') {
        await audit.recordIn(trx, { actor, actorNode: nodeId, action: 'batch.send', object: b.id, outcome: 'success', reason: `seq=${b.seq} records=${p.records} withdrawals=${p.withdrawals} digest=${ev.digest}` });
      }
    });
  }

  async function openReceipt(b: BatchRow, raw: unknown): Promise<ReceiptPayload> {
    const opened = await openFromHub<unknown>(raw, 'receipt', identity, { now: clock(), fresh: false, atEnvelopeTime: true });
    const p = opened.payload;
    if (!isReceiptPayload(p)) throw nodeError('ERR_HUB_ANSWER_INVALID', 'the receipt payload does not have the receipt shape', { batch: b.id });
    if (p.batchId !== b.id || p.seq !== b.seq) {
      throw nodeError('ERR_HUB_ANSWER_INVALID', `the receipt is for batch ${p.batchId} seq ${p.seq}, not ${b.id} seq ${b.seq}`, { batch: b.id, seq: b.seq, receiptBatch: p.batchId, receiptSeq: p.seq });
    }
    return p;
  }

  /**
   * What a receipted batch's stored receipt says the hub took (its outbox rows again, after they
   * were pruned), for a batch whose receipt_items were never noted: opened with the node's current
   * or previous key.
   */
  const receiptItems: ReceiptItems = async (batchId, seq, receipt) => {
    const b = { id: batchId, seq } as BatchRow;
    const p = await openReceipt(b, JSON.parse(receipt) as unknown);
    return { accepted: p.accepted, versioned: p.versioned ?? [], withdrawn: p.withdrawn };
  };

  /**
   * Notes receipt_items for every stored receipt that lacks them (a store from before the column),
   * while the keys that open them are still held: renewal calls it before it replaces the key, as
   * a receipt sealed to the key before the previous one no longer opens. Paged; one that no key
   * held decrypts (ERR_DECRYPT_FAILED) is marked UNREADABLE_RECEIPT (not tried again; counted in one
   * log line); one that fails otherwise is left for the next renewal. The receipt's lists are kept
   * as it gives them (verified; the batch's outbox rows may be partly pruned). Returns how many
   * were noted.
   */
  async function noteReceiptItems(): Promise<number> {
    let noted = 0;
    let unreadable = 0;
    let failed = 0;
    let after = 0;
    for (;;) {
      const page = await outboxStore.receiptsWithoutItems(db, after, 100); // paged: receipts are ≈ 50 KB each
      if (page.length === 0) break;
      for (const r of page) {
        after = r.seq;
        try {
          // the verified receipt's lists as they are: the batch's outbox rows may be (partly) pruned by now
          await outboxStore.noteReceiptItems(db, r.id, await receiptItems(r.id, r.seq, r.receipt));
          noted++;
        } catch (e) {
          // only a receipt no key held opens is marked for good; anything else (a suite policy, a
          // revoked or unreadable certificate, the store) is tried again at the next renewal
          if (!(isCreditError(e) && e.code === 'ERR_DECRYPT_FAILED')) {
            failed++;
            continue;
          }
          unreadable++;
          await outboxStore.noteReceiptItems(db, r.id, UNREADABLE_RECEIPT);
        }
      }
    }
    if (failed > 0) log.warn({ failed }, 'hub exchange: stored receipts that could not be opened now (not a key problem); tried again at the next renewal');
    if (unreadable > 0) log.warn({ unreadable }, 'hub exchange: stored receipts that no longer open (sealed to a key this node no longer holds): those batches cannot be rebuilt if the hub loses them');
    return noted;
  }

  /** Reads the batch's content from the outbox and seals it (ts = now; same id and seq every time). */
  async function prepare(b: BatchRow): Promise<Prepared> {
    const { versions, ...items } = await outboxStore.items(db, b.id, { nodeId, classes: sendableClasses(identity.current().enrolment.grade) });
    // `versions` (protocol 1.1) only when there are some: a 1.0 hub refuses a member it does not know
    const payload: BatchPayload = versions.length > 0 ? { ...items, versions } : items;
    const at = clock();
    const envelope = await sealToHub(identity, { type: 'batch', seq: b.seq, id: b.id, ts: at, payload });
    return { batch: b, records: payload.records.length + versions.length, withdrawals: payload.withdrawals.length, envelope };
  }

  /** Reads and seals `b`, noting the error on the batch when that fails. */
  async function prepareNoted(b: BatchRow): Promise<Prepared> {
    try {
      return await prepare(b);
    } catch (e) {
      await noteError(b, e);
      throw e;
    }
  }

  /** One attempt at one batch; throws (after noting the error) when it has to be retried. */
  async function send(b: BatchRow, signal?: AbortSignal): Promise<SendOutcome> {
    const p = await prepareNoted(b);
    await markSent(p, clock().toISOString());
    return storeOutcome(b, await post(p, signal));
  }

  /** POSTs a prepared batch (its attempt already marked) and reads the hub's answer; throws (after noting the error) when it has to be retried. */
  async function post(p: Prepared, signal?: AbortSignal): Promise<Answer> {
    const b = p.batch;
    try {
      let answer: unknown;
      let via: SendOutcome['via'] = 'answer';
      try {
        answer = await deps.client().postBatch(p.envelope, signal);
      } catch (e) {
        if (!(e instanceof HubError)) throw e;
        const receipt = (e.details as { receipt?: unknown } | undefined)?.receipt;
        if (e.code === 'ERR_REPLAY' && receipt !== undefined) {
          answer = receipt;
          via = 'replay';
        } else if (e.code === 'ERR_CLASSIFICATION_DENIED' && e.status === 403) {
          if (receipt === undefined) return { status: 'refused', receipt: undefined, code: e.code, via: 'refusal' };
          answer = receipt;
          via = 'refusal';
        } else {
          if ((e.code === 'ERR_DECRYPT_FAILED' || e.code === 'ERR_WRONG_RECIPIENT') && deps.refreshHubCert) await deps.refreshHubCert().catch(() => undefined);
          throw e;
        }
      }
      const receipt = await openReceipt(b, answer);
      log.debug({ batch: b.id, seq: b.seq, via }, 'hub exchange: receipt received and opened');
      return { status: receipt.outcome === 'accepted' ? 'accepted' : 'refused', receipt: answer, payload: receipt, via };
    } catch (e) {
      await noteError(b, e);
      if (e instanceof HubError && e.code === 'ERR_BODY_TOO_LARGE') {
        // a batch cut before hub.batchMaxBytes was lowered keeps its size: only the hub's limit can let it through
        log.error({ batch: b.id, seq: b.seq, records: b.records, code: e.code }, `hub exchange: the hub refuses batch seq ${b.seq} as larger than its maxEnvelopeBytes; it is sent again until the hub takes it: raise the hub's maxEnvelopeBytes, and keep hub.batchMaxBytes at most half of it [ERR_BODY_TOO_LARGE]`);
      }
      throw e;
    }
  }

  async function noteError(b: BatchRow, e: unknown): Promise<void> {
    const code = (e as { code?: string }).code ?? 'Error';
    await outboxStore.markError(db, b.id, `${code}${e instanceof HubError && e.status ? ` (HTTP ${e.status})` : ''}`).catch(() => undefined);
  }

  /** The batch to send after `after` (seq order): one cut earlier and still without a receipt, or a new cut when due. */
  async function nextBatch(after: BatchRow | null): Promise<BatchRow | { waitMs: number }> {
    const b = await outboxStore.nextUnacknowledged(db, after?.seq);
    return b ?? cutIfDue();
  }

  /** nextBatch, read and sealed. */
  async function nextPrepared(after: BatchRow | null): Promise<Prepared | { waitMs: number }> {
    const n = await nextBatch(after);
    return 'waitMs' in n ? n : prepareNoted(n);
  }

  /** The batch after `after`, being read and sealed since `at` (ms). */
  interface Ahead {
    after: BatchRow;
    at: number;
    next: Promise<Prepared | { waitMs: number }>;
  }

  /** A POST under way; `behind` when another batch of this round was in flight as it left; `failed` once it has. */
  interface Flight {
    p: Prepared;
    answer: Promise<Answer>;
    behind: boolean;
    failed: boolean;
  }

  function launch(flights: Flight[], p: Prepared, signal?: AbortSignal): void {
    const f: Flight = { p, answer: post(p, signal), behind: flights.length > 0, failed: false };
    f.answer.catch(() => (f.failed = true)); // met when it reaches the head of the window
    flights.push(f);
  }

  /**
   * One round: send every batch still without a receipt, in seq order, then cut and send new ones
   * until nothing is due. Returns the wait before the next round. Throws when a send must be retried.
   * Up to IN_FLIGHT batches are POSTed at once, in seq order; receipts are stored in seq order.
   * When the batch at the head fails, the ones behind it are awaited and dropped (the hub cannot
   * have accepted them before it; any it did accept get their stored receipt on the next round).
   */
  async function step(signal?: AbortSignal): Promise<number> {
    let receipts = 0;
    const flights: Flight[] = [];
    const resent = new Set<string>();
    // The batch after the ones in flight, read and sealed while they are (it is not sent, nor marked
    // sent, before the head's receipt frees its place): the hub gets it as soon as it may.
    let ahead: Ahead | null = null;
    try {
      let last: BatchRow | null = null;
      let idle: number | null = null;
      for (;;) {
        if (signal?.aborted) return 0;
        // nothing more goes out behind a batch that has already failed
        while (idle === null && flights.length < IN_FLIGHT && !flights.some((f) => f.failed)) {
          // the batch prepared ahead, when it follows `last` and is fresh; else (or when it found nothing
          // due, or failed) the next one is looked up and prepared now, as before
          const a = ahead as Ahead | null; // (assigned below the loop: not narrowed to null)
          ahead = null;
          const early: Prepared | { waitMs: number } | null = a ? await a.next.catch(() => null) : null;
          const usable: Prepared | null = a && early && !('waitMs' in early) && a.after === last && clock().getTime() - a.at < AHEAD_MAX_AGE_MS ? early : null;
          const p: Prepared | { waitMs: number } = usable ?? (await nextPrepared(last));
          if ('waitMs' in p) {
            idle = p.waitMs;
            break;
          }
          await markSent(p, clock().toISOString());
          launch(flights, p, signal);
          log.debug({ batch: p.batch.id, seq: p.batch.seq, inFlight: flights.length }, 'hub exchange: batch posted');
          last = p.batch;
        }
        if (idle === null && ahead === null && last !== null && flights.length === IN_FLIGHT && !flights.some((f) => f.failed)) {
          ahead = { after: last, at: clock().getTime(), next: nextPrepared(last) };
          ahead.next.catch(() => undefined); // met when it is taken; a failure then fails the round as a prepare always did
        }
        const head = flights.shift();
        if (!head) return idle ?? IDLE_MS;
        let answer: Answer;
        try {
          answer = await head.answer;
        } catch (e) {
          await Promise.allSettled(flights.map((f) => f.answer));
          flights.length = 0;
          const dropped = ahead as Ahead | null; // it followed the batches just dropped
          ahead = null;
          await dropped?.next.catch(() => undefined);
          // it overtook the batch before it on the way to the hub: once more, now alone — sealed anew,
          // so that the hub's signed refusal of the first attempt cannot be shown again for this one
          if (head.behind && (e as { code?: string }).code === 'ERR_SEQUENCE_GAP' && !resent.has(head.p.batch.id)) {
            resent.add(head.p.batch.id);
            const again = await prepareNoted({ ...head.p.batch, status: 'sent' });
            await markSent(again, clock().toISOString());
            launch(flights, again, signal);
            last = again.batch;
            idle = null;
            continue;
          }
          // a seq refusal: acted on only when the hub signed it (or, with hub.unsignedSeqRefusals, unsigned: seq-answer.ts)
          let said: SeqAnswer | null;
          try {
            said = await readSeqAnswer(e, head.p.batch, head.p.envelope, { identity, clock, unsigned: deps.hub.unsignedSeqRefusals === true });
          } catch (bad) {
            await noteError(head.p.batch, bad);
            log.error({ batch: head.p.batch.id, seq: head.p.batch.seq, code: (bad as { code?: string }).code, answer: (e as { code?: string }).code, reason: (bad as Error).message }, "hub exchange: the hub's seq refusal was not acted on");
            throw bad;
          }
          // the hub's store went back in time (failover, restore): its seqs from `expected` on are sent again (resync.ts)
          if (said?.code === 'ERR_SEQUENCE_GAP') {
            const expected = said.hubLastSeq + 1;
            const at = clock().toISOString();
            const r = await reopenFrom(db, audit, nodeId, expected, at, receiptItems, actingOn(said, at));
            if (r) {
              const fields = { code: r.rolledBack ? 'ERR_HUB_ROLLED_BACK' : 'ERR_SEQUENCE_GAP', hubLastSeq: r.hubLastSeq, from: r.seqs[0], to: r.seqs[r.seqs.length - 1], batches: r.seqs.length, cosignedFloor: r.floor, repeated: r.repeated, signed: said.refusal !== null };
              if (r.rolledBack) log.error(fields, 'hub exchange: the hub lost batches it had attested (its store was rolled back past its cosignature of this node\'s log): sending them again; tell the hub operator');
              else log.warn(fields, `hub exchange: the hub no longer holds batches it gave receipts for (failover or restore): sending them again${said.refusal === null ? " on its UNSIGNED word (hub.unsignedSeqRefusals)" : ''}`);
              if (r.repeated) throw e; // the loop's backoff before the next round
              return 0;
            }
          }
          // the store went back in time (restored from a backup): follow the hub's last seq (resync.ts)
          if (said?.code === 'ERR_OUT_OF_ORDER') {
            const hubSeq = said.hubLastSeq;
            const moved = await renumberAfter(db, audit, nodeId, hubSeq, actingOn(said, clock().toISOString()));
            if (moved.length > 0) {
              log.warn({ hubLastSeq: hubSeq, batches: moved.length, from: moved[0]!.from, to: moved[0]!.to, signed: said.refusal !== null }, `hub exchange: batch seqs behind the hub (store restored from a backup?): renumbered to follow the hub${said.refusal === null ? " on its UNSIGNED word (hub.unsignedSeqRefusals)" : ''}`);
              return 0;
            }
          }
          // the hub takes other nodes' batches now (hub/batch-admission.ts): its Retry-After, with
          // jitter so that refused nodes do not all come back at once, and no failure counted
          if (e instanceof HubError && e.code === 'ERR_HUB_BUSY') {
            const ms = busyWait(e);
            const fields = { batch: head.p.batch.id, seq: head.p.batch.seq, reason: (e.details as { reason?: unknown } | undefined)?.reason, retryInMs: ms };
            if (busySince === null) log.info(fields, 'hub exchange: the hub is taking other nodes\' batches now; this node\'s wait their turn [ERR_HUB_BUSY]');
            else log.debug(fields, 'hub exchange: the hub is still busy [ERR_HUB_BUSY]');
            busySince ??= clock();
            throw new HoldOff(ms, e.code, e.status, e.message);
          }
          throw e;
        }
        await storeOutcome(head.p.batch, answer);
        if (busySince !== null) log.info({ waitedMs: clock().getTime() - busySince.getTime() }, 'hub exchange: the hub takes this node\'s batches again');
        busySince = null;
        receipts++;
        idle = null; // something may have come due while it was in flight
      }
    } finally {
      await Promise.allSettled(flights.map((f) => f.answer));
      await (ahead as Ahead | null)?.next.catch(() => undefined);
      if (receipts > 0) deps.onReceipts?.();
    }
  }

  return { step, send, cutIfDue, openReceipt, noteReceiptItems };
}

export type Sender = ReturnType<typeof createSender>;
