/**
 * Receiving side, in layers: read (size, JSON, version, schema, suite) → verify (signature over
 * header + ciphertext digest, ciphertext binding, signer certificate via the trust policy, signer
 * = `from`) → [open only] recipient, freshness, decrypt. verifyEnvelope() stops before the
 * recipient check, so auditors and the hub's relay can check who sent what, when, without the key.
 */
import { certFromDerB64, jweDecrypt, jwsVerifyDetached, keyKind, privateKeyFromPem } from './crypto.js';
import { assertEnvelope, ciphertextDigest, encBinding, ENVELOPE_SCHEMA, headerOf, signingInput, type Envelope, type EnvelopeHeader } from './envelope.js';
import { CreditError, isCreditError, protocolError } from './errors.js';
import { checkFreshness, checkTimestamp, type FreshnessState } from './freshness.js';
import { PAYLOAD_SCHEMAS } from './exchange.js';
import { jsonTextProblems, scanJsonText, type JsonTextFindings } from './strict-json.js';
import { assertSuiteAllowed, getSuite, type Suite } from './suites.js';
import type { SignerIdentity, TrustPolicy } from './trust.js';
import { checkVersion, SUPPORTED_VERSIONS } from './version.js';

/** Largest envelope accepted unless the caller says otherwise (a 1,000-record batch is ≈ 0.5 MB). */
export const DEFAULT_MAX_ENVELOPE_BYTES = 16 * 1024 * 1024;

export interface ReadOptions {
  maxBytes?: number;
  /** Suite policy (family or suite names, e.g. ["SM"]): any other suite is ERR_SUITE_REFUSED before any crypto. */
  suites?: readonly string[];
  supportedVersions?: readonly string[];
}

export interface VerifyOptions extends ReadOptions {
  trust: TrustPolicy;
  /** Instant at which the signer certificate must be valid; default now. Auditors re-checking old envelopes pass `new Date(header.ts)`. */
  now?: Date;
}

export interface Verified {
  header: EnvelopeHeader;
  signer: SignerIdentity;
  /** SHA-256 (SM3 for the SM suite) of the JWE compact serialisation, base64url: what the signature covers besides the header. */
  digest: string;
  suite: Suite;
  /** The detached JWS as received (kept as evidence in the signed exchange log). */
  sig: Envelope['sig'];
}

export interface FreshnessOptions {
  windowMs?: number;
  allowGaps?: boolean;
  /** The sender's replay/sequence state; without it only the time window is checked. */
  state?: FreshnessState | ((from: string) => FreshnessState | Promise<FreshnessState>);
}

export interface OpenOptions extends VerifyOptions {
  /**
   * Who opens it: the node id the header must name, and the private key — or, for a holder of
   * several keys (the hub: RSA, EC P-256, SM2), the key for the suite the envelope names, chosen
   * after the envelope has been read and verified (no second parse of its text).
   */
  recipient: { nodeId: string; keyPem: string | ((suite: Suite) => string) };
  /** Replay/order/time checks; default: time window only (±5 min). `false` turns them off. */
  freshness?: FreshnessOptions | false;
}

export interface Opened<P = unknown> extends Verified {
  payload: P;
  /** The sender's next freshness state, when `freshness.state` was given. */
  freshness?: FreshnessState;
}

function byteLength(raw: string | Uint8Array): number {
  return typeof raw === 'string' ? Buffer.byteLength(raw, 'utf8') : raw.byteLength;
}

function tooLarge(bytes: number, maxBytes: number): never {
  throw protocolError('ERR_ENVELOPE_TOO_LARGE', `envelope is ${bytes} bytes, more than the ${maxBytes} accepted`, { bytes, maxBytes });
}

/** Duplicate member names anywhere in `found` (I-JSON): refused before anything else is read. */
function refuseDuplicates(found: JsonTextFindings, prefix: string, what: string): void {
  if (found.duplicates.length === 0) return;
  const problems = jsonTextProblems({ duplicates: found.duplicates, integerSpellings: [] }, prefix);
  throw protocolError('ERR_ENVELOPE_MALFORMED', `${what}: ${problems.map((p) => `${p.field} ${p.message}`).join('; ')}`, problems);
}

/**
 * The envelope as a value, and what its text says that the value no longer does (duplicate names,
 * integer spellings); an envelope given as a parsed object has no text, so nothing is found.
 */
