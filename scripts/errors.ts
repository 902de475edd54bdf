import { errorFactory } from '../protocol/errors.js';

/** Codes of the `credit` command line itself. */
export const CLI_ERRORS = {
  ERR_USAGE: 'bad command line; see --help',
} as const;

export type CliErrorCode = keyof typeof CLI_ERRORS;
export const cliError = errorFactory(CLI_ERRORS);
