/**
 * pino options for the node: JSON lines, personal data and secrets redacted. A request is logged
 * by its route template (`/v1/subjects/:code`), never by its raw URL or query string, so no subject
 * code reaches a log line however the URL is spelt (percent-encoded, in `?purpose=…`, unmatched);
 * bearer tokens are kept out of headers and record fields out of any logged object.
 */
import type { DestinationStream, LoggerOptions } from 'pino';

export const REDACT_PATHS = [
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
  '*.subject',
  '*.fields',
  '*.uscc',
  '*.idNumber',
  '*.subjectName',
  '*.legalRep',
  '*.token',
];

/** What a log line says for a request's URL: its route template, or `(no route)` when nothing matched. */
export function routeForLog(req: { routeOptions?: { url?: string } }): string {
  return req.routeOptions?.url ?? '(no route)';
}

export function loggerOptions(level: string, stream?: DestinationStream): LoggerOptions & { stream?: DestinationStream } {
  return {
    level,
    redact: { paths: REDACT_PATHS, censor: '[REDACTED]' },
    serializers: {
      req: (req: { method?: string; id?: string; ip?: string; routeOptions?: { url?: string } }) => ({ id: req.id, method: req.method, url: routeForLog(req), remoteAddress: req.ip }),
    },
    ...(stream ? { stream } : {}),
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