function parse(raw: unknown, maxBytes: number): { value: unknown; found?: JsonTextFindings } {
  if (typeof raw === 'string' || raw instanceof Uint8Array) {
    const bytes = byteLength(raw);
    if (bytes > maxBytes) tooLarge(bytes, maxBytes);
    const text = typeof raw === 'string' ? raw : Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).toString('utf8');
    let value: unknown;
    try {
      value = JSON.parse(text) as unknown;
    } catch (e) {
      throw protocolError('ERR_ENVELOPE_MALFORMED', `envelope is not JSON: ${(e as Error).message}`, [{ field: '$', message: 'is not JSON' }]);
    }
    const found = scanJsonText(text, ENVELOPE_SCHEMA);
    refuseDuplicates(found, '', 'envelope is not I-JSON');
    return { value, found };
  }
  let text: string | undefined;
  try {
    text = JSON.stringify(raw);
  } catch {
    text = undefined;
  }
  if (text === undefined) throw protocolError('ERR_ENVELOPE_MALFORMED', 'envelope is not a JSON value', [{ field: '$', message: 'is not JSON' }]);
  const bytes = Buffer.byteLength(text);
  if (bytes > maxBytes) tooLarge(bytes, maxBytes);
  return { value: raw };
}

/**
 * Size limit → JSON, I-JSON (no duplicate member names) → version (unknown major:
 * ERR_PROTOCOL_VERSION) → schema (all bad fields, integers written as integers) → suite (usable, and
 * admitted by the policy: ERR_SUITE_REFUSED). No crypto.
 */
export function readEnvelope(raw: unknown, opts: ReadOptions = {}): { envelope: Envelope; suite: Suite } {
  const { value, found } = parse(raw, opts.maxBytes ?? DEFAULT_MAX_ENVELOPE_BYTES);
  if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
    checkVersion((value as { v?: unknown }).v, opts.supportedVersions ?? SUPPORTED_VERSIONS);
  }
  const envelope = assertEnvelope(value, found === undefined ? [] : jsonTextProblems(found));
  const suite = getSuite(envelope.suite);
  assertSuiteAllowed(suite.name, opts.suites);
  return { envelope, suite };
}

function malformedBinding(message: string): never {
  throw protocolError('ERR_ENVELOPE_MALFORMED', `enc.protected ${message}`, [{ field: 'enc.protected', message }]);
}

/** The JWE protected header must name the suite's algorithms and repeat id/type/from/to of the signed header. */
function checkBinding(env: Envelope, suite: Suite): void {
  let ph: { alg?: unknown; enc?: unknown; cf?: Record<string, unknown> };
  try {
    ph = JSON.parse(Buffer.from(env.enc.protected, 'base64url').toString('utf8')) as typeof ph;
  } catch {
    return malformedBinding('is not base64url JSON');
  }
  if (typeof ph !== 'object' || ph === null) return malformedBinding('is not a JSON object');
  if (ph.alg !== suite.jweAlg || ph.enc !== suite.jweEnc) return malformedBinding(`names ${String(ph.alg)}/${String(ph.enc)}, suite needs ${suite.jweAlg}/${suite.jweEnc}`);
  const want = encBinding(env);
  const got = ph.cf ?? {};
  for (const [k, v] of Object.entries(want)) {
    if (got[k] !== v) return malformedBinding(`binds ${k}=${String(got[k])}, the envelope says ${v}`);
  }
}

async function verifyRead(envelope: Envelope, suite: Suite, opts: VerifyOptions): Promise<Verified> {
  const header = headerOf(envelope);
  let cert;
  try {
    cert = certFromDerB64(envelope.x5c[0]!);
  } catch {
    throw protocolError('ERR_SIGNATURE_INVALID', 'signer certificate (x5c[0]) cannot be read, so the signature cannot be verified');
  }
  if (cert.keyKind !== suite.keyType) {
    throw protocolError('ERR_SIGNATURE_INVALID', `signer key is ${cert.keyKind}, suite ${suite.name} signs with ${suite.keyType}`);
  }
  let input: Buffer;
  try {
    input = signingInput(header, envelope.enc, suite.digest);
  } catch (e) {
    // the signed text nests the header two levels deeper than the envelope: a member 255–256 deep
    // passes the envelope's own depth check but cannot be signed (found by the hostile-envelope fuzzer)
    if (isCreditError(e) && e.code === 'ERR_CANONICAL_JSON') throw protocolError('ERR_ENVELOPE_MALFORMED', `malformed envelope: header cannot be signed as canonical JSON: ${e.message}`, [{ field: 'header', message: e.message }]);
    throw e;
  }
  if (!(await jwsVerifyDetached(envelope.sig, input, cert.publicKey, suite.jwsAlg))) {
    throw protocolError('ERR_SIGNATURE_INVALID', `signature of envelope ${header.id} does not verify`, { id: header.id, from: header.from });
  }
  checkBinding(envelope, suite);
  const signer = opts.trust.verifySigner(cert.pem, opts.now ?? new Date());
  if (signer.nodeId !== header.from) {
    throw protocolError('ERR_SENDER_MISMATCH', `envelope says from ${header.from} but is signed by ${signer.nodeId}`, { from: header.from, signer: signer.nodeId });
  }
  return { header, signer, digest: ciphertextDigest(envelope.enc, suite.digest), suite, sig: envelope.sig };
}

