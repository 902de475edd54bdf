/**
 * Typed errors shared by every package. Each package declares its codes once, in its own
 * `errors.ts`, as a table `{ CODE: default message }`; `docs/errors.md` lists every code and
 * `test/errors-doc.test.ts` keeps the two in step. HTTP statuses are mapped only at the HTTP edge.
 */

export class CreditError<C extends string = string> extends Error {
  readonly code: C;
  readonly details: unknown;

  constructor(code: C, message: string, details?: unknown) {
    super(message);
    this.name = 'CreditError';
    this.code = code;
    this.details = details;
  }

  toJSON(): { code: C; message: string; details?: unknown } {
    return this.details === undefined
      ? { code: this.code, message: this.message }
      : { code: this.code, message: this.message, details: this.details };
  }
}

/** Builds a typed constructor for one package's code table. */
export function errorFactory<T extends Record<string, string>>(table: T) {
  return function make(code: keyof T & string, message?: string, details?: unknown): CreditError<keyof T & string> {
    return new CreditError(code, message ?? table[code] ?? code, details);
  };
}

export function isCreditError(e: unknown): e is CreditError {
  return e instanceof CreditError || (typeof e === 'object' && e !== null && typeof (e as { code?: unknown }).code === 'string' && String((e as { code: string }).code).startsWith('ERR_') && e instanceof Error);
}

/** Codes of protocol/: identifiers, catalog, canonical JSON, envelopes. */
export const PROTOCOL_ERRORS = {
  ERR_INVALID_USCC: 'not a valid Unified Social Credit Code (GB 32100-2015)',
  ERR_INVALID_RESIDENT_ID: 'not a valid resident identity number (GB 11643)',
  ERR_INVALID_NODE_ID: 'node id must be a 6-digit administrative division code (GB/T 2260)',
  ERR_UNKNOWN_IDENTIFIER: 'not an identifier this system knows (an 18-character USCC or resident ID)',
  ERR_UNKNOWN_RECORD_TYPE: 'no such record type in the credit catalog',
  ERR_CATALOG_VERSION: 'record names a catalog version this implementation does not read (supported: 2026.1, 2027.1)',
  ERR_RECORD_INVALID: 'credit record does not match its catalog type',
  ERR_FIELD_REQUIRED: 'a required field is missing or empty',
  ERR_FIELD_UNKNOWN: 'field is not part of this record type',
  ERR_FIELD_TYPE: 'field value has the wrong type',
  ERR_FIELD_ENUM: 'field value is not one of the allowed values',
  ERR_FIELD_TOO_LONG: 'field value is longer than allowed',
  ERR_FIELD_RANGE: 'number is outside the allowed range',
  ERR_INVALID_DATE: 'not a real calendar date written YYYY-MM-DD',
  ERR_DATE_RANGE: 'an end date lies before its start date',
  ERR_CLASSIFICATION_LOWERED: "a record's class may be raised but never set below its type's default",
  ERR_DISCLOSURE_PERIOD: 'disclosure period is outside the bounds for the severity (Order No. 36 of 2025)',
  ERR_DECISION_DATE_FUTURE: 'the decision date lies after today: a decision not yet made cannot be recorded',
  ERR_CANONICAL_JSON: 'value cannot be written as canonical JSON (RFC 8785)',
  ERR_CERT_UNTRUSTED: 'certificate does not chain to a trusted CA',
  ERR_CERT_EXPIRED: 'certificate is expired or not yet valid',
  ERR_CERT_REVOKED: 'certificate has been revoked',
  ERR_CRL_STALE: "the CRL the check relies on is past its nextUpdate: nothing is trusted until a current one is fetched",
  ERR_KEY_UNREADABLE: 'private key or certificate PEM cannot be read',
  ERR_KEY_WEAK: 'key is weaker than the protocol allows (RSA below 2048 bits)',
  ERR_ENVELOPE_MALFORMED: 'envelope does not match the envelope schema',
  ERR_ENVELOPE_TOO_LARGE: 'envelope is larger than the receiver accepts',
  ERR_PROTOCOL_VERSION: 'protocol major version not spoken here',
  ERR_UNKNOWN_SUITE: 'cipher suite unknown, not usable, or not shared',
  ERR_SUITE_REFUSED: "cipher suite is registered and usable but this side's suite policy refuses it (e.g. suites: [\"SM\"] for 密评)",
  ERR_SUITE_KEY_MISMATCH: 'the keys do not fit the cipher suite (e.g. an EC key with an RSA suite)',
  ERR_SIGNATURE_INVALID: 'envelope signature does not verify with the certificate it carries',
  ERR_DECRYPT_FAILED: 'envelope payload cannot be decrypted with this key',
  ERR_WRONG_RECIPIENT: 'envelope is addressed to another node',
  ERR_SENDER_MISMATCH: "signer certificate's node id differs from the envelope's sender",
  ERR_CLASSIFICATION_DENIED: "the caller's clearance, or the receiving node's protection grade, is below the record's class",
  ERR_REPLAY: 'envelope id has been seen before',
  ERR_OUT_OF_ORDER: "envelope seq is not above the sender's last accepted seq",
  ERR_SEQUENCE_GAP: "envelope seq skips ahead of the sender's next expected seq",
  ERR_FEED_DIVERGED: "the distribution feed row at the node's cursor is not the one the hub marked when it served it (the hub's store went back in time)",
  ERR_STALE_TIMESTAMP: 'envelope timestamp is outside the accepted time window',
  ERR_CATALOG_INVALID: 'province catalog document is malformed or describes a type the catalog cannot hold',
  ERR_CATALOG_TOO_LARGE: 'province catalog document is larger than allowed',
  ERR_CATALOG_TYPE_REDEFINED: 'a province catalog may add record types, never redefine a national one',
  ERR_CATALOG_SIGNATURE: 'province catalog signature does not verify, or is not made by the hub',
  ERR_CATALOG_SERIAL_REPLAY: 'province catalog serial is not above the one held (an older or equivocating document)',
  ERR_CATALOG_VERSION_UNKNOWN: 'record needs a province catalog serial this side does not hold',
  ERR_REPORT_MALFORMED: 'not a credit report: unreadable, not canonical JSON, no signature trailer, or bytes after it',
  ERR_REPORT_SIGNATURE: "the credit report's signature does not verify, or is not made by its issuing node",
  ERR_REPORT_PDF_MISMATCH: 'the PDF bytes of the credit report are not the ones its issuing node signed',
  ERR_CALENDAR_YEAR_MISSING: 'the working-day calendar holds no entry for that year (protocol/working-day-data.ts)',
} as const;

export type ProtocolErrorCode = keyof typeof PROTOCOL_ERRORS;
export const protocolError = errorFactory(PROTOCOL_ERRORS);
