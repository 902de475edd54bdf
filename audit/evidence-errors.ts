import { errorFactory } from '../protocol/errors.js';

/** Codes of the signed exchange log and the evidence package (audit/evidence-*.ts, docs/exchange-log.md). */
export const EVIDENCE_ERRORS = {
  ERR_EXCHANGE_LOG_MALFORMED: 'the exchange log is not a valid NDJSON export (a bad line, a missing head or end line, or a count that does not match)',
  ERR_EXCHANGE_SIGNATURE: "an envelope's signature does not verify over its header and digest with the certificate in its x5c",
  ERR_EXCHANGE_UNTRUSTED_SIGNER: "an envelope's signer certificate does not chain to the given CA, was not valid at the envelope's time, or is not the sender's",
  ERR_EXCHANGE_REVOKED_SIGNER: "an envelope was signed (or recorded) at or after its signer certificate's revocation time in the given CRL",
  ERR_EXCHANGE_UNPAIRED: 'a batch (or query) has no answer in the log, or an answer names an envelope id or digest the log does not hold',
  ERR_EVIDENCE_NOT_FOUND: 'this store holds no evidence of that envelope id',
  ERR_EVIDENCE_MALFORMED: 'the evidence package is not the canonical JSON the exporter wrote (a changed, added or removed byte, or a missing part)',
  ERR_EVIDENCE_SIGNATURE: "a half of the evidence package is not signed by its side's trusted certificate (or that certificate was revoked, in a CRL of the package, by the time the half was made)",
  ERR_EVIDENCE_BACKDATED: "a half's producedAt is before something it contains (a checkpoint, an exchange record, a witness cosignature) or before its CRL's thisUpdate: it was made later than it says",
  ERR_EVIDENCE_REVOCATION_UNCHECKED: 'a half carries no CRL: its signer and the envelopes it holds were not checked for revocation when it was made',
  ERR_EVIDENCE_INCOMPLETE: "the evidence package lacks the other side's half, an audit entry naming the envelope and its digest, or a cosigned checkpoint",
} as const;

export type EvidenceErrorCode = keyof typeof EVIDENCE_ERRORS;
export const evidenceError = errorFactory(EVIDENCE_ERRORS);
