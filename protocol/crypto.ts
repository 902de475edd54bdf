/**
 * The one module of protocol/ that touches node:crypto. Everything else in protocol/
 * asks this file for hashes, ids, keys, certificates and the JOSE containers, so the crypto
 * surface an assessor has to read is this page. Imported keys and parsed certificates are cached
 * per PEM (small maps, cleared when full) so hot paths never re-parse the same PEM.
 */
import {
  constants, createCipheriv, createDecipheriv, createHash, createHmac, createPrivateKey, createPublicKey, diffieHellman, generateKeyPairSync,
  privateDecrypt, publicEncrypt, randomBytes, randomFillSync, sign as nodeSign, verify as nodeVerify, X509Certificate, type KeyObject,
} from 'node:crypto';
import { protocolError } from './errors.js';
import { sm2VerifyCertificate } from './sm-crypto.js';
import { sm2PointOf, SM_JWE_ALG, SM_JWE_ENC, SM_JWS_ALG, smJweDecrypt, smJweEncrypt, smJwsSign, smJwsVerify } from './sm-jose.js';

export type { KeyObject };
export type KeyKind = 'rsa' | 'ec-p256' | 'sm2' | 'other';

// ---------- hashes and encodings ----------

export function sha256(data: string | Uint8Array): Buffer {
  return createHash('sha256').update(data).digest();
}

/**
 * The handle node and hub write into audit entries in place of a subject code:
 * `hmac-sha256:` + hex HMAC-SHA256(key, code as UTF-8), keyed with the server's own secret, so it
 * matches entries about one subject without being reversible by hashing every possible code.
 */
export function subjectHmac(key: Uint8Array, subject: string): string {
  return `hmac-sha256:${createHmac('sha256', key).update(subject, 'utf8').digest('hex')}`;
}

/** SHA-256 (or SM3) of the parts joined by `sep`, without building the joined string. */
export function sha256Joined(parts: readonly string[], sep: string, alg: 'sha256' | 'sm3' = 'sha256'): Buffer {
  const h = createHash(alg);
  parts.forEach((p, i) => {
    if (i > 0) h.update(sep);
    h.update(p);
  });
  return h.digest();
}

export function b64url(data: Uint8Array): string {
  return Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('base64url');
}

// ---------- UUIDv7 (RFC 9562 §5.7): 48-bit ms time, version, 12-bit counter, variant, random ----------

let lastMs = -1;
let counter = 0;
/** Random bytes drawn 4 KiB at a time (one CSPRNG call per 256 ids); every byte is used once. */
const pool = Buffer.allocUnsafe(4096);
let poolAt = pool.length;
const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

/** A time-ordered unique id. Ids made in one process are strictly increasing (monotonic counter). */
export function uuidv7(at?: Date): string {
  if (poolAt === pool.length) {
    randomFillSync(pool);
    poolAt = 0;
  }
  const r = poolAt;
  poolAt += 16;
  const seed = (pool[r]! << 8) | pool[r + 1]!;
  let ms = at ? at.getTime() : Date.now();
  if (!(ms >= 0 && ms <= 0xffffffffffff)) throw new RangeError(`uuidv7: time ${ms} is outside the 48-bit millisecond range`);
  if (!at) {
    if (ms <= lastMs) {
      ms = lastMs;
      counter++;
      if (counter > 0xfff) {
        ms = ++lastMs;
        counter = 0;
      }
    } else {
      counter = seed & 0x7ff; // start in the lower half: room to count up
    }
    lastMs = ms;
  } else {
    counter = seed & 0xfff;
  }
  const t = ms.toString(16).padStart(12, '0');
  const h = HEX;
  const p = pool;
  return `${t.slice(0, 8)}-${t.slice(8)}-${h[0x70 | (counter >> 8)]}${h[counter & 0xff]}-${h[(p[r + 2]! & 0x3f) | 0x80]}${h[p[r + 3]!]}-${h[p[r + 4]!]}${h[p[r + 5]!]}${h[p[r + 6]!]}${h[p[r + 7]!]}${h[p[r + 8]!]}${h[p[r + 9]!]}`;
}

/** The creation time carried by a UUIDv7. */
export function uuidv7Time(id: string): Date {
  return new Date(parseInt(id.replace(/-/g, '').slice(0, 12), 16));
}

