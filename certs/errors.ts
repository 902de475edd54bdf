import { errorFactory } from '../protocol/errors.js';

/** Codes of certs/: the provincial CA, enrolment tokens, certificate checks. */
export const CERT_ERRORS = {
  ERR_CSR_INVALID: 'certificate signing request is malformed or its self-signature does not verify',
  ERR_CSR_KEY_UNSUPPORTED: 'the key in the certificate signing request is not RSA 2048–4096 bits with public exponent 65537',
  ERR_CSR_SUBJECT_INVALID: 'the subject of the certificate signing request must hold exactly one CN (the node id)',
  ERR_CA_EXISTS: 'a CA already exists in this directory; refusing to overwrite it',
  ERR_CA_NOT_FOUND: 'no CA in this directory (run `credit ca init --dir DIR` first)',
  ERR_CA_LOCKED: 'another process holds the CA directory lock',
  ERR_CA_STATE_INVALID: 'the CA state file cannot be read',
  ERR_CA_HUB_REGISTER: "this CA directory belongs to a hub: its register and tokens are the hub database's; use the `credit hub …` command",
  ERR_KEY_EXISTS: 'a key file already exists at the output path; refusing to overwrite it',
  ERR_GRADE_INVALID: 'protection grade must be a whole number from 1 to 4',
  ERR_TOKEN_INVALID: 'enrolment token is malformed or unknown',
  ERR_TOKEN_USED: 'enrolment token has already been used',
  ERR_TOKEN_EXPIRED: 'enrolment token has expired',
  ERR_TOKEN_CANCELLED: 'enrolment token was cancelled by the hub operator (or its node was revoked)',
  ERR_TOKEN_NODE_MISMATCH: 'enrolment token was issued for another node id',
  ERR_RENEWAL_TOO_EARLY: 'the certificate is not yet inside its renewal window (less than half of its lifetime left)',
  ERR_RENEWAL_DENIED: 'renewal needs a current, unrevoked certificate from this CA for the same node id and a new key',
  ERR_CERT_NOT_FOUND: 'no certificate with this serial (or for this node) was issued by this CA',
  ERR_REVOCATION_REASON: 'revocation reason must be keyCompromise, superseded or cessationOfOperation',
  ERR_CRL_INVALID: 'CRL cannot be read or is not signed by this CA',
  ERR_HOST_INVALID: 'a certificate host (SAN) must be a DNS name or an IP address',
} as const;

export type CertErrorCode = keyof typeof CERT_ERRORS;
export const certError = errorFactory(CERT_ERRORS);
