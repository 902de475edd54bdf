/**
 * The contract other packages use to emit audit events (`audit.record({...})`). Services never
 * write the audit table themselves. Implemented in audit/ (issue 4).
 */
import type { Classification } from '../protocol/classification.js';
export type { Classification };

export interface AuditEvent {
  /** Who: a local user id (`user:alice`) or a certificate (`cert:<sha256 fingerprint>`). */
  actor: string;
  /** Node id the actor speaks for, when known (430100). */
  actorNode?: string;
  /** What happened, dotted verb: `record.create`, `record.read`, `record.withdraw`, `batch.send`, `access.denied` … */
  action: string;
  /** What it happened to: a record id, batch id, subject code hash … Never raw personal data. */
  object?: string;
  /** Classification of the data touched, when any. */
  class?: Classification;
  outcome: 'success' | 'failure';
  /** ERR_… code (failure) or a short reason (`repair`, `expired`, the stated purpose …). */
  reason?: string;
  /**
   * Set on entries written for the command-line operator (audit/operator.ts), whose reason already
   * carries the operator's `src=`; a request's writer then leaves the reason alone. Not stored.
   */
  operator?: true;
}

export interface AuditSink {
  /** Appends one event; resolves when it is durably stored. Returns the entry's sequence number. */
  record(event: AuditEvent): Promise<number>;
}