// ---------- keys and certificates (cached per PEM) ----------

const CACHE_MAX = 512;
function cached<V>(map: Map<string, V>, key: string, make: () => V): V {
  let v = map.get(key);
  if (v === undefined) {
    v = make();
    if (map.size >= CACHE_MAX) map.clear();
    map.set(key, v);
  }
  return v;
}

const privateKeys = new Map<string, KeyObject>();
const certs = new Map<string, ParsedCert>();
const pairs = new Map<string, boolean>();

/** SPKI DER prefixes of the named curves we can name, up to the first byte of the point (RFC 5480). */
const EC_SPKI_PREFIXES: ReadonlyArray<{ curve: string; prefix: Buffer; length: number }> = [
  { curve: 'prime256v1', prefix: Buffer.from('3059301306072a8648ce3d020106082a8648ce3d030107034200', 'hex'), length: 91 },
  { curve: 'secp384r1', prefix: Buffer.from('3076301006072a8648ce3d020106052b81040022036200', 'hex'), length: 120 },
  { curve: 'secp256k1', prefix: Buffer.from('3056301006072a8648ce3d020106052b8104000a034200', 'hex'), length: 88 },
];

/**
 * The named curve of an EC public key with an uncompressed point (04‖X‖Y), read from its SPKI
 * bytes; undefined for anything else: another key type, an unknown or explicit curve, a compressed
 * or hybrid point, or a key OpenSSL cannot even write out (the point at infinity). Never reads
 * `asymmetricKeyDetails`: on Node 20 that aborts the process for a point at infinity (a hostile CSR,
 * certificate or envelope signer), so no code reads it for a key from outside before this passes.
 */
export function ecCurveOf(key: KeyObject): string | undefined {
  if (key.asymmetricKeyType !== 'ec') return undefined;
  let der: Buffer;
  try {
    der = (key.type === 'private' ? createPublicKey(key) : key).export({ type: 'spki', format: 'der' }) as Buffer;
  } catch {
    return undefined;
  }
  const known = EC_SPKI_PREFIXES.find((k) => der.length === k.length && der.subarray(0, k.prefix.length).equals(k.prefix));
  return known && der[known.prefix.length] === 0x04 ? known.curve : undefined;
}

/**
 * Kinds already worked out, per KeyObject (immutable; the objects of cached PEMs and certificates
 * come back on every envelope): an EC or SM2 kind costs a DER export of the public key, about a
 * millisecond, several times per envelope before.
 */
const kinds = new WeakMap<KeyObject, KeyKind>();

export function keyKind(key: KeyObject): KeyKind {
  if (key.asymmetricKeyType === 'rsa') return 'rsa';
  let kind = kinds.get(key);
  if (kind === undefined) {
    // Node 20 reports no asymmetricKeyType for keys on the SM2 curve: recognised by the curve OID.
    kind = ecCurveOf(key) === 'prime256v1' ? 'ec-p256' : sm2PointOf(key) !== undefined ? 'sm2' : 'other';
    // 'other' is not kept: it may come from an export that failed once (the key then worked out again next time)
    if (kind !== 'other') kinds.set(key, kind);
  }
  return kind;
}

/** RSA keys below this many bits are refused as encryption recipients (and as JWS keys). */
export const MIN_RSA_BITS = 2048;

/** True unless the key is an RSA key shorter than MIN_RSA_BITS. */
export function keyStrongEnough(key: KeyObject): boolean {
  return key.asymmetricKeyType !== 'rsa' || (key.asymmetricKeyDetails?.modulusLength ?? 0) >= MIN_RSA_BITS;
}

/** PEM (PKCS#8 or PKCS#1/SEC1) → private KeyObject; ERR_KEY_UNREADABLE if it is not one. */
export function privateKeyFromPem(pem: string): KeyObject {
  return cached(privateKeys, pem, () => {
    try {
      return createPrivateKey(pem);
    } catch (e) {
      throw protocolError('ERR_KEY_UNREADABLE', `private key PEM cannot be read: ${(e as Error).message}`);
    }
  });
}

