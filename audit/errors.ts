import { errorFactory } from '../protocol/errors.js';

/** Codes of audit/: the tamper-evident log, its export bundle and proofs. */
export const AUDIT_ERRORS = {
  ERR_AUDIT_ENTRY_MODIFIED: 'an audit entry does not match its hash',
} as const;

export type AuditErrorCode = keyof typeof AUDIT_ERRORS;
export const auditError = errorFactory(AUDIT_ERRORS);
