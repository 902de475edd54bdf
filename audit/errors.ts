import { errorFactory } from '../protocol/errors.js';

/** Codes of audit/: the tamper-evident log, its export bundle and proofs. */
export const AUDIT_ERRORS = {
  ERR_AUDIT_ENTRY_MODIFIED: 'an audit entry does not match its hash',
  ERR_AUDIT_FRONTIER: 'a persisted Merkle frontier of the audit log was rejected (the tables were written outside the log); the log was opened by reading every entry',
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
  ERR_AUDIT_UNWITNESSED: 'the latest checkpoint of the audit bundle carries no witness cosignature: its last entries are not witnessed',
  ERR_AUDIT_REVOKED_SIGNER: 'a checkpoint or cosignature was made after its certificate was revoked (for keyCompromise: not cosigned before the compromise time)',
  ERR_AUDIT_RESET_NOT_ARMED: "a node asked for a witness reset, but the hub operator has not armed one for it (or the arm was used, or is for another backup)",
  ERR_AUDIT_RESET_EXPIRED: 'the witness reset armed for this node has expired before the node used it',
  ERR_AUDIT_RESET_MISSING: 'the witness records lack a witness reset that the hub cosignatures of the log refer to (their epoch)',
  ERR_AUDIT_RESET_FROM: 'the witness reset does not start from the largest head the hub cosigned before the backup was made',
  ERR_AUDIT_ALGORITHM_MIXED: 'the audit log was created with another hash algorithm (sha256 or sm3), or a checkpoint or cosignature is signed with a key of another algorithm than the log',
  ERR_AUDIT_UNSIGNED_SIZE: 'no signed checkpoint is stored at the requested tree size',
} as const;

export type AuditErrorCode = keyof typeof AUDIT_ERRORS;
export const auditError = errorFactory(AUDIT_ERRORS);