export interface ParsedCert {
  /** PEM text (normalised: 64-column base64 between BEGIN/END lines). */
  pem: string;
  /** DER as standard base64, the form JOSE's x5c uses. */
  derB64: string;
  /** Subject CN, or null when the subject has none or more than one. */
  cn: string | null;
  /** Extended key usage OIDs, or undefined when the certificate has no EKU extension. */
  eku: readonly string[] | undefined;
  /** Serial number, upper-case hex as X509Certificate reports it. */
  serial: string;
  /** SHA-256 of the DER, lower-case hex. */
  fingerprint: string;
  notBefore: Date;
  notAfter: Date;
  isCa: boolean;
  publicKey: KeyObject;
  keyKind: KeyKind;
  /** True when `ca` names this certificate's issuer and its key verifies this certificate's signature. */
  issuedBy(ca: ParsedCert): boolean;
}

const x509Of = new WeakMap<ParsedCert, X509Certificate>();

function parseCert(x: X509Certificate): ParsedCert {
  const der = x.raw;
  const derB64 = der.toString('base64');
  const cns = [...x.subject.matchAll(/^CN=(.*)$/gm)];
  const cn = cns.length === 1 ? cns[0]![1]! : null; // two CNs could make two parsers disagree on who this is
  const parsed: ParsedCert = {
    pem: derB64ToPem(derB64),
    derB64,
    cn,
    serial: x.serialNumber.toUpperCase(),
    fingerprint: sha256(der).toString('hex'),
    notBefore: new Date(x.validFrom),
    notAfter: new Date(x.validTo),
    isCa: x.ca,
    eku: x.keyUsage,
    publicKey: x.publicKey,
    keyKind: keyKind(x.publicKey),
    issuedBy: (ca) => {
      const caX = x509Of.get(ca);
      if (caX === undefined || !x.checkIssued(caX)) return false;
      // OpenSSL verifies SM2-with-SM3 only with a distinguishing ID Node cannot pass: checked here.
      if (ca.keyKind === 'sm2') return sm2VerifyCertificate(der, sm2PointOf(ca.publicKey)!);
      return x.verify(caX.publicKey);
    },
  };
  x509Of.set(parsed, x);
  return parsed;
}

function certFrom(cacheKey: string, read: () => X509Certificate): ParsedCert {
  return cached(certs, cacheKey, () => {
    let x: X509Certificate;
    try {
      x = read();
    } catch (e) {
      throw protocolError('ERR_KEY_UNREADABLE', `certificate cannot be read: ${(e as Error).message}`);
    }
    return parseCert(x);
  });
}

/** PEM certificate → ParsedCert (cached); ERR_KEY_UNREADABLE if it is not one. */
export function certFromPem(pem: string): ParsedCert {
  return certFrom(pem, () => new X509Certificate(pem));
}

/** x5c entry (base64 DER) → ParsedCert (cached); ERR_KEY_UNREADABLE if it is not one. */
export function certFromDerB64(derB64: string): ParsedCert {
  return certFrom(derB64, () => new X509Certificate(Buffer.from(derB64, 'base64')));
}

export function derB64ToPem(derB64: string): string {
  const lines = derB64.match(/.{1,64}/g) ?? [];
  return `-----BEGIN CERTIFICATE-----\n${lines.join('\n')}\n-----END CERTIFICATE-----\n`;
}

/** True when the private key belongs to the certificate (compared once per pair, then cached). */
export function keyMatchesCert(keyPem: string, cert: ParsedCert): boolean {
  return cached(pairs, keyPem + '\u0000' + cert.fingerprint, () => {
    const spki = (k: KeyObject) => k.export({ type: 'spki', format: 'der' });
    return spki(createPublicKey(privateKeyFromPem(keyPem))).equals(spki(cert.publicKey));
  });
}

// ---------- JOSE containers (RFC 7516 JWE, RFC 7515 JWS; flattened JSON serialisation) ----------

export interface FlattenedJwe {
  protected: string;
  encrypted_key: string;
  iv: string;
  ciphertext: string;
  tag: string;
}

export interface DetachedJws {
  protected: string;
  signature: string;
}

const GCM = 'aes-256-gcm';
const KW_IV = Buffer.from('A6A6A6A6A6A6A6A6', 'hex'); // RFC 3394 default initial value

function lengthPrefixed(b: Buffer): Buffer {
  const out = Buffer.alloc(4 + b.length);
  out.writeUInt32BE(b.length);
  b.copy(out, 4);
  return out;
}

