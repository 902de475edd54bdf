/**
 * The hub's half of the signed exchange log: the evidence of every envelope it accepts from a
 * node (batch, query, checkpoint) and sends to one (receipt, query-answer, a distribution with
 * items), and of a batch attempt it refuses for its seq with its signed `seq-refusal`
 * (hub/seq-refusal.ts), kept in hub_exchange_evidence inside the transaction that also writes the audit entry
 * (before it: the audit lock is taken last). Generic over envelope types (audit/evidence-record.ts).
 */
import type { Db } from '../audit/knex-connect.js';
import { evidenceFrom, evidenceOf } from '../audit/evidence-record.js';
import { evidenceStore } from '../audit/evidence-store.js';
import type { Envelope, EnvelopeHeader } from '../protocol/envelope.js';

export const HUB_EVIDENCE_TABLE = 'hub_exchange_evidence' as const;

/** Keeps an envelope a node sent, as opened (header, digest, JWS). */
export async function keepReceived(db: Db, inc: { header: EnvelopeHeader; digest: string; sig: Envelope['sig'] }, at: string): Promise<void> {
  await evidenceStore.insert(db, HUB_EVIDENCE_TABLE, evidenceFrom(inc.header, inc.digest, inc.sig, 'received', at));
}

/** Keeps an envelope the hub sealed for a node. */
export async function keepSent(db: Db, env: Envelope, at: string): Promise<void> {
  await evidenceStore.insert(db, HUB_EVIDENCE_TABLE, evidenceOf(env, 'sent', at));
}
