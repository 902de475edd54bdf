/**
 * The signed province catalog document (docs/catalog.md, "Province supplementary catalog"):
 *
 *   { "format": "credit-province-catalog/1", "body": CatalogBody,
 *     "signature": { "protected": B64URL, "signature": B64URL }, "certPem": PEM }
 *
 * `signature` is a JWS (RFC 7515) with detached content: the payload is the UTF-8 of the RFC 8785
 * canonical JSON of `body`; the protected header is `{"alg":"PS256"}` for an RSA hub certificate,
 * `{"alg":"ES256"}` for an EC P-256 one (the algorithm follows the certificate: no alg choice is
 * left to the document). The signer is the hub: `certPem` chains to the provincial CA, is valid
 * and unrevoked at `body.publishedAt`, and its CN is the hub's node id, which is also
 * `body.province`.
 *
 * openCatalog(): size → parse (I-JSON) → assert the body → verify the signer and signature.
 * catalogSuccession(): the serial only increases; an older document, or another one with the
 * serial held, is ERR_CATALOG_SERIAL_REPLAY. Pure apart from the crypto calls.
 */
import { canonicalize, iJsonProblem } from './canonical-json.js';
import { assertCatalogBody, CATALOG_FORMAT, CATALOG_LIMITS, type CatalogBody } from './catalog-document.js';
import { certFromPem, jwsSignDetached, jwsVerifyDetached, keyMatchesCert, privateKeyFromPem, sha256, type DetachedJws, type ParsedCert } from './crypto.js';
import { protocolError } from './errors.js';
import { jsonTextProblems, scanJsonText } from './strict-json.js';
import type { SignerIdentity, TrustPolicy } from './trust.js';

export interface SignedCatalog {
  format: typeof CATALOG_FORMAT;
  body: CatalogBody;
  signature: DetachedJws;
  certPem: string;
}

export interface OpenedCatalog {
  body: CatalogBody;
  /** The document as received (what a reader stores and serves on). */
  text: string;
  /** SHA-256 of the canonical body, lower-case hex: two documents with one serial must agree on it. */
  digest: string;
  signer: SignerIdentity;
}

/** How far in the future a publication time may lie (clock skew between hub and node). */
export const PUBLISHED_AT_SKEW_MS = 5 * 60_000;
const DOC_KEYS = ['format', 'body', 'signature', 'certPem'];

function jwsAlgFor(cert: ParsedCert): string {
  if (cert.keyKind === 'rsa') return 'PS256';
  if (cert.keyKind === 'ec-p256') return 'ES256';
  throw protocolError('ERR_CATALOG_SIGNATURE', 'the signer certificate holds neither an RSA nor an EC P-256 key');
}

export function catalogDigest(body: CatalogBody): string {
  return sha256(canonicalize(body)).toString('hex');
}

/** The document text: the canonical JSON of { format, body, signature, certPem }. */
export async function signCatalog(body: CatalogBody, signer: { keyPem: string; certPem: string }): Promise<string> {
  const cert = certFromPem(signer.certPem);
  if (!keyMatchesCert(signer.keyPem, cert)) throw protocolError('ERR_CATALOG_SIGNATURE', 'the signing key does not belong to the signer certificate');
  const signature = await jwsSignDetached(Buffer.from(canonicalize(body), 'utf8'), privateKeyFromPem(signer.keyPem), { alg: jwsAlgFor(cert) });
  const doc: SignedCatalog = { format: CATALOG_FORMAT, body, signature, certPem: cert.pem };
  return canonicalize(doc);
}

export interface OpenCatalogOptions {
  trust: TrustPolicy;
  /** Codes of the national catalog: a province type may not take one. */
  nationalCodes: ReadonlySet<string>;
  /** The hub's node id (430000): the only signer. */
  hubNodeId: string;
  now: Date;
}

function invalid(message: string, details?: unknown): never {
  throw protocolError('ERR_CATALOG_INVALID', message, details);
}