/**
 * Concat KDF (NIST SP 800-56A §5.8.1) as RFC 7518 §4.6.2 uses it, for keys of up to 256 bits (one
 * SHA-256 round): SHA-256( 00000001 ‖ Z ‖ AlgorithmID ‖ PartyUInfo ‖ PartyVInfo ‖ SuppPubInfo ),
 * truncated to `keyBits`. AlgorithmID = 32-bit big-endian length ‖ ASCII `algId` (the JWE `alg` for
 * key agreement with key wrapping, e.g. "ECDH-ES+A256KW"); PartyUInfo / PartyVInfo = 32-bit length ‖
 * the base64url-decoded `apu` / `apv` (length 0 when absent); SuppPubInfo = `keyBits` as 32-bit
 * big-endian; SuppPrivInfo empty.
 */
export function concatKdf(z: Uint8Array, algId: string, apu: Uint8Array, apv: Uint8Array, keyBits: number): Buffer {
  if (!Number.isInteger(keyBits) || keyBits <= 0 || keyBits > 256 || keyBits % 8 !== 0) throw new RangeError(`concatKdf: ${keyBits} bits is not a whole number of bytes up to 256`);
  const suppPub = Buffer.alloc(4);
  suppPub.writeUInt32BE(keyBits);
  return createHash('sha256')
    .update(Buffer.from([0, 0, 0, 1]))
    .update(z)
    .update(lengthPrefixed(Buffer.from(algId, 'ascii')))
    .update(lengthPrefixed(Buffer.from(apu)))
    .update(lengthPrefixed(Buffer.from(apv)))
    .update(suppPub)
    .digest()
    .subarray(0, keyBits / 8);
}

/**
 * The `apu` / `apv` header parameter as bytes: absent → empty; present → it must be a base64url
 * string (RFC 7518 §4.6.1.2–3), else the JWE is refused (jose refuses it too).
 */
function partyInfo(header: Record<string, unknown>, name: 'apu' | 'apv'): Buffer {
  const v = header[name];
  if (v === undefined) return Buffer.alloc(0);
  if (typeof v !== 'string' || !BASE64URL.test(v)) throw new Error(`JWE ${name} is not a base64url string`);
  return Buffer.from(v, 'base64url');
}

/** The key-encryption key of ECDH-ES+A256KW: Concat KDF over the shared secret, the `alg` and the header's apu/apv. */
function ecdhKek(z: Buffer, alg: string, header: Record<string, unknown>): Buffer {
  return concatKdf(z, alg, partyInfo(header, 'apu'), partyInfo(header, 'apv'), 256);
}

function aesKeyWrap(kek: Buffer, data: Buffer, wrap: boolean): Buffer {
  const c = wrap ? createCipheriv('id-aes256-wrap', kek, KW_IV) : createDecipheriv('id-aes256-wrap', kek, KW_IV);
  return Buffer.concat([c.update(data), c.final()]);
}

