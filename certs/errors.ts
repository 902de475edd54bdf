import { errorFactory } from '../protocol/errors.js';

/** Codes of certs/: the provincial CA, enrolment tokens, certificate checks. */
export const CERT_ERRORS = {
  ERR_CSR_INVALID: 'certificate signing request is malformed or its self-signature does not verify',
} as const;

export type CertErrorCode = keyof typeof CERT_ERRORS;
export const certError = errorFactory(CERT_ERRORS);
