/**
 * pino options for the node: JSON lines, personal data and secrets redacted. Subject codes are
 * kept out of logged URLs (`/v1/subjects/[REDACTED]`), bearer tokens out of headers, and record
 * fields out of any logged object.
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

/** A URL with the subject code replaced: the path is the only place a request carries one. */
export function redactUrl(url: string): string {
  return url.replace(/^(\/v1\/subjects\/)[^/?#]*/, '$1[REDACTED]');
}

export function loggerOptions(level: string, stream?: DestinationStream): LoggerOptions & { stream?: DestinationStream } {
  return {
    level,
    redact: { paths: REDACT_PATHS, censor: '[REDACTED]' },
    serializers: {
      req: (req: { method?: string; url?: string; id?: string; ip?: string }) => ({ id: req.id, method: req.method, url: redactUrl(req.url ?? ''), remoteAddress: req.ip }),
    },
    ...(stream ? { stream } : {}),
  };
}
