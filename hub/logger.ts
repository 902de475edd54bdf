/**
 * pino options for the hub: JSON lines, personal data and secrets redacted. The hub logs node ids
 * and codes; subject codes, record fields, tokens and keys never reach a log line. A request is
 * logged by its route template (`/v1/distributions`), never by its raw URL or query string.
 */
import type { DestinationStream, LoggerOptions } from 'pino';

export const REDACT_PATHS = [
  'req.headers.authorization',
  'headers.authorization',
  'authorization',
  'token',
  'csrPem',
  'keyPem',
  'subject',
  'fields',
  'uscc',
  'idNumber',
  'subjectName',
  'legalRep',
  '*.token',
  '*.keyPem',
  '*.subject',
  '*.fields',
  '*.uscc',
  '*.idNumber',
  '*.subjectName',
  '*.legalRep',
];

export function hubLoggerOptions(level: string, stream?: DestinationStream): LoggerOptions & { stream?: DestinationStream } {
  return {
    level,
    base: { service: 'credit-hub' },
    redact: { paths: REDACT_PATHS, censor: '[REDACTED]' },
    serializers: {
      req: (req: { method?: string; id?: string; ip?: string; routeOptions?: { url?: string } }) => ({ id: req.id, method: req.method, url: req.routeOptions?.url ?? '(no route)', remoteAddress: req.ip }),
    },
    ...(stream ? { stream } : {}),
  };
}

/**
 * An error as it may be logged: knex puts the SQL statement, values included, in front of the
 * driver's message; only the driver's part is kept, identifier-shaped values blanked.
 */
export function loggableError(e: unknown): { type: string; code?: string; message: string; stack?: string } {
  const err = e instanceof Error ? e : new Error(String(e));
  const tail = err.message.includes(' - ') ? err.message.slice(err.message.lastIndexOf(' - ') + 3) : err.message;
  const message = tail.slice(0, 300).replace(/[0-9A-Z]{17}[0-9A-Z]/g, '[REDACTED]');
  const code = (err as { code?: unknown }).code;
  const stack = err.stack?.split('\n').slice(1).join('\n');
  return { type: err.name, ...(typeof code === 'string' ? { code } : {}), message, ...(stack ? { stack } : {}) };
}
