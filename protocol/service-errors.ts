import { errorFactory } from './errors.js';

/**
 * Codes any of our servers (the city node and the hub) raise at their edge: configuration at
 * start-up and the HTTP layer. One table so both servers speak the same codes for the same thing.
 */
export const SERVICE_ERRORS = {
  ERR_CONFIG_INVALID: 'server configuration is invalid',
  ERR_PROXY_UNTRUSTED: 'a PROXY protocol header came from an address not in trustProxy: connection closed',
  ERR_PROXY_HEADER_INVALID: 'a connection from a trusted proxy began with a malformed PROXY protocol header: connection closed',
  ERR_DATADIR_LOCKED: 'another server process is using this data directory',
  ERR_SCHEMA_TOO_NEW: 'the store was migrated by a newer version of this software',
  ERR_PORT_IN_USE: 'the listen address is already in use by another process',
  ERR_DATABASE_UNREACHABLE: 'the store cannot be opened',
  ERR_REPLICA_SCHEMA: 'the configured read replica is not a copy of the hub store (migrations or data keys differ)',
  ERR_REQUEST_INVALID: 'request does not match the route schema',
  ERR_BODY_TOO_LARGE: 'request body is larger than allowed',
  ERR_UNSUPPORTED_MEDIA_TYPE: 'content type not accepted by this route',
  ERR_RATE_LIMITED: 'too many requests; retry after the time in Retry-After',
  ERR_ROUTE_NOT_FOUND: 'no such route',
  ERR_NOT_READY: 'server is not ready (starting or shutting down)',
  ERR_INTERNAL: 'internal error; see the server log',
  ERR_CSRF_INVALID: 'a console form or request did not echo its CSRF token, or an audited console page was requested from outside the console',
  ERR_IMPORT_REPORT_GONE: 'the console no longer holds this import report (newer uploads, memory cap or restart)',
  ERR_DATA_KEY_MISSING: 'the store holds data sealed at rest but the data key file is missing',
  ERR_DATA_KEY_WRONG: 'the data key file does not hold the keys this store was sealed under',
  ERR_DATA_KEY_FILE_INVALID: 'the data key file cannot be read (format or mode)',
  ERR_DATA_KEY_WRAPPER_INVALID: 'the key wrapper does not give back the key it was given to wrap',
  ERR_STORE_CIPHERTEXT_INVALID: 'a value sealed at rest fails its integrity check',
} as const;

export type ServiceErrorCode = keyof typeof SERVICE_ERRORS;
export const serviceError = errorFactory(SERVICE_ERRORS);
