/**
 * The hub's signed refusal of a batch for its seq (protocol 1.2, envelope type `seq-refusal`,
 * protocol/exchange.ts SeqRefusalPayload). ERR_SEQUENCE_GAP (with `details.expected`) and
 * ERR_OUT_OF_ORDER (with `details.lastSeq`) make a node resynchronise its batch stream — send
 * receipted batches again, or renumber the ones without a receipt (node/exchange/resync.ts) — so
 * the hub signs what it said: sealed to the node like a receipt, naming the refused attempt (`re`,
 * `reDigest` in the signed header; `batchId`, `digest` in the payload), and carried in the error
 * answer's `details.refusal`. In one transaction the hub keeps the refused attempt (received) and
 * the refusal (sent) in its exchange log and audits 'batch.seq-refusal' naming both, so it cannot
 * drop either unseen (docs/exchange-log.md).
 * Not signed (the answer goes without `details.refusal`, and a node of 1.2 does not act on it): an
 * ERR_OUT_OF_ORDER without the hub's last seq (the seq was just taken by a concurrent request), an
 * attempt whose `ts` is outside the hub's window (the node's attempts are sealed fresh), and beyond
 * SIGNED_PER_HOUR refusals per node and process in an hour — each costs a signature, an encryption,
 * two evidence rows and an audit entry, and a node could post out of order at its rate limit.
 * When the hub cannot sign or keep it (its store is down, say), or a limit applies,
 * `details.refusalUnavailable` gives the code, so the node can say why, and the hub's metric
 * credit_hub_seq_refusals_total{signed} counts it (signed="yes" for the signed ones).
 */
import { answerFields } from '../audit/evidence-record.js';
import { HUB_NODE_ID } from '../certs/issue.js';
import { CreditError, isCreditError } from '../protocol/errors.js';
import { envelopeDigest } from '../protocol/envelope.js';
import type { BatchPayload, SeqRefusalPayload } from '../protocol/exchange.js';
import { checkTimestamp } from '../protocol/freshness.js';
import { seal } from '../protocol/seal.js';
import { answerKeys } from './answer-keys.js';
import type { Peer } from './client-check.js';
import type { HubDeps } from './context.js';
import type { Incoming } from './envelope-in.js';
import { keepReceived, keepSent } from './evidence-log.js';

/** Signed refusals per node, per hub process and hour; beyond, refusals go unsigned until the hour is over. */
export const SIGNED_PER_HOUR = 120;

/** The hub's last seq that a seq refusal states, or null when `e` is not one the node acts on. */
function hubLastSeqOf(e: CreditError): { code: SeqRefusalPayload['code']; hubLastSeq: number } | null {
  const d = e.details as { expected?: unknown; lastSeq?: unknown } | undefined;
  if (e.code === 'ERR_SEQUENCE_GAP' && typeof d?.expected === 'number') return { code: e.code, hubLastSeq: d.expected - 1 };
  if (e.code === 'ERR_OUT_OF_ORDER' && typeof d?.lastSeq === 'number') return { code: e.code, hubLastSeq: d.lastSeq };
  return null;
}

export function seqRefusals(deps: HubDeps) {
  /** Per node: the hour's start (ms) and how many refusals were signed in it. */
  const signed = new Map<string, { from: number; n: number }>();

  /** True when another signed refusal for `nodeId` fits this hour (and counts it). */
  function allowed(nodeId: string, now: number): boolean {
    const c = signed.get(nodeId);
    if (!c || now - c.from >= 3_600_000 || now < c.from) {
      signed.set(nodeId, { from: now, n: 1 });
      return true;
    }
    return ++c.n <= SIGNED_PER_HOUR;
  }

  /**
   * `e` with the hub's signed refusal in `details.refusal` when it is a seq refusal the node acts on
   * (the attempt, the refusal and the audit entry committed first); else `e` unchanged, or with
   * `details.refusalUnavailable` when it could not or may not be signed.
   */
  async function answer(peer: Peer, inc: Incoming<BatchPayload>, e: unknown): Promise<unknown> {
    if (!(e instanceof CreditError)) return e;
    const said = hubLastSeqOf(e);
    if (said === null) return e;
    const unsigned = (code: string) => {
      deps.metrics.seqRefusals.inc({ signed: code });
      return new CreditError(e.code, e.message, { ...(e.details as Record<string, unknown> | undefined), refusalUnavailable: code });
    };
    const { header, digest } = inc;
    const now = deps.clock();
    try {
      checkTimestamp(header.ts, { now, windowMs: deps.config.windowMs });
    } catch (stale) {
      return unsigned(isCreditError(stale) ? stale.code : 'ERR_STALE_TIMESTAMP');
    }
    if (!allowed(peer.nodeId, now.getTime())) return unsigned('ERR_RATE_LIMITED');
    const refusedAt = now.toISOString();
    const payload: SeqRefusalPayload = { batchId: header.id, digest, seq: header.seq, code: said.code, hubLastSeq: said.hubLastSeq, refusedAt };
    try {
      const refusal = await seal({ type: 'seq-refusal', from: HUB_NODE_ID, to: peer.nodeId, seq: header.seq, payload, ...answerKeys(deps, peer, header), suites: deps.config.suites, extra: answerFields(header.id, digest) });
      await deps.db.transaction(async (trx) => {
        await keepReceived(trx, inc, refusedAt);
        await keepSent(trx, refusal, refusedAt);
        await deps.audit.recordIn(trx, {
          action: 'batch.seq-refusal', actor: `node:${peer.nodeId}`, actorNode: peer.nodeId, object: header.id, outcome: 'failure',
          reason: `${said.code} seq=${header.seq} hubLastSeq=${said.hubLastSeq} digest=${digest} refusal=${refusal.id} refusalDigest=${envelopeDigest(refusal)}`,
        });
      });
      deps.metrics.seqRefusals.inc({ signed: 'yes' });
      return new CreditError(e.code, e.message, { ...(e.details as Record<string, unknown> | undefined), refusal });
    } catch (failed) {
      return unsigned(isCreditError(failed) ? failed.code : 'ERR_INTERNAL');
    }
  }

  return { answer };
}
