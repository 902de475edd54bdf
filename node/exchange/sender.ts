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
 * Pipelined: while one batch is in flight, the next is cut (when due), read and sealed, so the
 * node's share of the work overlaps the hub's. It is still POSTed only after the batch before it
 * has its receipt stored — one batch in flight, in seq order, exactly as without the overlap. A
 * prepared envelope that has waited too long is sealed again (fresh ts), and one whose batch
 * could not go (the batch before it failed) is dropped: the next round starts from the database.
 */
import type { Knex } from 'knex';
import { uuidv7 } from '../../protocol/crypto.js';
import type { Envelope } from '../../protocol/envelope.js';
import type { ReceiptPayload } from '../../protocol/exchange.js';
import { canonicalize } from '../../protocol/canonical-json.js';
import type { HubConfig } from '../config.js';
import { nodeError } from '../errors.js';
import type { AuditWriter } from '../records-service.js';
import { HubError, type HubClient } from './hub-client.js';
import { openFromHub, sealToHub } from './hub-envelopes.js';
import type { ExchangeIdentity } from './identity.js';
import type { Log } from './loop.js';
import { outboxStore, type BatchRow } from './outbox-store.js';

export interface SenderDeps {
  db: Knex;
  audit: AuditWriter;
  identity: ExchangeIdentity;
  client: () => HubClient;
  clock: () => Date;
  log: Log;
  hub: Pick<HubConfig, 'batchMaxRecords' | 'batchMaxAgeMs'>;
  /** After a round that stored at least one receipt (the witness loop hooks in here). */
  onReceipts?: () => void;
  /** The hub's certificate may have changed (it could not decrypt): fetch it again. */
  refreshHubCert?: () => Promise<void>;
}

export type SendOutcome = { batch: BatchRow; status: 'accepted' | 'refused'; accepted: number; rejected: number; via: 'answer' | 'replay' | 'refusal' };

/** When nothing is due, check again after this long at most (records written in-process wake the loop sooner). */
const IDLE_MS = 5000;
/** A prepared envelope older than this is sealed again before it goes (its ts must be inside the hub's window). */
const RESEAL_AFTER_MS = 10_000;

/** What the hub answered a batch with (a receipt, or a refusal without one). */
type Answer = { status: 'accepted' | 'refused'; receipt: unknown; payload?: ReceiptPayload; code?: string; via: SendOutcome['via'] };

/** A batch read from the outbox and sealed, ready to POST. */
interface Prepared {
  batch: BatchRow;
  records: number;
  withdrawals: number;
  envelope: Envelope;
  sealedAt: number;
}

function isReceiptPayload(p: unknown): p is ReceiptPayload {
  const r = p as ReceiptPayload;
  return typeof r === 'object' && r !== null && typeof r.batchId === 'string' && typeof r.seq === 'number' && (r.outcome === 'accepted' || r.outcome === 'refused') &&
    Array.isArray(r.accepted) && Array.isArray(r.rejected) && Array.isArray(r.withdrawn);
}

