/**
 * Opening an envelope a node sent: read → verify (signature, CA chain, signer = `from`) →
 * recipient (430000) → decrypt, through protocol's open() with its freshness checks off (the hub
 * does replay/order/time itself inside its database transaction). Then: the signer must be the
 * TLS peer (ERR_SENDER_MISMATCH), a signer certificate other than the TLS one must be active in
 * the register, and the envelope type must fit the route (ERR_ENVELOPE_TYPE).
 */
import { HUB_NODE_ID } from '../certs/issue.js';
import { hasLoneSurrogate, iJsonProblem } from '../protocol/canonical-json.js';
import { open } from '../protocol/open.js';
import type { Suite } from '../protocol/suites.js';
import { protocolError } from '../protocol/errors.js';
import type { Envelope, EnvelopeHeader, EnvelopeType } from '../protocol/envelope.js';
import { checkSchema, type FieldProblem, type JsonSchema } from '../protocol/schema-check.js';
import type { Peer } from './client-check.js';
import type { HubDeps } from './context.js';
import { hubError } from './errors.js';
import { hubIdentityFor } from './answer-keys.js';
import { nodesStore } from './nodes-store.js';

export interface Incoming<P> {
  header: EnvelopeHeader;
  /** SHA-256 (SM3 for the SM suite) of the JWE (base64url): what the signature covers besides the header. */
  digest: string;
  /** The detached JWS (kept as evidence: hub/evidence-log.ts). */
  sig: Envelope['sig'];
  payload: P;
  /** Payload fields that do not match the type's schema (empty when it matches). */
  problems: FieldProblem[];
}

export async function openFrom<P>(deps: HubDeps, peer: Peer, raw: string, o: { type: EnvelopeType; schema: JsonSchema }): Promise<Incoming<P>> {
  const opened = await open<P>(raw, {
    trust: deps.trust,
    now: deps.clock(),
    // the envelope is encrypted to the hub's certificate of the suite's key type: SM2, EC P-256 or RSA
    recipient: { nodeId: HUB_NODE_ID, keyPem: (suite) => recipientKey(deps, suite) },
    freshness: false,
    maxBytes: deps.config.maxEnvelopeBytes,
    ...(deps.config.suites === undefined ? {} : { suites: deps.config.suites }),
  });
  const { header, signer } = opened;
  if (signer.nodeId !== peer.nodeId) {
    throw protocolError('ERR_SENDER_MISMATCH', `envelope is signed by ${signer.nodeId} but arrived over the TLS connection of ${peer.nodeId}`, { signer: signer.nodeId, peer: peer.nodeId });
  }
  if (signer.serial !== peer.serial) {
    const rec = await nodesStore.peer(deps.db, signer.serial, deps.clock());
    if (!rec) throw hubError('ERR_NODE_UNKNOWN', `envelope signer certificate ${signer.serial} is not in this hub's register`, { serial: signer.serial });
    if (rec.certStatus === 'revoked') throw protocolError('ERR_CERT_REVOKED', `envelope signer certificate ${signer.serial} has been revoked`, { serial: signer.serial });
  }
  if (header.type !== o.type) throw hubError('ERR_ENVELOPE_TYPE', `this route takes '${o.type}' envelopes, not '${header.type}'`, { expected: o.type, got: header.type });
  // What the hub keeps it must be able to seal again (receipts, distributions, answers): I-JSON only.
  const notIJson = payloadIJsonProblem(opened.payload);
  const problems = notIJson !== null
    ? [{ field: 'payload', message: `is not I-JSON: ${notIJson}` }]
    : checkSchema(o.schema, opened.payload).map((p) => ({ field: p.field === '$' ? 'payload' : `payload.${p.field}`, message: p.message }));
  return { header, digest: opened.digest, sig: opened.sig, payload: opened.payload, problems };
}

/** The hub key for the key type of the suite the envelope names (open() has read and verified it by then). */
function recipientKey(deps: HubDeps, suite: Suite): string {
  if (suite.keyType === 'sm2' && deps.identity.sm2) return deps.identity.sm2.keyPem;
  return hubIdentityFor(deps.identity, suite.keyType).keyPem;
}

/** Any UTF-16 surrogate: a string without one cannot hold a lone one. */
const SURROGATE = /[\ud800-\udfff]/;
/** Deeper than this the quick walk hands over to iJsonProblem (whose own limit is higher). */
const QUICK_DEPTH = 64;

/** True when iJsonProblem would find nothing — decided without allocating (a 1,000-record batch is walked in a fraction of the time). False also when unsure. */
function quickIJson(v: unknown, depth: number): boolean {
  if (depth > QUICK_DEPTH) return false;
  switch (typeof v) {
    case 'string':
      return !SURROGATE.test(v) || !hasLoneSurrogate(v);
    case 'number':
      return Number.isFinite(v);
    case 'object': {
      if (v === null) return true;
      if (Array.isArray(v)) {
        for (let i = 0; i < v.length; i++) if (!quickIJson(v[i], depth + 1)) return false;
        return true;
      }
      const obj = v as Record<string, unknown>;
      for (const k in obj) {
        if (!Object.hasOwn(obj, k)) continue;
        if (SURROGATE.test(k) && hasLoneSurrogate(k)) return false;
        if (!quickIJson(obj[k], depth + 1)) return false;
      }
      return true;
    }
    default:
      return true;
  }
}

/** iJsonProblem(payload), the same answer, with a quick allocation-free walk for the usual case (nothing wrong). */
export function payloadIJsonProblem(payload: unknown): string | null {
  return quickIJson(payload, 0) ? null : iJsonProblem(payload);
}

/** ERR_ENVELOPE_MALFORMED listing every payload problem. */
export function malformedPayload(type: string, problems: FieldProblem[]) {
  return protocolError('ERR_ENVELOPE_MALFORMED', `${type} payload: ${problems.slice(0, 20).map((p) => `${p.field} ${p.message}`).join('; ')}`, problems);
}
