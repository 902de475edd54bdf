/**
 * pino options for the node: JSON lines, personal data and secrets redacted. A request is logged
 * by its route template (`/v1/subjects/:code`), never by its raw URL or query string, so no subject
 * code reaches a log line however the URL is spelt (percent-encoded, in `?purpose=…`, unmatched);
 * bearer tokens are kept out of headers and record fields out of any logged object (server/logger.ts,
 * shared with the hub).
 */
import type { DestinationStream, LoggerOptions } from 'pino';
import { REDACT_PATHS as SERVER_REDACT_PATHS, serverLoggerOptions } from '../server/logger.js';

export { loggableError } from '../server/logger.js';

export const REDACT_PATHS: readonly string[] = SERVER_REDACT_PATHS;

export function loggerOptions(level: string, stream?: DestinationStream): LoggerOptions & { stream?: DestinationStream } {
  return serverLoggerOptions({ level, redact: REDACT_PATHS, stream });
}
