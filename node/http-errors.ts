/**
 * The one place where error codes become HTTP statuses, and Fastify's own errors (validation,
 * body too large, unknown media type, bad JSON) become JSON `{ code, message, details? }`. Bad
 * input never yields a 500. The mapping itself is server/http-errors.ts, shared with the hub.
 */
import type { FastifyInstance } from 'fastify';
import { httpErrorOf, installErrorHandling as install, type ErrorBody } from '../server/http-errors.js';

export { clientErrorHandler, frameworkErrors, type ErrorBody } from '../server/http-errors.js';

export const HTTP_STATUS: Readonly<Record<string, number>> = Object.freeze({
  ERR_CONFIG_INVALID: 500,
  ERR_AUTH_MISSING: 401,
  ERR_AUTH_INVALID: 401,
  ERR_AUTH_EXPIRED: 401,
  ERR_ROLE_DENIED: 403,
  ERR_ROLE_ADMIN_DUTY: 403,
  ERR_LOGIN_FAILED: 401,
  ERR_ACCOUNT_LOCKED: 423,
  ERR_SESSION_ENDED: 401,
  ERR_PASSWORD_EXPIRED: 403,
  ERR_PASSWORD_WEAK: 422,
  ERR_USER_EXISTS: 409,
  ERR_USER_NOT_FOUND: 404,
  ERR_AUDIT_NO_CHECKPOINT: 409,
  ERR_AUDIT_RANGE: 400,
  ERR_AUDIT_PRUNED: 410,
  ERR_CLASSIFICATION_DENIED: 403,
  ERR_PURPOSE_REQUIRED: 400,
  ERR_RECORD_NOT_FOUND: 404,
  ERR_RECORD_NOT_ACTIVE: 409,
  ERR_NOT_RECORD_OWNER: 403,
  ERR_REPAIR_TOO_EARLY: 409,
  ERR_REPAIR_NOT_APPLICABLE: 409,
  ERR_DISCLOSURE_NOT_ENDED: 409,
  ERR_NO_OPEN_OBJECTION: 409,
  ERR_OBJECTION_NOT_FOUND: 404,
  ERR_OBJECTION_CLOSED: 409,
  ERR_OBJECTION_SELF_RESOLVE: 403,
  ERR_REPAIR_NOT_FOUND: 404,
  ERR_REPAIR_DECIDED: 409,
  ERR_REPAIR_REASON_REQUIRED: 422,
  ERR_CALENDAR_YEAR_MISSING: 500,
  ERR_REQUEST_INVALID: 400,
  ERR_BODY_TOO_LARGE: 413,
  ERR_UNSUPPORTED_MEDIA_TYPE: 415,
  ERR_RATE_LIMITED: 429,
  ERR_ROUTE_NOT_FOUND: 404,
  ERR_NOT_READY: 503,
  ERR_INTERNAL: 500,
  ERR_CSRF_INVALID: 403,
  ERR_IMPORT_REPORT_GONE: 410,
  ERR_STORE_CIPHERTEXT_INVALID: 500,
  ERR_IMPORT_TYPE_REQUIRED: 400,
  ERR_IMPORT_HEADER_INVALID: 422,
  ERR_IMPORT_FORMAT: 422,
  ERR_IMPORT_BUSY: 503,
  ERR_IMPORT_STALLED: 408,
  ERR_IMPORT_LINE_MALFORMED: 422,
  ERR_HUB_UNAVAILABLE: 503,
  ERR_REPORT_NO_SIGNER: 503,
  ERR_HUB_ANSWER_INVALID: 502,
  // protocol/ codes that reach the node's API
  ERR_RECORD_INVALID: 422,
  ERR_UNKNOWN_RECORD_TYPE: 422,
  ERR_CATALOG_VERSION: 422,
  ERR_INVALID_USCC: 422,
  ERR_INVALID_RESIDENT_ID: 422,
  ERR_UNKNOWN_IDENTIFIER: 422,
  ERR_DISCLOSURE_PERIOD: 422,
  ERR_DECISION_DATE_FUTURE: 422,
  ERR_CLASSIFICATION_LOWERED: 422,
});

/** Codes answered with Retry-After (seconds): a node busy with as many XLSX imports as it may hold. */
export const RETRY_AFTER: Readonly<Record<string, number>> = Object.freeze({ ERR_IMPORT_BUSY: 60 });

/** Status and body for any error a request can raise. */
export function toHttpError(error: unknown): { status: number; body: ErrorBody } {
  return httpErrorOf(error, { statuses: HTTP_STATUS, unlisted: 'keep', service: 'node' });
}

export function installErrorHandling(app: FastifyInstance): void {
  // a subject code in an unmatched URL stays out of the answer
  install(app, { toHttpError, notFoundPath: (path) => path.replace(/^\/v1\/subjects\/.*/, '/v1/subjects/…'), retryAfter: RETRY_AFTER });
}
