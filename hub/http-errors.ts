/**
 * The one place where error codes become HTTP statuses for the hub, and Fastify's own errors
 * (validation, body too large, media type, bad JSON) become JSON `{ code, message, details? }`.
 * Every code the hub can answer with is listed; bad input never yields a 500. The mapping itself
 * is server/http-errors.ts, shared with the node.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ACCOUNT_HTTP_STATUS } from '../server/account-errors.js';
import { BUSY_RETRY_AFTER_S } from './batch-admission.js';
import { httpErrorOf, installErrorHandling as install, type ErrorBody } from '../server/http-errors.js';

export { clientErrorHandler, frameworkErrors, type ErrorBody } from '../server/http-errors.js';

export const HUB_HTTP_STATUS: Readonly<Record<string, number>> = Object.freeze({
  // the HTTP edge (protocol/service-errors.ts)
  ERR_REQUEST_INVALID: 400,
  ERR_BODY_TOO_LARGE: 413,
  ERR_UNSUPPORTED_MEDIA_TYPE: 415,
  ERR_RATE_LIMITED: 429,
  ERR_ROUTE_NOT_FOUND: 404,
  ERR_CATALOG_NOT_PUBLISHED: 404,
  ERR_SM2_CA_ABSENT: 404,
  ERR_NOT_READY: 503,
  ERR_HUB_BUSY: 503, // hub/batch-admission.ts: answered with Retry-After
  ERR_INTERNAL: 500,
  ERR_STORE_CIPHERTEXT_INVALID: 500,
  ERR_REGISTER_JOURNAL: 503, // an operator's revocation or cancellation could not be journalled (hub/register-journal.ts): the store is unchanged
  // who is calling (hub/, protocol/)
  ERR_CLIENT_CERT_REQUIRED: 401,
  ERR_CERT_UNTRUSTED: 403,
  ERR_CERT_EXPIRED: 403,
  ERR_CERT_REVOKED: 403,
  ERR_NODE_UNKNOWN: 403,
  // envelopes (protocol/)
  ERR_ENVELOPE_MALFORMED: 400,
  ERR_ENVELOPE_TOO_LARGE: 413,
  ERR_PROTOCOL_VERSION: 400,
  ERR_UNKNOWN_SUITE: 400,
  ERR_SUITE_REFUSED: 400,
  ERR_SUITE_KEY_MISMATCH: 400,
  ERR_SIGNATURE_INVALID: 401,
  ERR_DECRYPT_FAILED: 400,
  ERR_WRONG_RECIPIENT: 400,
  ERR_SENDER_MISMATCH: 403,
  ERR_ENVELOPE_TYPE: 400,
  ERR_NOTICE_UNROUTABLE: 422,
  ERR_QUALITY_SCOPE_DENIED: 403,
  ERR_REPLAY: 409,
  ERR_OUT_OF_ORDER: 409,
  ERR_SEQUENCE_GAP: 409,
  ERR_FEED_DIVERGED: 409,
  ERR_STALE_TIMESTAMP: 400,
  ERR_CLASSIFICATION_DENIED: 403,
  // enrolment and renewal (certs/)
  ERR_TOKEN_INVALID: 401,
  ERR_TOKEN_USED: 409,
  ERR_TOKEN_EXPIRED: 401,
  ERR_TOKEN_CANCELLED: 401,
  ERR_TOKEN_NODE_MISMATCH: 403,
  ERR_CSR_INVALID: 400,
  ERR_CSR_KEY_UNSUPPORTED: 400,
  ERR_CSR_SUBJECT_INVALID: 400,
  ERR_INVALID_NODE_ID: 400,
  ERR_RENEWAL_DENIED: 403,
  ERR_RENEWAL_TOO_EARLY: 403,
  ERR_RENEWAL_RATE_LIMITED: 429,
  ERR_HOST_INVALID: 400,
  // checkpoint witnessing
  ERR_AUDIT_INCONSISTENT: 409,
  ERR_AUDIT_CHECKPOINT_SIGNATURE: 403,
  ERR_AUDIT_UNTRUSTED_SIGNER: 403,
  ERR_AUDIT_COSIGNATURE: 400,
  // witness reset after a restore
  ERR_AUDIT_RESET_NOT_ARMED: 409,
  ERR_AUDIT_RESET_EXPIRED: 409,
  ERR_AUDIT_RESET_FROM: 409,
  ERR_AUDIT_NO_CHECKPOINT: 409,
  // the operator console (hub/console/): CSRF token, audited reads from outside the console, proofs
  ERR_CSRF_INVALID: 403,
  ERR_AUDIT_RANGE: 400,
  ERR_AUDIT_PRUNED: 410,
  // operator accounts and sessions (server/account-errors.ts)
  ...ACCOUNT_HTTP_STATUS,
});

/** Codes that say "not now": answered with Retry-After (seconds) and logged as refusals (server/http-errors.ts). */
export const HUB_RETRY_AFTER: Readonly<Record<string, number>> = Object.freeze({ ERR_HUB_BUSY: BUSY_RETRY_AFTER_S });

/** Status and body for any error a request can raise (a code the table lacks: 500 ERR_INTERNAL). */
export function toHttpError(error: unknown): { status: number; body: ErrorBody } {
  return httpErrorOf(error, { statuses: HUB_HTTP_STATUS, unlisted: 'internal', service: 'hub' });
}

export function installErrorHandling(app: FastifyInstance, onRefused?: (request: FastifyRequest, body: ErrorBody, status: number) => Promise<void>): void {
  // a refusal is never answered without its audit entry (audit/refusals.ts retries; then 503)
  install(app, { toHttpError, refusalLog: (request) => ({ node: request.peer?.nodeId }), retryAfter: HUB_RETRY_AFTER, ...(onRefused ? { onRefused, refusalMustBeAudited: true } : {}) });
}
