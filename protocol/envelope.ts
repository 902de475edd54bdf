/**
 * The v1 envelope: types, JSON Schemas, the assert step (every bad field in one
 * ERR_ENVELOPE_MALFORMED) and the exact bytes the signature covers. See docs/protocol.md.
 *
 *   { v, suite, type, from, to, id, seq, ts, x5c, …extra header fields,  ← the header (signed)
 *     enc: { protected, encrypted_key, iv, ciphertext, tag },             ← flattened JWE of the payload
 *     sig: { protected, signature } }                                     ← JWS over {header, digest}, payload detached
 */
import { canonicalize, hasLoneSurrogate, iJsonProblem } from './canonical-json.js';
import { b64url, sha256Joined, type DetachedJws, type FlattenedJwe } from './crypto.js';
import { protocolError } from './errors.js';
import { checkSchema, type FieldProblem, type JsonSchema } from './schema-check.js';
import { describeSuite } from './suites.js';

export type { DetachedJws, FlattenedJwe, FieldProblem, JsonSchema };

/** Registered message types. Add new ones here (and to docs/protocol.md) in a new minor version. */
export const ENVELOPE_TYPES = ['batch', 'receipt', 'distribution', 'query', 'query-answer', 'checkpoint', 'notice', 'notice-receipt', 'notice-feed', 'seq-refusal'] as const;
export type EnvelopeType = (typeof ENVELOPE_TYPES)[number];

export interface EnvelopeHeader {
  /** Protocol version, MAJOR.MINOR. */
  v: string;
  suite: string;
  type: EnvelopeType;
  /** Sender node id (6 digits; the hub is 430000). */
  from: string;
  /** Recipient node id. */
  to: string;
  /** UUIDv7, unique per envelope: the idempotency key. */
  id: string;
  /** Per-sender sequence number, from 1, +1 per envelope. */
  seq: number;
  /** Creation time, ISO-8601 UTC with milliseconds. */
  ts: string;
  /** Sender's certificate chain, leaf first, base64 DER (as JOSE x5c). */
  x5c: string[];
  /** Header fields of a later minor version: ignored, but covered by the signature. */
  [extra: string]: unknown;
}

export interface Envelope extends EnvelopeHeader {
  enc: FlattenedJwe;
  sig: DetachedJws;
}

export const NODE_ID_PATTERN = '^[0-9]{6}$';
export const UUID_V7_PATTERN = '^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$';
export const TS_PATTERN = '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}Z$';
const B64URL_PATTERN = '^[A-Za-z0-9_-]*$';
const B64_PATTERN = '^[A-Za-z0-9+/]+={0,2}$';
const MAX_PART = 64 * 1024 * 1024;

const b64urlField = (min: number, max = 16384): JsonSchema => ({ type: 'string', pattern: B64URL_PATTERN, minLength: min, maxLength: max });

export const ENVELOPE_HEADER_SCHEMA = Object.freeze({
  $schema: 'https://json-schema.org/draft/2020-12/schema',
  $id: 'urn:credit-federation:envelope-header:1',
  title: 'Envelope header (protocol v1)',
  type: 'object',
  required: ['v', 'suite', 'type', 'from', 'to', 'id', 'seq', 'ts', 'x5c'],
  properties: {
    v: { type: 'string', pattern: '^(0|[1-9][0-9]{0,3})\\.(0|[1-9][0-9]{0,3})$', description: 'MAJOR.MINOR' },
    suite: { type: 'string', minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9+._-]+$' },
    type: { type: 'string', enum: ENVELOPE_TYPES },
    from: { type: 'string', pattern: NODE_ID_PATTERN },
    to: { type: 'string', pattern: NODE_ID_PATTERN },
    id: { type: 'string', pattern: UUID_V7_PATTERN, description: 'UUIDv7, lower case' },
    seq: { type: 'integer', minimum: 1, maximum: Number.MAX_SAFE_INTEGER },
    ts: { type: 'string', pattern: TS_PATTERN, description: 'ISO-8601 UTC, milliseconds' },
    x5c: { type: 'array', minItems: 1, maxItems: 4, items: { type: 'string', pattern: B64_PATTERN, maxLength: 16384 } },
  },
} satisfies JsonSchema);

export const ENVELOPE_SCHEMA = Object.freeze({
  $schema: 'https://json-schema.org/draft/2020-12/schema',
  $id: 'urn:credit-federation:envelope:1',
  title: 'Envelope (protocol v1)',
  type: 'object',
  required: [...ENVELOPE_HEADER_SCHEMA.required, 'enc', 'sig'],
  properties: {
    ...ENVELOPE_HEADER_SCHEMA.properties,
    enc: {
      type: 'object',
      description: 'JWE flattened JSON serialisation (RFC 7516 §7.2.2) without unprotected header or aad',
      required: ['protected', 'encrypted_key', 'iv', 'ciphertext', 'tag'],
      additionalProperties: false,
      properties: { protected: b64urlField(2), encrypted_key: b64urlField(2), iv: b64urlField(16, 16), ciphertext: b64urlField(0, MAX_PART), tag: b64urlField(22, 22) },
    },
    sig: {
      type: 'object',
      description: 'JWS flattened JSON serialisation with detached payload (RFC 7515 Appendix F)',
      required: ['protected', 'signature'],
      additionalProperties: false,
      properties: { protected: b64urlField(2), signature: b64urlField(2) },
    },
  },
} satisfies JsonSchema);

/** Fields that are part of the envelope but not of the signed header. */
const BODY_FIELDS = new Set(['enc', 'sig']);

function isRealUtcMillis(ts: string): boolean {
  const d = new Date(ts);
  return !Number.isNaN(d.getTime()) && d.toISOString() === ts;
}

