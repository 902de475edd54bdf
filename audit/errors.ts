import { errorFactory } from '../protocol/errors.js';

/** Codes of audit/: the tamper-evident log, its export bundle and proofs. */
export const AUDIT_ERRORS = {
  ERR_AUDIT_ENTRY_MODIFIED: 'an audit entry does not match its hash',
  ERR_AUDIT_GAP: 'an audit entry is missing from the sequence',
  ERR_AUDIT_REORDERED: 'audit entries or checkpoints are out of order',
  ERR_AUDIT_TRUNCATED: 'the audit bundle ends before the entries it declares, or its last entries are not covered by a signed checkpoint',
  ERR_AUDIT_CHECKPOINT_SIGNATURE: 'a checkpoint signature does not verify with its signer certificate',
  ERR_AUDIT_UNTRUSTED_SIGNER: 'the checkpoint (or cosignature) signer certificate does not chain to the given CA, was not valid at the time it signed, or speaks for another node',
  ERR_AUDIT_BUNDLE_MALFORMED: 'the audit bundle is not a valid NDJSON export',
  ERR_AUDIT_PROOF_INVALID: 'the inclusion or consistency proof does not verify',
  ERR_AUDIT_RETENTION: 'audit entries younger than 180 days cannot be pruned',
  ERR_AUDIT_PRUNED: 'the requested part of the audit log has been pruned',
  ERR_AUDIT_RANGE: 'the sequence number or tree size is outside the audit log',
  ERR_AUDIT_EVENT_INVALID: 'audit event is missing actor, action or outcome, or has a field of the wrong type',
  ERR_AUDIT_SIGNER_INVALID: "the audit signer's key does not belong to its certificate, or its certificate is for another node than the log's",
  ERR_AUDIT_NO_CHECKPOINT: 'no signed checkpoint covers the entries to export; give --key and --cert to sign one',
  ERR_AUDIT_CLOSED: 'the audit log has been closed',
  ERR_AUDIT_INCONSISTENT: "the node's audit log is not consistent with a checkpoint the hub cosigned earlier: it was rewritten or forked",
  ERR_AUDIT_COSIGNATURE: "a hub cosignature does not verify, or does not match the node's checkpoint at its tree size",
} as const;

export type AuditErrorCode = keyof typeof AUDIT_ERRORS;
export const auditError = errorFactory(AUDIT_ERRORS);
