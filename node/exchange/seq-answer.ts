/**
 * What the node acts on when the hub refuses a batch for its seq. ERR_SEQUENCE_GAP (the hub lacks
 * seqs before it: the hub's store went back in time) makes the node send receipted batches again
 * (resync.ts reopenFrom); ERR_OUT_OF_ORDER with the hub's last seq (the node's store went back in
 * time) makes it renumber its batches without a receipt (resync.ts renumberAfter). Both change what
 * the node sends for good, so since protocol 1.2 the hub signs them: `details.refusal` is a
 * `seq-refusal` envelope (protocol/exchange.ts SeqRefusalPayload, hub/seq-refusal.ts) sealed to
 * this node. The node acts on it only when it opens (the hub's signature, this node as recipient)
 * and names exactly the attempt refused — its batch id, seq and digest (each attempt is signed anew,
 * so a refusal recorded earlier names another digest) — with the code of the answer; it keeps it in
 * its exchange log beside the attempt, and the resync's audit entry names it. Anything else is
 * ERR_HUB_ANSWER_INVALID: nothing is resynchronised and the batch is sent again after the loop's
 * backoff, so whatever sits between node and hub (a TLS-terminating proxy) cannot make the node
 * re-send or renumber its stream, and the hub cannot deny having asked.
 * A hub before 1.2 does not sign them: the node acts on an unsigned one only when its operator
 * says the hub is still on 1.1 (`hub.unsignedSeqRefusals`, default off); the resync's audit entry
 * then says `unsigned`. The version is not inferred from what the hub sent before: a node with no
 * receipt yet, or restored from a backup taken before the hub's upgrade, would otherwise take an
 * unsigned answer from whoever sits in between (a made-up last seq can push its stream out of the
 * hub's reach for good).
 */
import type { Db } from '../../audit/knex-connect.js';
import { envelopeDigest, type Envelope } from '../../protocol/envelope.js';
import { isSeqRefusalPayload, type SeqRefusalPayload } from '../../protocol/exchange.js';
import { nodeError } from '../errors.js';
import { keepEnvelope } from './evidence-log.js';
import { openFromHub } from './hub-envelopes.js';
import type { ExchangeIdentity } from './identity.js';
import { hubExpected, hubLastSeq } from './resync.js';

export interface SeqAnswer {
  code: SeqRefusalPayload['code'];
  /** The last seq of this node the hub had accepted. */
  hubLastSeq: number;
  /** The hub's signed refusal (its envelope as received, kept by the resync that acts on it: actingOn); null for an unsigned one. */
  refusal: { id: string; digest: string; raw: unknown } | null;
}

export interface SeqAnswerContext {
  identity: ExchangeIdentity;
  clock: () => Date;
  /** hub.unsignedSeqRefusals: act on unsigned ones (a hub of protocol 1.1). */
  unsigned: boolean;
}

/**
 * The seq refusal `e` answered to the attempt `sent` (batch `batch`), checked as above; null when
 * `e` is not one the node acts on (another code, or no usable seq in an unsigned one). Throws
 * ERR_HUB_ANSWER_INVALID (or the code open() gives a signed refusal that does not open) otherwise.
 */
export async function readSeqAnswer(e: unknown, batch: { id: string; seq: number }, sent: Envelope, ctx: SeqAnswerContext): Promise<SeqAnswer | null> {
  const x = e as { code?: unknown; details?: { refusal?: unknown; refusalUnavailable?: unknown } } | undefined;
  if (x?.code !== 'ERR_SEQUENCE_GAP' && x?.code !== 'ERR_OUT_OF_ORDER') return null;
  const code = x.code;
  const raw = x.details?.refusal;
  if (raw === undefined) {
    const expected = hubExpected(e, batch.seq);
    const last = code === 'ERR_SEQUENCE_GAP' ? (expected === null ? null : expected - 1) : hubLastSeq(e);
    if (last === null) return null;
    if (!ctx.unsigned) {
      const why = x.details?.refusalUnavailable;
      const hubSays = typeof why === 'string' && /^ERR_[A-Z0-9_]{1,60}$/.test(why) ? ` (the hub says it could not sign it: ${why})` : '';
      throw nodeError('ERR_HUB_ANSWER_INVALID', `the hub answered batch seq ${batch.seq} with ${code} without its signed refusal (details.refusal)${hubSays}: not acted on; the batch is sent again later (a hub still on protocol 1.1: set hub.unsignedSeqRefusals until it is upgraded; else something between node and hub alters answers: tell the hub operator)`, { batch: batch.id, seq: batch.seq, code, ...(hubSays ? { refusalUnavailable: why } : {}) });
    }
    return { code, hubLastSeq: last, refusal: null };
  }
  const opened = await openFromHub<unknown>(raw, 'seq-refusal', ctx.identity, { now: ctx.clock(), fresh: false });
  const p = opened.payload;
  const h = opened.header as { re?: unknown; reDigest?: unknown; seq: number };
  const digest = envelopeDigest(sent);
  const misfit = (why: string) => nodeError('ERR_HUB_ANSWER_INVALID', `the hub's signed seq refusal does not fit the batch it answers: ${why}; not acted on, the batch is sent again later`, { batch: batch.id, seq: batch.seq, code });
  if (!isSeqRefusalPayload(p)) throw misfit('its payload does not have the seq-refusal shape');
  if (p.batchId !== batch.id || p.seq !== batch.seq || h.seq !== batch.seq || h.re !== batch.id) throw misfit(`it refuses batch ${String(p.batchId).slice(0, 40)} seq ${p.seq}, not ${batch.id} seq ${batch.seq}`);
  if (p.digest !== digest || h.reDigest !== digest) throw misfit('it names another attempt of the batch (digest)');
  if (p.code !== code) throw misfit(`it says ${p.code}, the answer ${code}`);
  return { code, hubLastSeq: p.hubLastSeq, refusal: { id: opened.header.id, digest: opened.digest, raw } };
}

/** What a resync acting on `a` adds to its transaction: the refusal kept (at `at`), and the audit reason's note naming it. */
export function actingOn(a: SeqAnswer, at: string): ActingOn {
  const r = a.refusal;
  return r ? { note: ` refusal=${r.id} refusalDigest=${r.digest}`, keep: (db) => keepEnvelope(db, r.raw, 'received', at) } : { note: ' unsigned (hub.unsignedSeqRefusals: a hub before protocol 1.2)' };
}

/** A resync's evidence of the hub's word: a note for its audit reason, and the refusal to keep in its transaction. */
export interface ActingOn {
  note: string;
  keep?: (db: Db) => Promise<unknown>;
}