/** Wraps the content key for the recipient; may add header parameters (epk). `apu`/`apv` already in `header` enter the KDF. */
function wrapKey(alg: string, recipient: KeyObject, cek: Buffer, header: Record<string, unknown>): Buffer {
  if (alg === 'RSA-OAEP-256') return publicEncrypt({ key: recipient, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' }, cek);
  if (alg === 'ECDH-ES+A256KW') {
    const eph = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const { kty, crv, x, y } = eph.publicKey.export({ format: 'jwk' });
    header.epk = { kty, crv, x, y };
    const kek = ecdhKek(diffieHellman({ privateKey: eph.privateKey, publicKey: recipient }), alg, header);
    return aesKeyWrap(kek, cek, true);
  }
  throw new Error(`unsupported JWE alg ${alg}`);
}

function unwrapKey(alg: string, key: KeyObject, wrapped: Buffer, header: Record<string, unknown>): Buffer {
  if (alg === 'RSA-OAEP-256') return privateDecrypt({ key, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' }, wrapped);
  if (alg === 'ECDH-ES+A256KW') {
    const epk = header.epk as { kty?: unknown; crv?: unknown; x?: unknown; y?: unknown } | undefined;
    if (!epk || epk.kty !== 'EC' || epk.crv !== 'P-256' || typeof epk.x !== 'string' || typeof epk.y !== 'string') throw new Error('JWE epk is not a P-256 public key');
    const publicKey = createPublicKey({ key: { kty: 'EC', crv: 'P-256', x: epk.x, y: epk.y }, format: 'jwk' });
    return aesKeyWrap(ecdhKek(diffieHellman({ privateKey: key, publicKey }), alg, header), wrapped, false);
  }
  throw new Error(`unsupported JWE alg ${alg}`);
}

/**
 * JWE (RFC 7516) in flattened JSON serialisation: a fresh 256-bit content key wrapped for
 * `recipient` (RSA-OAEP-256, or ECDH-ES+A256KW per RFC 7518 §4.6, with `apu`/`apv` from `header`
 * when the caller gives them: base64url strings, fed to the Concat KDF), A256GCM with the protected
 * header as AAD. Implemented on node:crypto because jose's base64 path is slow on Node 20 for
 * large payloads; test/protocol/envelope.test.ts shows jose decrypts it.
 */
export function jweEncrypt(plaintext: Uint8Array, recipient: KeyObject, header: { alg: string; enc: string } & Record<string, unknown>): FlattenedJwe {
  if (header.enc === SM_JWE_ENC && header.alg === SM_JWE_ALG) return smJweEncrypt(plaintext, recipient, header);
  if (header.enc !== 'A256GCM') throw new Error(`unsupported JWE enc ${header.enc}`);
  const cek = randomBytes(32);
  const iv = randomBytes(12);
  const ph: Record<string, unknown> = { ...header };
  const encryptedKey = wrapKey(header.alg, recipient, cek, ph);
  const protectedB64 = Buffer.from(JSON.stringify(ph), 'utf8').toString('base64url');
  const c = createCipheriv(GCM, cek, iv);
  c.setAAD(Buffer.from(protectedB64, 'ascii'));
  const ciphertext = Buffer.concat([c.update(plaintext), c.final()]);
  return {
    protected: protectedB64,
    encrypted_key: encryptedKey.toString('base64url'),
    iv: iv.toString('base64url'),
    ciphertext: ciphertext.toString('base64url'),
    tag: c.getAuthTag().toString('base64url'),
  };
}

/** Decrypts a JWE made by jweEncrypt (or jose) whose protected header names exactly `algs`; throws on any failure. */
export function jweDecrypt(jwe: FlattenedJwe, key: KeyObject, algs: { alg: string; enc: string }): Uint8Array {
  const header = JSON.parse(Buffer.from(jwe.protected, 'base64url').toString('utf8')) as Record<string, unknown>;
  if (header.alg !== algs.alg || header.enc !== algs.enc) throw new Error(`JWE uses ${String(header.alg)}/${String(header.enc)}, expected ${algs.alg}/${algs.enc}`);
  if (header.crit !== undefined || header.zip !== undefined) throw new Error('JWE crit/zip parameters are not supported');
  if (algs.enc === SM_JWE_ENC && algs.alg === SM_JWE_ALG) return smJweDecrypt(jwe, key);
  const iv = Buffer.from(jwe.iv, 'base64url');
  const tag = Buffer.from(jwe.tag, 'base64url');
  if (iv.length !== 12 || tag.length !== 16) throw new Error('JWE iv or tag has the wrong length');
  const cek = unwrapKey(algs.alg, key, Buffer.from(jwe.encrypted_key, 'base64url'), header);
  if (cek.length !== 32) throw new Error('JWE content key has the wrong length');
  const d = createDecipheriv(GCM, cek, iv);
  d.setAAD(Buffer.from(jwe.protected, 'ascii'));
  d.setAuthTag(tag);
  return Buffer.concat([d.update(Buffer.from(jwe.ciphertext, 'base64url')), d.final()]);
}

/**
 * The JWS algorithms the suites use, on node:crypto directly (jose goes through WebCrypto: an
 * import of the KeyObject and a thread-pool job per call — ~0.37 ms to sign and ~0.15 ms to
 * verify PS256 against ~0.31 and ~0.03 here; a province query signs twice and verifies twice).
 * The same checks as jose: key type and size per alg (RSA ≥ 2048 bits, EC P-256), the alg the
 * caller expects and no other, no `crit` extension; strict base64url. ES256 signatures are
 * r‖s (IEEE P1363) as JWS wants. test/protocol/jws.test.ts holds both directions to jose.
 */
const JWS_ALGS: Record<string, { keyOk: (k: KeyObject) => boolean; options: (k: KeyObject) => Parameters<typeof nodeVerify>[2] }> = {
  PS256: {
    keyOk: (k) => k.asymmetricKeyType === 'rsa' && (k.asymmetricKeyDetails?.modulusLength ?? 0) >= 2048,
    options: (key) => ({ key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 }),
  },
  ES256: {
    keyOk: (k) => keyKind(k) === 'ec-p256',
    options: (key) => ({ key, dsaEncoding: 'ieee-p1363' }),
  },
  // SM2 with SM3 (sm-jose.ts): DER signature, Z over ID 1234567812345678; options unused.
  [SM_JWS_ALG]: {
    keyOk: (k) => keyKind(k) === 'sm2',
    options: (key) => ({ key }),
  },
};
const BASE64URL = /^[A-Za-z0-9_-]*$/;

function jwsAlg(alg: string): (typeof JWS_ALGS)[string] {
  const a = Object.hasOwn(JWS_ALGS, alg) ? JWS_ALGS[alg] : undefined;
  if (!a) throw new Error(`unsupported JWS alg ${alg}`);
  return a;
}

function signingBytes(protectedB64: string, payload: Uint8Array): Buffer {
  return Buffer.from(`${protectedB64}.${b64url(payload)}`, 'ascii');
}

/** Signs `payload` and returns the JWS without it (detached content, RFC 7515 Appendix F). Runs in the thread pool. */
export async function jwsSignDetached(payload: Uint8Array, key: KeyObject, header: { alg: string } & Record<string, unknown>): Promise<DetachedJws> {
  const a = jwsAlg(header.alg);
  if (key.type !== 'private' || !a.keyOk(key)) throw new Error(`the key cannot sign ${header.alg}`);
  const protectedB64 = Buffer.from(JSON.stringify(header), 'utf8').toString('base64url');
  const data = signingBytes(protectedB64, payload);
  if (header.alg === SM_JWS_ALG) return { protected: protectedB64, signature: smJwsSign(data, key).toString('base64url') };
  const signature = await new Promise<Buffer>((resolve, reject) => nodeSign('sha256', data, a.options(key) as Parameters<typeof nodeSign>[2], (e, s) => (e ? reject(e) : resolve(s))));
  return { protected: protectedB64, signature: signature.toString('base64url') };
}

/** True when `sig` is a valid `alg` signature by `key` over the detached `payload`, its protected header naming exactly `alg`. */
export async function jwsVerifyDetached(sig: DetachedJws, payload: Uint8Array, key: KeyObject, alg: string): Promise<boolean> {
  try {
    const a = jwsAlg(alg);
    if (typeof sig.protected !== 'string' || typeof sig.signature !== 'string' || !BASE64URL.test(sig.protected) || !BASE64URL.test(sig.signature)) return false;
    if (key.type !== 'public' || !a.keyOk(key)) return false;
    const header = JSON.parse(utf8Strict.decode(Buffer.from(sig.protected, 'base64url'))) as unknown;
    if (typeof header !== 'object' || header === null || Array.isArray(header)) return false;
    const h = header as Record<string, unknown>;
    if (h.alg !== alg || h.crit !== undefined) return false;
    if (alg === SM_JWS_ALG) return smJwsVerify(signingBytes(sig.protected, payload), key, Buffer.from(sig.signature, 'base64url'));
    return nodeVerify('sha256', signingBytes(sig.protected, payload), a.options(key), Buffer.from(sig.signature, 'base64url'));
  } catch {
    return false;
  }
}

const utf8Strict = new TextDecoder('utf-8', { fatal: true });

// ---------- raw primitives, for the benchmark's baseline rows ----------

export const raw = {
  randomBytes,
  aes256GcmEncrypt(key: Buffer, iv: Buffer, data: Uint8Array): Buffer {
    const c = createCipheriv('aes-256-gcm', key, iv);
    const out = Buffer.concat([c.update(data), c.final()]);
    c.getAuthTag();
    return out;
  },
  ps256Sign(key: KeyObject, data: Uint8Array): Buffer {
    return nodeSign('sha256', data, { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 });
  },
  sha256,
};
