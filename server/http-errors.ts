/**
 * Where errors become HTTP answers, for both servers: a CreditError's code becomes the status the
 * server's table gives it (node/http-errors.ts, hub/http-errors.ts), and Fastify's own errors
 * (validation, body too large, unknown media type, bad JSON, undecodable URL, unparsable HTTP)
 * become JSON `{ code, message, details? }`. Bad input never yields a 500. A refusal answered
 * before the request's body was read to its end drops the rest of the body (drainUnread).
 */
import { STATUS_CODES, type IncomingMessage } from 'node:http';
import { Socket } from 'node:net';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { isCreditError } from '../protocol/errors.js';
import { loggableError } from './logger.js';

export interface ErrorBody {
  code: string;
  message: string;
  details?: unknown;
}

export interface HttpErrorTable {
  /** The status of every code the server answers with. */
  statuses: Readonly<Record<string, number>>;
  /** A code missing from the table: 500 with the error as it is ('keep'), or 500 ERR_INTERNAL ('internal'). */
  unlisted: 'keep' | 'internal';
  /** Named in the ERR_INTERNAL message: `internal error; see the ${service} log`. */
  service: 'hub' | 'node';
}

/** Status and body for any error a request can raise. */
export function httpErrorOf(error: unknown, table: HttpErrorTable): { status: number; body: ErrorBody } {
  const internal = { status: 500, body: { code: 'ERR_INTERNAL', message: `internal error; see the ${table.service} log` } };
  if (isCreditError(error)) {
    const body: ErrorBody = { code: error.code, message: error.message };
    if (error.details !== undefined) body.details = error.details;
    const status = table.statuses[error.code];
    if (status !== undefined) return { status, body };
    return table.unlisted === 'keep' ? { status: 500, body } : internal;
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
  return internal;
}

export interface ErrorHandling {
  toHttpError(error: unknown): { status: number; body: ErrorBody };
  /** Extra fields of the "request refused" log line (the hub names the calling node). */
  refusalLog?(request: FastifyRequest): Record<string, unknown>;
  /**
   * Called for every refused (4xx) request, e.g. to audit it; its failure is logged, and, with
   * `refusalMustBeAudited`, answered 503 ERR_NOT_READY instead of the refusal (never answered unlogged).
   */
  onRefused?(request: FastifyRequest, body: ErrorBody, status: number): Promise<void>;
  refusalMustBeAudited?: boolean;
  /** The path an ERR_ROUTE_NOT_FOUND message names (the node hides subject codes). */
  notFoundPath?(path: string): string;
  /**
   * Codes that say "not now" (a 503 the client should retry, not a failure of the server): answered
   * with `Retry-After` (seconds: the error's `details.retryAfter` when it gives one, else this value)
   * and logged as a refusal, not as a failure with its stack.
   */
  retryAfter?: Readonly<Record<string, number>>;
}

/** A "not now" code's Retry-After: the error's own `details.retryAfter` (whole seconds, 1–3600: a busy hub's estimate), else the code's fixed value. */
function retryAfterOf(body: { details?: unknown }, fixed: number): number {
  const own = (body.details as { retryAfter?: unknown } | undefined)?.retryAfter;
  return typeof own === 'number' && Number.isInteger(own) && own >= 1 && own <= 3600 ? own : fixed;
}

export function installErrorHandling(app: FastifyInstance, o: ErrorHandling): void {
  app.addHook('onResponse', async (request) => {
    drainUnread(request.raw);
  });
  app.setErrorHandler(async (error: unknown, request: FastifyRequest, reply: FastifyReply) => {
    const { status, body } = o.toHttpError(error);
    const retry = o.retryAfter && Object.hasOwn(o.retryAfter, body.code) ? retryAfterOf(body, o.retryAfter[body.code]!) : undefined;
    if (retry !== undefined) void reply.header('retry-after', String(retry));
    if (status >= 500 && retry === undefined) request.log.error({ error: loggableError(error) }, 'request failed');
    else request.log.info({ code: body.code, status, ...o.refusalLog?.(request) }, 'request refused');
    if (status < 500 && o.onRefused) {
      try {
        await o.onRefused(request, body, status);
      } catch (e) {
        request.log.error({ error: loggableError(e) }, 'could not audit a refusal');
        if (o.refusalMustBeAudited) {
          return reply.status(503).header('retry-after', '1').type('application/json; charset=utf-8').send({ code: 'ERR_NOT_READY', message: 'the refusal of this request could not be written to the audit log; retry' });
        }
      }
    }
    return reply.status(status).type('application/json; charset=utf-8').send(body);
  });
  app.setNotFoundHandler(async (request, reply) => {
    const path = request.url.split('?')[0]!;
    return reply.status(404).send({ code: 'ERR_ROUTE_NOT_FOUND', message: `no route ${request.method} ${o.notFoundPath ? o.notFoundPath(path) : path}` });
  });
}

/** How much of an unread request body is read and dropped after the answer, and for how long, before the connection is closed instead. */
export const DRAIN_LIMIT_BYTES = 16 * 1024 * 1024;
export const DRAIN_LIMIT_MS = 10_000;

/**
 * After an answer sent before the request's body was read to its end (a refusal mid-upload: too
 * large, a bad header row): the rest of the body is read and dropped, so that the kept-alive
 * connection serves the client's next request (left paused, it waited for ever) and the client,
 * still sending, is not cut off before it reads the answer. Past DRAIN_LIMIT_BYTES or
 * DRAIN_LIMIT_MS the connection is closed instead (nginx's "lingering close", bounded the same way).
 */
export function drainUnread(raw: IncomingMessage, limits = { bytes: DRAIN_LIMIT_BYTES, ms: DRAIN_LIMIT_MS }): void {
  const socket = raw.socket as unknown;
  // a connection only (app.inject's stand-in socket has nothing to drain, and no destroy())
  if (raw.complete || raw.destroyed || !(socket instanceof Socket) || socket.destroyed) return;
  // counted as the request's 'data' (a listener on the socket itself would take it from the HTTP
  // parser); a body nobody began to read Node drops by itself, without 'data': the time bound covers that
  let bytes = 0;
  const done = () => clearTimeout(timer);
  const cut = () => {
    done();
    socket.destroy();
  };
  const timer = setTimeout(cut, limits.ms).unref();
  raw.on('data', (c: Buffer) => {
    bytes += c.length;
    if (bytes > limits.bytes) cut();
  });
  raw.once('end', done);
  raw.once('close', done);
  raw.once('error', done);
  raw.unpipe(); // from whatever was reading it (an import's stream, abandoned: full, it would pause the body again)
  raw.resume();
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