export function createSender(deps: SenderDeps) {
  const { db, audit, identity, clock, log } = deps;
  const nodeId = identity.nodeId;
  const actor = `node:${nodeId}`;

  /** Cuts one batch when due (full, or the oldest row older than batchMaxAgeMs, or `force`); else how long until one is due. */
  async function cutIfDue(force = false): Promise<BatchRow | { waitMs: number }> {
    const { batchMaxRecords: max, batchMaxAgeMs: maxAge } = deps.hub;
    const p = await outboxStore.pending(db, max);
    if (!p) return { waitMs: IDLE_MS };
    const age = clock().getTime() - Date.parse(p.oldestAt);
    if (!force && !p.full && age < maxAge) return { waitMs: Math.max(10, maxAge - age) };
    const at = clock().toISOString();
    const batch = await db.transaction((trx) => outboxStore.cut(trx, { id: uuidv7(clock()), max, at }));
    if (!batch) return { waitMs: IDLE_MS };
    log.debug({ batch: batch.id, seq: batch.seq, records: batch.records, withdrawals: batch.withdrawals }, 'hub exchange: batch cut');
    return batch;
  }

  /**
   * Stores a batch's receipt (audit 'batch.receipt') and, in the same transaction, marks the
   * attempt of the batch that goes next (`then`), so the next POST waits for one commit, not two.
   */
  async function storeOutcome(b: BatchRow, o: Answer, then: Prepared | null = null): Promise<SendOutcome> {
    const accepted = o.payload ? o.payload.accepted.length + o.payload.withdrawn.length : 0;
    const rejected = o.payload ? o.payload.rejected.length : 0;
    const at = clock().toISOString();
    const code = o.code ?? o.payload?.code;
    await db.transaction(async (trx) => {
      const stored = await outboxStore.storeReceipt(trx, b.id, { status: o.status, receipt: o.receipt === undefined ? null : canonicalize(o.receipt), accepted, rejected, at, ...(code ? { error: code } : {}) });
      if (stored) {
        await audit.recordIn(trx, {
          actor, actorNode: nodeId, action: 'batch.receipt', object: b.id, outcome: o.status === 'accepted' ? 'success' : 'failure',
          reason: `seq=${b.seq} outcome=${o.status}${code ? ` code=${code}` : ''} accepted=${accepted} rejected=${rejected}`,
        });
      }
      if (then) await markSent(trx, then, at);
    });
    const codes = [...new Set(o.payload?.rejected.map((r) => r.code) ?? [])];
    const fields = { batch: b.id, seq: b.seq, accepted, rejected, ...(codes.length ? { rejectedCodes: codes } : {}), ...(code ? { code } : {}) };
    if (o.status === 'refused') log.error(fields, 'hub exchange: batch refused by the hub');
    else if (rejected > 0) log.warn(fields, 'hub exchange: batch accepted with rejected records');
    else log.info(fields, 'hub exchange: batch accepted');
    return { batch: b, status: o.status, accepted, rejected, via: o.via };
  }

  /** One more attempt at `p`'s batch; the first moves it from open to sent, audited as 'batch.send'. */
  async function markSent(dbOrTrx: Knex | Knex.Transaction, p: Prepared, at: string): Promise<void> {
    const b = p.batch;
    if (b.status !== 'open') return outboxStore.markAttempt(dbOrTrx, b.id, at);
    const mark = async (trx: Knex.Transaction) => {
      await outboxStore.markAttempt(trx, b.id, at);
      await audit.recordIn(trx, { actor, actorNode: nodeId, action: 'batch.send', object: b.id, outcome: 'success', reason: `seq=${b.seq} records=${p.records} withdrawals=${p.withdrawals}` });
    };
    if ('commit' in dbOrTrx) await mark(dbOrTrx as Knex.Transaction);
    else await (dbOrTrx as Knex).transaction(mark);
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

  /** Reads the batch's content from the outbox and seals it (ts = now; same id and seq every time). */
  async function prepare(b: BatchRow): Promise<Prepared> {
    const payload = await outboxStore.items(db, b.id);
    const at = clock();
    const envelope = await sealToHub(identity, { type: 'batch', seq: b.seq, id: b.id, ts: at, payload });
    return { batch: b, records: payload.records.length, withdrawals: payload.withdrawals.length, envelope, sealedAt: at.getTime() };
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

  /** `ready` when it was sealed recently enough, else `b` read and sealed now. */
  async function fresh(b: BatchRow, ready: Prepared | null): Promise<Prepared> {
    return ready !== null && clock().getTime() - ready.sealedAt <= RESEAL_AFTER_MS ? ready : prepareNoted(b);
  }

  /** One attempt at one batch; throws (after noting the error) when it has to be retried. */
  async function send(b: BatchRow, signal?: AbortSignal): Promise<SendOutcome> {
    const p = await prepareNoted(b);
    await markSent(db, p, clock().toISOString());
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
      return { status: receipt.outcome === 'accepted' ? 'accepted' : 'refused', receipt: answer, payload: receipt, via };
    } catch (e) {
      await noteError(b, e);
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

  /**
   * One round: send every batch still without a receipt, in seq order, then cut and send new ones
   * until nothing is due. Returns the wait before the next round. Throws when a send must be retried.
   * While a batch is in flight the next one is cut and sealed; it goes once the receipt is stored
   * (the same transaction marks its attempt).
   */
  async function step(signal?: AbortSignal): Promise<number> {
    let receipts = 0;
    let next: Promise<Prepared | { waitMs: number } | null> | null = null;
    try {
      const first = await nextBatch(null);
      if ('waitMs' in first) return first.waitMs;
      let p = await prepareNoted(first);
      await markSent(db, p, clock().toISOString());
      for (;;) {
        if (signal?.aborted) return 0;
        const b = p.batch;
        // the next batch is read and sealed while this one is in flight (a failure there is met again below)
        next = nextBatch(b).then((n): Prepared | { waitMs: number } | Promise<Prepared> => ('waitMs' in n ? n : prepare(n))).catch(() => null);
        const answer = await post(p, signal);
        const n = await next;
        next = null;
        // resealed when it waited too long; when that fails the batch is met again below (error noted)
        const then = n === null || 'waitMs' in n ? null : await fresh(n.batch, n).catch(() => null);
        await storeOutcome(b, answer, then);
        receipts++;
        if (then) {
          p = then;
          continue;
        }
        // nothing was ready while the batch was in flight: maybe something is due now
        const again = await nextBatch(b);
        if ('waitMs' in again) return again.waitMs;
        p = await prepareNoted(again);
        await markSent(db, p, clock().toISOString());
      }
    } finally {
      if (next) await next;
      if (receipts > 0) deps.onReceipts?.();
    }
  }

  return { step, send, cutIfDue, openReceipt };
}

export type Sender = ReturnType<typeof createSender>;
