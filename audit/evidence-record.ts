/**
 * The evidence of one envelope, as sender and receiver keep it (the signed exchange log): the
 * signed header (x5c, the signer's certificate, included), the digest of the JWE and the detached
 * JWS — no ciphertext, since the signature covers only canonical `{ header, digest }`
 * (protocol/envelope.ts signingInput). Generic over envelope types: a new type is kept as it is.
 * An answer (receipt, query-answer) names the envelope it answers in its signed header fields
 * `re` (id) and `reDigest` (digest), so the pairing is itself signed. Format: docs/exchange-log.md.
 */
import { canonicalize } from '../protocol/canonical-json.js';
import { envelopeDigest, headerOf, type DetachedJws, type Envelope, type EnvelopeHeader } from '../protocol/envelope.js';

export type EvidenceDirection = 'sent' | 'received';

export interface EnvelopeEvidence {
  /** sent: this store's side signed it; received: it came from the other side. */
  direction: EvidenceDirection;
  /** When this store kept it (its own clock), UTC ISO with milliseconds. */
  recordedAt: string;
  header: EnvelopeHeader;
  /** SHA-256 of the JWE compact serialisation, base64url (what the signature covers besides the header). */
  digest: string;
  sig: DetachedJws;
}

/** Evidence of a sealed or opened envelope. */
export function evidenceOf(env: Envelope, direction: EvidenceDirection, recordedAt: string): EnvelopeEvidence {
  return { direction, recordedAt, header: headerOf(env), digest: envelopeDigest(env), sig: { protected: env.sig.protected, signature: env.sig.signature } };
}

/** Evidence from what an envelope reader already has (the header, the digest it computed, the JWS). */
export function evidenceFrom(header: EnvelopeHeader, digest: string, sig: DetachedJws, direction: EvidenceDirection, recordedAt: string): EnvelopeEvidence {
  return { direction, recordedAt, header, digest, sig: { protected: sig.protected, signature: sig.signature } };
}

/** The bytes the envelope's JWS signs: canonical JSON of `{ header, digest }`, UTF-8 (as protocol/envelope.ts signingInput). */
export function evidenceSigningInput(e: Pick<EnvelopeEvidence, 'header' | 'digest'>): Buffer {
  return Buffer.from(canonicalize({ header: e.header, digest: e.digest }), 'utf8');
}

/** The answered envelope named by an answer's signed header, when it names one. */
export function answeredBy(h: EnvelopeHeader): { id: string; digest: string } | null {
  return typeof h.re === 'string' && typeof h.reDigest === 'string' ? { id: h.re, digest: h.reDigest } : null;
}

/** Header fields an answer carries to name what it answers (sealed with `extra`). */
export function answerFields(id: string, digest: string): { re: string; reDigest: string } {
  return { re: id, reDigest: digest };
}

/** Envelope types that must have an answer in the log, and the type of that answer. */
export const ANSWERED_TYPES: Readonly<Record<string, string>> = Object.freeze({ batch: 'receipt', query: 'query-answer' });

/**
 * Signed answers that refuse an envelope without being its answer (protocol 1.2): the hub's
 * `seq-refusal` of a batch attempt. Paired like an answer (it names the attempt); the batch is
 * still expected to get its receipt when it is sent again.
 */
export const REFUSAL_TYPES: Readonly<Record<string, string>> = Object.freeze({ 'seq-refusal': 'batch' });
