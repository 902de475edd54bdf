/**
 * The one place where error codes become HTTP statuses for the hub, and Fastify's own errors
 * (validation, body too large, media type, bad JSON) become JSON `{ code, message, details? }`.
 * Every code the hub can answer with is listed; bad input never yields a 500.
 */
import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { isCreditError } from '../protocol/errors.js';
import { loggableError } from './logger.js';

export const HUB_HTTP_STATUS: Readonly<Record<string, number>> = Object.freeze({
  // the HTTP edge (protocol/service-errors.ts)
  ERR_REQUEST_INVALID: 400,
  ERR_BODY_TOO_LARGE: 413,
  ERR_UNSUPPORTED_MEDIA_TYPE: 415,
  ERR_RATE_LIMITED: 429,
  ERR_ROUTE_NOT_FOUND: 404,
  ERR_NOT_READY: 503,
  ERR_INTERNAL: 500,
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
  ERR_SUITE_KEY_MISMATCH: 400,
  ERR_SIGNATURE_INVALID: 401,
  ERR_DECRYPT_FAILED: 400,
  ERR_WRONG_RECIPIENT: 400,
  ERR_SENDER_MISMATCH: 403,
  ERR_ENVELOPE_TYPE: 400,
  ERR_REPLAY: 409,
  ERR_OUT_OF_ORDER: 409,
  ERR_SEQUENCE_GAP: 409,
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
});

export interface ErrorBody {
  code: string;
  message: string;
  details?: unknown;
}

/** Status and body for any error a request can raise. */
export function toHttpError(error: unknown): { status: number; body: ErrorBody } {
  if (isCreditError(error)) {
    const body: ErrorBody = { code: error.code, message: error.message };
    if (error.details !== undefined) body.details = error.details;
    const status = HUB_HTTP_STATUS[error.code];
    if (status !== undefined) return { status, body };
    return { status: 500, body: { code: 'ERR_INTERNAL', message: 'internal error; see the hub log' } };
  }
  const e = error as FastifyError;
  if (e.validation) {
    return {
      status: 400,
      body: {
        code: 'ERR_REQUEST_INVALID',
        message: `request ${e.validationContext ?? ''} does not match the route schema: ${e.message}`.replace('  ', ' '),
        details: e.validation.map((v) => ({ path: `${e.validationContext ?? ''}${v.instancePath}`, message: v.message ?? 'invalid', params: v.params })),
      },
    };
  }
  switch (e.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return { status: 413, body: { code: 'ERR_BODY_TOO_LARGE', message: e.message } };
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return { status: 415, body: { code: 'ERR_UNSUPPORTED_MEDIA_TYPE', message: e.message } };
  }
  const status = typeof e.statusCode === 'number' ? e.statusCode : 500;
  if (status >= 400 && status < 500) return { status: 400, body: { code: 'ERR_REQUEST_INVALID', message: e.message } };
  return { status: 500, body: { code: 'ERR_INTERNAL', message: 'internal error; see the hub log' } };
}

export function installErrorHandling(app: FastifyInstance, onRefused?: (request: FastifyRequest, body: ErrorBody, status: number) => Promise<void>): void {
  app.setErrorHandler(async (error: unknown, request: FastifyRequest, reply: FastifyReply) => {
    const { status, body } = toHttpError(error);
    if (status >= 500) request.log.error({ error: loggableError(error) }, 'request failed');
    else request.log.info({ code: body.code, status, node: request.peer?.nodeId }, 'request refused');
    if (status < 500 && onRefused) {
      try {
        await onRefused(request, body, status);
      } catch (e) {
        request.log.error({ error: loggableError(e) }, 'could not audit a refusal');
      }
    }
    return reply.status(status).type('application/json; charset=utf-8').send(body);
  });
  app.setNotFoundHandler(async (request, reply) => reply.status(404).send({ code: 'ERR_ROUTE_NOT_FOUND', message: `no route ${request.method} ${request.url.split('?')[0]}` }));
}

/** Fastify option `frameworkErrors`: a URL the router cannot decode (`/v1/records/%E0%A4`) is 400 ERR_REQUEST_INVALID too. */
export function frameworkErrors(error: FastifyError, _request: FastifyRequest, reply: FastifyReply): void {
  void reply.status(400).type('application/json; charset=utf-8').send({ code: 'ERR_REQUEST_INVALID', message: error.message });
}

/**
 * Fastify option `clientErrorHandler`: HTTP that cannot be parsed, or a body cut off before its
 * Content-Length, gets the same JSON error body (431 for headers too large, 408 for a request
 * timeout, else 400), and the connection is closed.
 */
export function clientErrorHandler(error: Error & { code?: string }, socket: Socket): void {
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  const status = error.code === 'HPE_HEADER_OVERFLOW' ? 431 : error.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400;
  const body = JSON.stringify({ code: 'ERR_REQUEST_INVALID', message: `malformed HTTP request (${error.code ?? 'client error'})` });
  if (socket.writable) socket.write(`HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nConnection: close\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
  socket.destroy(error);
}