/** Checks signature and signer without decrypting (auditors, the hub's relay). */
export async function verifyEnvelope(raw: unknown, opts: VerifyOptions): Promise<Verified> {
  const { envelope, suite } = readEnvelope(raw, opts);
  return verifyRead(envelope, suite, opts);
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** read → verify → recipient → freshness → decrypt. Returns the header, the payload and who signed it. */
export async function open<P = unknown>(raw: unknown, opts: OpenOptions): Promise<Opened<P>> {
  const { envelope, suite } = readEnvelope(raw, opts);
  const verified = await verifyRead(envelope, suite, opts);
  const { header } = verified;
  if (header.to !== opts.recipient.nodeId) {
    throw protocolError('ERR_WRONG_RECIPIENT', `envelope is addressed to ${header.to}, this is ${opts.recipient.nodeId}`, { to: header.to, recipient: opts.recipient.nodeId });
  }
  let next: FreshnessState | undefined;
  if (opts.freshness !== false) {
    const f = opts.freshness ?? {};
    const now = opts.now ?? new Date();
    if (f.state === undefined) checkTimestamp(header.ts, { now, windowMs: f.windowMs });
    else {
      const state = typeof f.state === 'function' ? await f.state(header.from) : f.state;
      next = checkFreshness(header, state, { now, windowMs: f.windowMs, allowGaps: f.allowGaps }).next;
    }
  }
  const keyPem = opts.recipient.keyPem;
  let chosen: string;
  try {
    chosen = typeof keyPem === 'function' ? keyPem(suite) : keyPem;
  } catch (e) {
    if (e instanceof CreditError) throw e;
    throw protocolError('ERR_KEY_UNREADABLE', `no private key for suite ${suite.name}: ${(e as Error).message}`);
  }
  const key = privateKeyFromPem(chosen);
  if (keyKind(key) !== suite.keyType) throw protocolError('ERR_DECRYPT_FAILED', `this node's key is ${keyKind(key)}, suite ${suite.name} encrypts to ${suite.keyType}`);
  let plaintext: Uint8Array;
  try {
    plaintext = jweDecrypt(envelope.enc, key, { alg: suite.jweAlg, enc: suite.jweEnc });
  } catch (e) {
    if (e instanceof CreditError) throw e;
    // One message for every cause (key unwrap, wrong lengths, GCM tag): the answer must not tell a
    // sender which step failed (no padding oracle).
    throw protocolError('ERR_DECRYPT_FAILED', `envelope ${header.id} cannot be decrypted with this key`, { id: header.id });
  }
  let payload: P;
  let text: string;
  try {
    text = utf8.decode(plaintext);
    payload = JSON.parse(text) as P;
  } catch {
    throw protocolError('ERR_ENVELOPE_MALFORMED', 'decrypted payload is not UTF-8 JSON', [{ field: 'payload', message: 'is not UTF-8 JSON' }]);
  }
  const found = scanJsonText(text, PAYLOAD_SCHEMAS[header.type]);
  refuseDuplicates(found, 'payload', `${header.type} payload is not I-JSON`);
  const spelled = jsonTextProblems(found, 'payload');
  if (spelled.length > 0) {
    throw protocolError('ERR_ENVELOPE_MALFORMED', `${header.type} payload: ${spelled.map((p) => `${p.field} ${p.message}`).join('; ')}`, spelled);
  }
  return next === undefined ? { ...verified, payload } : { ...verified, payload, freshness: next };
}
