/**
 * pino options both servers share: JSON lines, the given paths redacted (each server lists its
 * own: node/logger.ts, hub/logger.ts). A request is logged by its route template
 * (`/v1/subjects/:code`), never by its raw URL or query string, so no subject code reaches a log
 * line however the URL is spelt (percent-encoded, in `?purpose=…`, unmatched).
 */
import type { DestinationStream, LoggerOptions } from 'pino';

/** Personal data and bearer secrets, kept out of every log line of both servers (each may add its own). */
export const REDACT_PATHS: readonly string[] = [
  'req.headers.authorization',
  'headers.authorization',
  'authorization',
  'token',
  'subject',
  'fields',
  'uscc',
  'idNumber',
  'subjectName',
  'legalRep',
  '*.token',
  '*.subject',
  '*.fields',
  '*.uscc',
  '*.idNumber',
  '*.subjectName',
  '*.legalRep',
  'password',
  'newPassword',
  'otp',
  '*.password',
  '*.newPassword',
  '*.otp',
];

/** What a log line says for a request's URL: its route template, or `(no route)` when nothing matched. */
export function routeForLog(req: { routeOptions?: { url?: string } }): string {
  return req.routeOptions?.url ?? '(no route)';
}

export function serverLoggerOptions(o: { level: string; redact: readonly string[]; base?: Record<string, string>; stream?: DestinationStream | undefined }): LoggerOptions & { stream?: DestinationStream } {
  return {
    level: o.level,
    ...(o.base ? { base: o.base } : {}),
    redact: { paths: [...o.redact], censor: '[REDACTED]' },
    serializers: {
      req: (req: { method?: string; id?: string; ip?: string; routeOptions?: { url?: string } }) => ({ id: req.id, method: req.method, url: routeForLog(req), remoteAddress: req.ip }),
    },
    ...(o.stream ? { stream: o.stream } : {}),
  };
}

/**
 * An error as it may be logged: knex puts the whole SQL statement, values included, in front of
 * the driver's message (`insert into … - SQLITE_ERROR: …`); only the driver's part is kept, and
 * identifier-shaped values are blanked. The stack keeps its frames, not its message line.
 */
export function loggableError(e: unknown): { type: string; code?: string; message: string; stack?: string } {
  const err = e instanceof Error ? e : new Error(String(e));
  const tail = err.message.includes(' - ') ? err.message.slice(err.message.lastIndexOf(' - ') + 3) : err.message;
  const message = tail.slice(0, 300).replace(/[0-9A-Z]{17}[0-9A-Z]/g, '[REDACTED]');
  const code = (err as { code?: unknown }).code;
  const stack = err.stack?.split('\n').slice(1).join('\n');
  return { type: err.name, ...(typeof code === 'string' ? { code } : {}), message, ...(stack ? { stack } : {}) };
}
