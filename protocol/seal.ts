/**
 * seal(): encrypt, then sign. The payload (any JSON, canonicalised) is encrypted to the
 * recipient's certificate key as a JWE whose protected header binds the envelope's id, type, from
 * and to; the sender then signs canonical `{ header, digest }` (digest = SHA-256 of the JWE compact
 * serialisation) as a detached JWS. The sender's certificate travels in the header as `x5c`.
 */
import { canonicalize } from './canonical-json.js';
import { certFromPem, jweEncrypt, jwsSignDetached, keyKind, keyMatchesCert, keyStrongEnough, MIN_RSA_BITS, privateKeyFromPem, uuidv7 } from './crypto.js';
import { assertHeader, encBinding, ENVELOPE_HEADER_SCHEMA, signingInput, type Envelope, type EnvelopeHeader, type EnvelopeType } from './envelope.js';
import { protocolError } from './errors.js';
import { assertSuiteAllowed, getSuite, suiteForKeyType, type Suite } from './suites.js';
import { checkVersion, PROTOCOL_VERSION } from './version.js';

export interface SealInput {
  type: EnvelopeType;
  /** Sender node id; must equal the CN of `sender.certPem`. */
  from: string;
  /** Recipient node id; must equal the CN of `recipientCertPem`. */
  to: string;
  /** Per-sender sequence number (positive integer, +1 per envelope). */
  seq: number;
  /** Creation time; default now. */
  ts?: Date | string;
  /** Envelope id (UUIDv7); default a fresh one. Re-use it only when re-sealing the same message. */
  id?: string;
  payload: unknown;
  /** Suite name; default the first usable suite for the keys' type (RSA → CF1-RSA-OAEP-256-A256GCM-PS256). */
  suite?: string;
  sender: { keyPem: string; certPem: string };
  recipientCertPem: string;
  /** Suite policy (e.g. ["SM"]): sealing with any other suite is ERR_SUITE_REFUSED. */
  suites?: readonly string[];
  /** Version to write; default PROTOCOL_VERSION. Its major must be spoken here. */
  v?: string;
  /** Additional header fields (from a later minor version); signed like the rest. */
  extra?: Record<string, unknown>;
}

function pickSuite(input: SealInput, senderKind: string, recipientKind: string): Suite {
  if (input.suite !== undefined) return getSuite(input.suite);
  const s = senderKind === recipientKind ? suiteForKeyType(senderKind) : undefined;
  if (!s) throw protocolError('ERR_SUITE_KEY_MISMATCH', `no usable suite for a ${senderKind} sender key and a ${recipientKind} recipient key`);
  return s;
}

function isoOrInvalid(d: Date): string {
  return Number.isNaN(d.getTime()) ? 'Invalid Date' : d.toISOString();
}

export async function seal(input: SealInput): Promise<Envelope> {
  const senderKey = privateKeyFromPem(input.sender.keyPem);
  const senderCert = certFromPem(input.sender.certPem);
  const recipientCert = certFromPem(input.recipientCertPem);
  const suite = pickSuite(input, keyKind(senderKey), recipientCert.keyKind);
  assertSuiteAllowed(suite.name, input.suites);
  if (keyKind(senderKey) !== suite.keyType || recipientCert.keyKind !== suite.keyType) {
    throw protocolError('ERR_SUITE_KEY_MISMATCH', `suite ${suite.name} needs ${suite.keyType} keys; sender has ${keyKind(senderKey)}, recipient ${recipientCert.keyKind}`);
  }
  if (!keyStrongEnough(recipientCert.publicKey)) {
    const bits = recipientCert.publicKey.asymmetricKeyDetails?.modulusLength;
    throw protocolError('ERR_KEY_WEAK', `recipient ${String(recipientCert.cn)} has a ${String(bits)}-bit RSA key; at least ${MIN_RSA_BITS} bits are needed to encrypt to it`, { cn: recipientCert.cn, bits });
  }
  if (!keyMatchesCert(input.sender.keyPem, senderCert)) {
    throw protocolError('ERR_SUITE_KEY_MISMATCH', "the sender's private key does not belong to its certificate");
  }
  if (senderCert.cn !== input.from) {
    throw protocolError('ERR_SENDER_MISMATCH', `sender certificate is for ${String(senderCert.cn)}, envelope says from ${input.from}`, { cn: senderCert.cn, from: input.from });
  }
  if (recipientCert.cn !== input.to) {
    throw protocolError('ERR_WRONG_RECIPIENT', `recipient certificate is for ${String(recipientCert.cn)}, envelope says to ${input.to}`, { cn: recipientCert.cn, to: input.to });
  }
  const v = input.v ?? PROTOCOL_VERSION;
  checkVersion(v);
  for (const k of Object.keys(input.extra ?? {})) {
    if (Object.hasOwn(ENVELOPE_HEADER_SCHEMA.properties, k) || k === 'enc' || k === 'sig') {
      throw protocolError('ERR_ENVELOPE_MALFORMED', `extra header field "${k}" would shadow a standard field`, [{ field: k, message: 'is reserved' }]);
    }
  }
  const ts = input.ts === undefined ? new Date().toISOString() : input.ts instanceof Date ? isoOrInvalid(input.ts) : input.ts;
  const header = assertHeader({
    ...input.extra,
    v,
    suite: suite.name,
    type: input.type,
    from: input.from,
    to: input.to,
    id: input.id ?? uuidv7(),
    seq: input.seq,
    ts,
    x5c: [senderCert.derB64],
  } satisfies EnvelopeHeader);
  const plaintext = Buffer.from(canonicalize(input.payload), 'utf8');
  const enc = jweEncrypt(plaintext, recipientCert.publicKey, { alg: suite.jweAlg, enc: suite.jweEnc, cty: 'json', cf: encBinding(header) });
  const sig = await jwsSignDetached(signingInput(header, enc, suite.digest), senderKey, { alg: suite.jwsAlg });
  return { ...header, enc, sig };
}