/** Checks a received (or stored) document; throws ERR_CATALOG_* or the signer's ERR_CERT_* code. */
export async function openCatalog(text: string, o: OpenCatalogOptions): Promise<OpenedCatalog> {
  const bytes = Buffer.byteLength(text, 'utf8');
  if (bytes > CATALOG_LIMITS.maxDocumentBytes) {
    throw protocolError('ERR_CATALOG_TOO_LARGE', `the province catalog is ${bytes} bytes; at most ${CATALOG_LIMITS.maxDocumentBytes} are read`, { bytes, maxBytes: CATALOG_LIMITS.maxDocumentBytes });
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    invalid(`the province catalog is not JSON: ${(e as Error).message}`);
  }
  const dup = jsonTextProblems(scanJsonText(text));
  if (dup.length > 0) invalid(`the province catalog is not I-JSON: ${dup.map((p) => `${p.field} ${p.message}`).join('; ')}`, dup);
  const ij = iJsonProblem(doc);
  if (ij !== null) invalid(`the province catalog is not I-JSON: ${ij}`);
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) invalid('the province catalog is not a JSON object');
  const d = doc as Record<string, unknown>;
  const keys = Object.keys(d);
  if (keys.length !== DOC_KEYS.length || !DOC_KEYS.every((k) => keys.includes(k))) invalid(`a province catalog document has exactly ${DOC_KEYS.join(', ')}`);
  if (d.format !== CATALOG_FORMAT) invalid(`format must be ${CATALOG_FORMAT}`);
  const sig = d.signature as Record<string, unknown>;
  if (typeof sig !== 'object' || sig === null || Object.keys(sig).length !== 2 || typeof sig.protected !== 'string' || typeof sig.signature !== 'string') {
    invalid('signature must be { protected, signature } (JWS with detached payload)');
  }
  if (typeof d.certPem !== 'string' || d.certPem.length > 16 * 1024) invalid('certPem must be a PEM certificate');
  const body = assertCatalogBody(d.body, o.nationalCodes);
  const published = new Date(body.publishedAt);
  if (published.getTime() > o.now.getTime() + PUBLISHED_AT_SKEW_MS) invalid(`publishedAt ${body.publishedAt} lies in the future`);

  const signer = o.trust.verifySigner(d.certPem as string, published);
  if (signer.nodeId !== o.hubNodeId || body.province !== o.hubNodeId) {
    throw protocolError('ERR_CATALOG_SIGNATURE', `the province catalog is signed by ${signer.nodeId} for province ${body.province}; only the hub (${o.hubNodeId}) publishes it`, { signer: signer.nodeId, province: body.province });
  }
  const cert = certFromPem(d.certPem as string);
  // verified over the body as received (not as rebuilt by the checks): exactly what was signed
  const payload = canonicalize(d.body);
  const ok = await jwsVerifyDetached(sig as unknown as DetachedJws, Buffer.from(payload, 'utf8'), cert.publicKey, jwsAlgFor(cert));
  if (!ok) throw protocolError('ERR_CATALOG_SIGNATURE', `the signature of province catalog serial ${body.serial} does not verify with the hub certificate`, { serial: body.serial });
  return { body, text, digest: sha256(payload).toString('hex'), signer };
}

/**
 * Whether `next` may replace `held`: 'newer' (adopt it), 'same' (the document held, nothing to do).
 * An older serial, or the held serial with another body, is ERR_CATALOG_SERIAL_REPLAY.
 */
export function catalogSuccession(held: { serial: number; digest: string } | null, next: { body: CatalogBody; digest: string }): 'newer' | 'same' {
  if (held === null || next.body.serial > held.serial) return 'newer';
  if (next.body.serial === held.serial && next.digest === held.digest) return 'same';
  throw protocolError(
    'ERR_CATALOG_SERIAL_REPLAY',
    next.body.serial === held.serial
      ? `province catalog serial ${held.serial} is held with another content; a changed catalog needs a new serial`
      : `province catalog serial ${next.body.serial} is older than serial ${held.serial} held here`,
    { held: held.serial, got: next.body.serial },
  );
}