/**
 * base64url as JOSE writes it: no padding, length ≢ 1 (mod 4), and unused trailing bits zero, so
 * that every byte string has exactly one spelling (a changed last character can not decode to the
 * same bytes).
 */
export function isCanonicalBase64url(s: string): boolean {
  const r = s.length % 4;
  if (r === 1) return false;
  if (r === 0) return true;
  const last = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'.indexOf(s[s.length - 1]!);
  return r === 2 ? (last & 0x0f) === 0 : (last & 0x03) === 0;
}

function semanticProblems(value: Record<string, unknown>, out: FieldProblem[], withBody: boolean): FieldProblem[] {
  if (typeof value.ts === 'string' && new RegExp(TS_PATTERN).test(value.ts) && !isRealUtcMillis(value.ts)) {
    out.push({ field: 'ts', message: 'is not a real instant' });
  }
  // Header fields of a later minor are signed as canonical JSON, so they must be I-JSON.
  for (const [k, v] of Object.entries(value)) {
    if (Object.hasOwn(ENVELOPE_SCHEMA.properties, k)) continue;
    const p = hasLoneSurrogate(k) ? 'has a name with a lone UTF-16 surrogate' : iJsonProblem(v);
    if (p !== null) out.push({ field: JSON.stringify(k).slice(1, -1), message: `cannot be signed as canonical JSON: ${p}` });
  }
  if (!withBody) return out;
  for (const part of ['enc', 'sig'] as const) {
    const obj = value[part];
    if (typeof obj !== 'object' || obj === null) continue;
    for (const [k, v] of Object.entries(obj)) {
      const field = `${part}.${k}`;
      if (typeof v === 'string' && !out.some((p) => p.field === field) && !isCanonicalBase64url(v)) {
        out.push({ field, message: 'is not canonical base64url (length or trailing bits)' });
      }
    }
  }
  return out;
}

function malformed(problems: FieldProblem[], what: string): never {
  const list = problems.map((p) => `${p.field} ${p.message}`).join('; ');
  throw protocolError('ERR_ENVELOPE_MALFORMED', `${what}: ${list}`, problems);
}

/**
 * Checks a parsed envelope against ENVELOPE_SCHEMA (+ real timestamp, canonical base64url).
 * `textProblems`: what the reader found in the envelope's text (strict-json.ts), reported with the rest.
 */
export function assertEnvelope(value: unknown, textProblems: readonly FieldProblem[] = []): Envelope {
  const problems = checkSchema(ENVELOPE_SCHEMA, value);
  problems.push(...textProblems);
  if (typeof value === 'object' && value !== null) semanticProblems(value as Record<string, unknown>, problems, true);
  if (problems.length > 0) malformed(problems, 'malformed envelope');
  return value as Envelope;
}

/** Checks a header (what seal() is about to sign) against ENVELOPE_HEADER_SCHEMA. */
export function assertHeader(value: unknown): EnvelopeHeader {
  const problems = checkSchema(ENVELOPE_HEADER_SCHEMA, value);
  if (typeof value === 'object' && value !== null) semanticProblems(value as Record<string, unknown>, problems, false);
  if (problems.length > 0) malformed(problems, 'malformed envelope header');
  return value as EnvelopeHeader;
}

/** The signed header of an envelope: every member except `enc` and `sig`, unknown ones included. */
export function headerOf(env: Envelope): EnvelopeHeader {
  // fromEntries defines own properties, so even a member named "__proto__" stays a (signed) field.
  return Object.fromEntries(Object.entries(env).filter(([k]) => !BODY_FIELDS.has(k))) as EnvelopeHeader;
}

export type DigestAlg = 'sha256' | 'sm3';

/**
 * The digest of the suite named `suiteName` (SM3 for CF1-SM2-SM4GCM-SM3, SHA-256 for the others).
 * It comes from the suite registry, never from the JWE's text: an SM envelope is digested with SM3
 * however its protected header is spelled. A name not registered gets SHA-256; open() refuses such
 * an envelope (ERR_UNKNOWN_SUITE) before it computes anything.
 */
export function suiteDigest(suiteName: string): DigestAlg {
  return describeSuite(suiteName)?.digest ?? 'sha256';
}

/** The suite's digest (SHA-256, SM3 for the SM suite) of the JWE compact serialisation (protected.encrypted_key.iv.ciphertext.tag), base64url. */
export function ciphertextDigest(enc: FlattenedJwe, digest: DigestAlg): string {
  return b64url(sha256Joined([enc.protected, enc.encrypted_key, enc.iv, enc.ciphertext, enc.tag], '.', digest));
}

/** ciphertextDigest with the digest of the suite the envelope's (signed) header names. */
export function envelopeDigest(env: Pick<Envelope, 'suite' | 'enc'>): string {
  return ciphertextDigest(env.enc, suiteDigest(env.suite));
}

/**
 * The exact bytes the JWS signs: canonical JSON (RFC 8785) of `{ header, digest }`, UTF-8. `digest`:
 * the suite's digest algorithm (seal() and open() pass the suite's; by default the one of the suite
 * the header names).
 */
export function signingInput(header: EnvelopeHeader, enc: FlattenedJwe, digest: DigestAlg = suiteDigest(header.suite)): Buffer {
  return Buffer.from(canonicalize({ header, digest: ciphertextDigest(enc, digest) }), 'utf8');
}

/** What the JWE protected header repeats from the envelope header, so a ciphertext cannot be re-sent under another envelope. */
export function encBinding(h: Pick<EnvelopeHeader, 'id' | 'type' | 'from' | 'to'>): { id: string; type: string; from: string; to: string } {
  return { id: h.id, type: h.type, from: h.from, to: h.to };
}
