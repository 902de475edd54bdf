import { errorFactory } from './errors.js';

/**
 * Codes any of our servers (the city node and the hub) raise at their edge: configuration at
 * start-up and the HTTP layer. One table so both servers speak the same codes for the same thing.
 */
export const SERVICE_ERRORS = {
  ERR_CONFIG_INVALID: 'server configuration is invalid',
  ERR_DATADIR_LOCKED: 'another server process is using this data directory',
  ERR_REQUEST_INVALID: 'request does not match the route schema',
  ERR_BODY_TOO_LARGE: 'request body is larger than allowed',
  ERR_UNSUPPORTED_MEDIA_TYPE: 'content type not accepted by this route',
  ERR_RATE_LIMITED: 'too many requests; retry after the time in Retry-After',
  ERR_ROUTE_NOT_FOUND: 'no such route',
  ERR_NOT_READY: 'server is not ready (starting or shutting down)',
  ERR_INTERNAL: 'internal error; see the server log',
} as const;

export type ServiceErrorCode = keyof typeof SERVICE_ERRORS;
export const serviceError = errorFactory(SERVICE_ERRORS);
