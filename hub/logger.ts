/**
 * pino options for the hub: JSON lines, personal data and secrets redacted. The hub logs node ids
 * and codes; subject codes, record fields, tokens and keys never reach a log line. A request is
 * logged by its route template (`/v1/distributions`), never by its raw URL or query string
 * (server/logger.ts, shared with the node).
 */
import type { DestinationStream, LoggerOptions } from 'pino';
import { REDACT_PATHS as SERVER_REDACT_PATHS, serverLoggerOptions } from '../server/logger.js';

export { loggableError } from '../server/logger.js';

/** The shared paths (server/logger.ts), and the hub's key material: CSRs and private keys. */
export const REDACT_PATHS: readonly string[] = [...SERVER_REDACT_PATHS, 'csrPem', 'keyPem', '*.keyPem'];

export function hubLoggerOptions(level: string, stream?: DestinationStream): LoggerOptions & { stream?: DestinationStream } {
  return serverLoggerOptions({ level, redact: REDACT_PATHS, base: { service: 'credit-hub' }, stream });
}
