/**
 * The node's half of the signed exchange log: the evidence of every envelope it sends to the hub
 * (each attempt of a batch — a re-sent batch is a new envelope with a new ts — queries,
 * checkpoints) and accepts from it (receipts, distributions it applies, query answers), kept in
 * node_exchange_evidence, inside the transaction of the audit entry when there is one (before
 * the entry: the audit lock is taken last). Generic over envelope types (audit/evidence-record.ts).
 */
import type { Db } from '../../audit/knex-connect.js';
import { evidenceOf, type EnvelopeEvidence } from '../../audit/evidence-record.js';
import { evidenceStore } from '../../audit/evidence-store.js';
import type { Envelope } from '../../protocol/envelope.js';

export const NODE_EVIDENCE_TABLE = 'node_exchange_evidence' as const;

export async function keepEvidence(db: Db, e: EnvelopeEvidence): Promise<void> {
  await evidenceStore.insert(db, NODE_EVIDENCE_TABLE, e);
}

/** An envelope as the hub client hands it back (parsed JSON, or its text). */
export function envelopeValue(raw: unknown): Envelope {
  return (typeof raw === 'string' ? JSON.parse(raw) : raw) as Envelope;
}

export async function keepEnvelope(db: Db, raw: unknown, direction: EnvelopeEvidence['direction'], at: string): Promise<EnvelopeEvidence> {
  const e = evidenceOf(envelopeValue(raw), direction, at);
  await keepEvidence(db, e);
  return e;
}
