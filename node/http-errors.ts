/**
 * The one place where error codes become HTTP statuses, and Fastify's own errors (validation,
 * body too large, unknown media type, bad JSON) become JSON `{ code, message, details? }`. Bad
 * input never yields a 500.
 */
import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { isCreditError } from '../protocol/errors.js';
import { loggableError } from './logger.js';

export const HTTP_STATUS: Readonly<Record<string, number>> = Object.freeze({
  ERR_CONFIG_INVALID: 500,
  ERR_AUTH_MISSING: 401,
  ERR_AUTH_INVALID: 401,
  ERR_AUTH_EXPIRED: 401,
  ERR_ROLE_DENIED: 403,
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
  ERR_REQUEST_INVALID: 400,
  ERR_BODY_TOO_LARGE: 413,
  ERR_UNSUPPORTED_MEDIA_TYPE: 415,
  ERR_RATE_LIMITED: 429,
  ERR_ROUTE_NOT_FOUND: 404,
  ERR_NOT_READY: 503,
  ERR_INTERNAL: 500,
  ERR_IMPORT_TYPE_REQUIRED: 400,
  ERR_IMPORT_HEADER_INVALID: 422,
  ERR_IMPORT_LINE_MALFORMED: 422,
  ERR_HUB_UNAVAILABLE: 503,
  ERR_HUB_ANSWER_INVALID: 502,
  // protocol/ codes that reach the node's API
  ERR_RECORD_INVALID: 422,
  ERR_UNKNOWN_RECORD_TYPE: 422,
  ERR_INVALID_USCC: 422,
  ERR_INVALID_RESIDENT_ID: 422,
  ERR_UNKNOWN_IDENTIFIER: 422,
  ERR_DISCLOSURE_PERIOD: 422,
  ERR_CLASSIFICATION_LOWERED: 422,
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
    return { status: HTTP_STATUS[error.code] ?? 500, body };
  }
  const e = error as FastifyError;
  if (e.validation) {
    return {
      status: 400,
      body: { code: 'ERR_REQUEST_INVALID', message: `request ${e.validationContext ?? ''} does not match the route schema: ${e.message}`.replace('  ', ' '), details: e.validation.map((v) => ({ path: `${e.validationContext ?? ''}${v.instancePath}`, message: v.message ?? 'invalid', params: v.params })) },
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
  return { status: 500, body: { code: 'ERR_INTERNAL', message: 'internal error; see the node log' } };
}

export function installErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler(async (error: unknown, request: FastifyRequest, reply: FastifyReply) => {
    const { status, body } = toHttpError(error);
    if (status >= 500) request.log.error({ error: loggableError(error) }, 'request failed');
    else request.log.info({ code: body.code, status }, 'request refused');
    return reply.status(status).type('application/json; charset=utf-8').send(body);
  });
  app.setNotFoundHandler(async (request, reply) => reply.status(404).send({ code: 'ERR_ROUTE_NOT_FOUND', message: `no route ${request.method} ${request.url.split('?')[0]!.replace(/^\/v1\/subjects\/.*/, '/v1/subjects/…')}` }));
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
