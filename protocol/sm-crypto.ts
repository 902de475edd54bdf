/**
 * National cryptography primitives, in one module an assessor can read: SM3 (GB/T 32905),
 * SM4 (GB/T 32907) and SM4-GCM (RFC 8998) on node:crypto; SM2 (GB/T 32918) signatures and
 * public-key encryption on sm-crypto-v2 (pure TS over @noble/curves).
 *
 * - SM3, HMAC-SM3, SM4-ECB/CTR: OpenSSL through node:crypto (per-key contexts kept for the values
 *   sealed at rest: sm-keyed.ts).
 * - SM4-GCM: native `sm4-gcm` when the runtime's OpenSSL has it (Node ≥ 24), else GCM composed
 *   here from native SM4-ECB (H, E(J0)) and SM4-CTR (the keystream) with ghash.ts. Both pass
 *   RFC 8998 A.1.
 * - SM2 signatures: always with the Z value (`hash: true`, user ID 1234567812345678 unless told
 *   otherwise — GM/T 0009 §10), DER `SEQUENCE { r, s }`; verification checks 1 ≤ r, s < n first.
 * - SM2 encryption: C1C3C2 in the GM/T 0009 §7.2 ASN.1 form `SEQUENCE { x, y, C3 OCTET STRING,
 *   C2 OCTET STRING }`; C1 must be a point on the curve before any use of the private key.
 * Keys: SM2 private keys are PKCS#8 PEM (id-ecPublicKey with curve 1.2.156.10197.1.301, what
 * OpenSSL and Node write); public keys are 65-byte uncompressed points or SPKI DER.
 */
import { type Cipher, createCipheriv, createDecipheriv, createHash, createHmac, createPrivateKey, generateKeyPairSync, getCiphers, randomBytes, timingSafeEqual } from 'node:crypto';
import { sm2 } from 'sm-crypto-v2';
import { children, expectTag, octets, readOid, readSequence, readUnsigned, seq, uint } from './der.js';
import { Ghash } from './ghash.js';

export const SM2_DEFAULT_ID = '1234567812345678';
export { randomBytes };
/** GM/T 0006 / GB/T 33560 object identifiers. */
export const OID = Object.freeze({
  sm2Curve: '1.2.156.10197.1.301',
  sm2Sign: '1.2.156.10197.1.301.1',
  sm2Encrypt: '1.2.156.10197.1.301.3',
  sm3: '1.2.156.10197.1.401',
  sm2WithSm3: '1.2.156.10197.1.501',
  ecPublicKey: '1.2.840.10045.2.1',
});
/** Order n of the SM2 recommended curve (GB/T 32918.5). */
export const SM2_N = 0xfffffffeffffffffffffffffffffffff7203df6b21c6052b53bbf40939d54123n;

// ---------- SM3 ----------

export function sm3(data: string | Uint8Array): Buffer {
  return createHash('sm3').update(data).digest();
}

export function hmacSm3(key: Uint8Array, data: string | Uint8Array): Buffer {
  return createHmac('sm3', key).update(data).digest();
}

// ---------- SM4 ----------

function sm4Key(key: Uint8Array): void {
  if (key.length !== 16) throw new Error('SM4 keys are 16 bytes');
}

/** SM4-ECB without padding over whole blocks (vectors and GCM's H and E(J0) only). */
export function sm4Ecb(key: Uint8Array, data: Uint8Array, encrypt = true): Buffer {
  sm4Key(key);
  if (data.length % 16) throw new Error('SM4-ECB input must be whole blocks');
  const c = encrypt ? createCipheriv('sm4-ecb', key, null) : createDecipheriv('sm4-ecb', key, null);
  c.setAutoPadding(false);
  return Buffer.concat([c.update(data), c.final()]);
}

/**
 * SM4-CTR (GB/T 17964 CTR mode over SM4): the 16-byte `iv` is the first counter block, incremented
 * as one 128-bit big-endian integer (OpenSSL's `sm4-ctr`). Encryption and decryption are the same.
 */
export function sm4Ctr(key: Uint8Array, iv: Uint8Array, data: Uint8Array): Buffer {
  sm4Key(key);
  if (iv.length !== 16) throw new Error('SM4-CTR counter blocks are 16 bytes');
  const c = createCipheriv('sm4-ctr', key, iv);
  const out = c.update(data);
  const tail = c.final(); // empty: CTR is a stream mode (no concatenation to pay for in the usual case)
  return tail.length === 0 ? out : Buffer.concat([out, tail]);
}

/** SM4-CTR as a stream (a Transform: node:crypto's Cipher; the same both ways): for data too large to hold, such as a spooled worksheet. */
export function sm4CtrStream(key: Uint8Array, iv: Uint8Array): Cipher {
  sm4Key(key);
  if (iv.length !== 16) throw new Error('SM4-CTR counter blocks are 16 bytes');
  return createCipheriv('sm4-ctr', key, iv);
}

/** Constant-time equality of two MACs (false for different lengths). */
export function macEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

/** True when this runtime's OpenSSL offers SM4-GCM (Node ≥ 24); otherwise GCM is composed here. */
export const SM4_GCM_NATIVE = getCiphers().includes('sm4-gcm');
/** GCM's limit on one message under one IV (2^32 − 2 blocks); envelopes are far smaller. */
const GCM_MAX_BYTES = (2 ** 32 - 2) * 16;

export interface GcmSealed {
  ciphertext: Buffer;
  tag: Buffer;
}

function gcmParams(key: Uint8Array, iv: Uint8Array, len: number): void {
  sm4Key(key);
  if (iv.length !== 12) throw new Error('SM4-GCM IVs are 12 bytes');
  if (len > GCM_MAX_BYTES) throw new Error('SM4-GCM message too long');
}

/** The composed GCM: counter blocks from J0 = IV‖0³¹‖1 (inc32 never wraps within GCM_MAX_BYTES). */
function composedGcm(key: Uint8Array, iv: Uint8Array, data: Uint8Array, aad: Uint8Array, encrypt: boolean): GcmSealed {
  const h = sm4Ecb(key, Buffer.alloc(16));
  const j0 = Buffer.concat([iv, Buffer.from([0, 0, 0, 1])]);
  const ekj0 = sm4Ecb(key, j0);
  const ctr0 = Buffer.concat([iv, Buffer.from([0, 0, 0, 2])]);
  const c = createCipheriv('sm4-ctr', key, ctr0);
  const out = Buffer.concat([c.update(data), c.final()]);
  const ct = encrypt ? out : data;
  const s = new Ghash(h).update(aad).pad().update(ct).digest(aad.length, ct.length);
  for (let i = 0; i < 16; i++) s[i]! ^= ekj0[i]!;
  return { ciphertext: out, tag: s };
}

/** Which GCM to use: `auto` = native when available. Tests force each. */
export type GcmImpl = 'auto' | 'native' | 'composed';

export function sm4GcmEncrypt(key: Uint8Array, iv: Uint8Array, plaintext: Uint8Array, aad: Uint8Array, impl: GcmImpl = 'auto'): GcmSealed {
  gcmParams(key, iv, plaintext.length);
  if (impl === 'native' || (impl === 'auto' && SM4_GCM_NATIVE)) {
    const c = createCipheriv('sm4-gcm' as 'aes-128-gcm', key, iv);
    c.setAAD(aad);
    const ciphertext = Buffer.concat([c.update(plaintext), c.final()]);
    return { ciphertext, tag: c.getAuthTag() };
  }
  return composedGcm(key, iv, plaintext, aad, true);
}

/** Decrypts and checks the 16-byte tag (constant-time); throws on any mismatch. */
export function sm4GcmDecrypt(key: Uint8Array, iv: Uint8Array, ciphertext: Uint8Array, tag: Uint8Array, aad: Uint8Array, impl: GcmImpl = 'auto'): Buffer {
  gcmParams(key, iv, ciphertext.length);
  if (tag.length !== 16) throw new Error('SM4-GCM tags are 16 bytes');
  if (impl === 'native' || (impl === 'auto' && SM4_GCM_NATIVE)) {
    const d = createDecipheriv('sm4-gcm' as 'aes-128-gcm', key, iv);
    d.setAAD(aad);
    d.setAuthTag(tag);
    return Buffer.concat([d.update(ciphertext), d.final()]);
  }
  const { ciphertext: plaintext, tag: want } = composedGcm(key, iv, ciphertext, aad, false);
  if (!timingSafeEqual(want, tag)) throw new Error('SM4-GCM tag mismatch');
  return plaintext;
}

// ---------- SM2 keys ----------

export interface Sm2PrivateKey {
  /** Private scalar d, 64 hex digits. */
  d: string;
  /** Public point, '04' ‖ x ‖ y, 130 hex digits. */
  publicKey: string;
}

/** True when `point` is 04‖x‖y of a point on the SM2 curve (not the identity). */
export function isSm2Point(point: string): boolean {
  try {
    return /^04[0-9a-f]{128}$/i.test(point) && sm2.verifyPublicKey(point);
  } catch {
    return false;
  }
}

function hex32(b: Buffer): string {
  return b.toString('hex').padStart(64, '0');
}

/** The 65-byte point of an SPKI whose algorithm is id-ecPublicKey (or SM2) on the SM2 curve; undefined otherwise. */
export function sm2PointFromSpki(spkiDer: Uint8Array): string | undefined {
  try {
    const [alg, bits] = children(readSequence(Buffer.from(spkiDer), 'SubjectPublicKeyInfo'));
    const [algOid, param] = children(expectTag(alg, 0x30, 'AlgorithmIdentifier'));
    const a = readOid(algOid!);
    if ((a !== OID.ecPublicKey && a !== OID.sm2Curve) || param?.tag !== 0x06 || readOid(param) !== OID.sm2Curve) return undefined;
    const b = expectTag(bits, 0x03, 'BIT STRING').value;
    if (b.length !== 66 || b[0] !== 0 || b[1] !== 4) return undefined;
    const point = b.subarray(1).toString('hex');
    return isSm2Point(point) ? point : undefined;
  } catch {
    return undefined;
  }
}

/** SubjectPublicKeyInfo DER for an SM2 point (id-ecPublicKey + the SM2 curve, as OpenSSL writes). */
export function sm2Spki(publicKey: string): Buffer {
  return Buffer.from(`3059301306072a8648ce3d020106082a811ccf5501822d03420004${publicKey.slice(2)}`, 'hex');
}

/** PKCS#8 (or SEC1) PEM of an SM2 key → scalar and point; throws when it is not an SM2 private key. */
export function sm2KeyFromPem(pem: string): Sm2PrivateKey {
  return sm2KeyFromPkcs8(createPrivateKey(pem).export({ type: 'pkcs8', format: 'der' }));
}

/** PKCS#8 DER of an SM2 key → scalar and point; throws when it is not an SM2 private key. */
export function sm2KeyFromPkcs8(der: Buffer): Sm2PrivateKey {
  const [, alg, inner] = children(readSequence(der, 'PrivateKeyInfo'));
  // id-ecPublicKey with the SM2 curve (OpenSSL 3.0), or the SM2 OID itself as the algorithm
  const [algOid, curve] = children(expectTag(alg, 0x30, 'AlgorithmIdentifier'));
  const isSm2 = readOid(algOid!) === OID.sm2Curve || (curve?.tag === 0x06 && readOid(curve) === OID.sm2Curve);
  if (!isSm2) throw new Error('not an SM2 private key');
  const ec = children(readSequence(expectTag(inner, 0x04, 'privateKey').value, 'ECPrivateKey'));
  const d = hex32(expectTag(ec[1], 0x04, 'ECPrivateKey.privateKey').value);
  return { d, publicKey: sm2.getPublicKeyFromPrivateKey(d) };
}

/** A fresh SM2 key pair (OpenSSL's generator via node:crypto); the private key as PKCS#8 PEM. */
export function sm2GenerateKeyPem(): { privateKeyPem: string; publicKey: string } {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'SM2' });
  const privateKeyPem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  return { privateKeyPem, publicKey: sm2KeyFromPem(privateKeyPem).publicKey };
}

// ---------- SM2 signatures ----------

/**
 * SM2 signature over `message` with Z = SM3(ENTL‖ID‖a‖b‖xG‖yG‖xA‖yA), DER-encoded.
 * `fixedK` exists only for the standard's worked example (tests); never pass it otherwise.
 */
export function sm2Sign(key: Sm2PrivateKey, message: Uint8Array, opts: { userId?: string; fixedK?: string } = {}): Buffer {
  const pointPool = opts.fixedK === undefined ? undefined : [{ k: BigInt(`0x${opts.fixedK}`), x1: BigInt(`0x${sm2.getPublicKeyFromPrivateKey(opts.fixedK).slice(2, 66)}`) }];
  const sig = sm2.doSignature(message, key.d, { hash: true, der: true, publicKey: key.publicKey, userId: opts.userId ?? SM2_DEFAULT_ID, pointPool });
  return Buffer.from(sig, 'hex');
}

/** r and s of a strict DER SM2 signature, each in [1, n−1]; undefined otherwise. */
export function sm2SignatureValues(sigDer: Uint8Array): { r: bigint; s: bigint } | undefined {
  try {
    const [r, s, extra] = children(readSequence(Buffer.from(sigDer), 'SM2 signature')).map(readUnsigned);
    if (extra !== undefined || r === undefined || s === undefined) return undefined;
    if (r < 1n || r >= SM2_N || s < 1n || s >= SM2_N) return undefined;
    return { r, s };
  } catch {
    return undefined;
  }
}

export function sm2Verify(publicKey: string, message: Uint8Array, sigDer: Uint8Array, userId = SM2_DEFAULT_ID): boolean {
  const rs = sm2SignatureValues(sigDer);
  if (rs === undefined || !isSm2Point(publicKey)) return false;
  try {
    const raw = rs.r.toString(16).padStart(64, '0') + rs.s.toString(16).padStart(64, '0');
    return sm2.doVerifySignature(message, raw, publicKey, { hash: true, der: false, userId });
  } catch {
    return false;
  }
}

/**
 * True when the signed X.509 structure `der` (SEQUENCE { tbs, signatureAlgorithm, BIT STRING }: a
 * certificate or a CRL) is signed SM2-with-SM3 (1.2.156.10197.1.501) by the key `caPoint` with the
 * ID `userId`, and the AlgorithmIdentifier inside tbs (its first SEQUENCE member) is the outer one
 * byte for byte (RFC 5280 4.1.1.2, 5.1.1.2).
 */
export function sm2VerifySigned(der: Uint8Array, caPoint: string, userId = SM2_DEFAULT_ID): boolean {
  try {
    const [tbs, alg, sig, extra] = children(readSequence(Buffer.from(der), 'signed structure'));
    if (extra !== undefined || tbs?.tag !== 0x30) return false;
    if (readOid(children(expectTag(alg, 0x30, 'signatureAlgorithm'))[0]!) !== OID.sm2WithSm3) return false;
    const inner = children(tbs).find((c) => c.tag === 0x30);
    if (inner === undefined || !inner.raw.equals(alg!.raw)) return false;
    const bits = expectTag(sig, 0x03, 'signatureValue').value;
    if (bits[0] !== 0) return false;
    return sm2Verify(caPoint, tbs.raw, bits.subarray(1), userId);
  } catch {
    return false;
  }
}

/**
 * True when the X.509 certificate `certDer` is signed SM2-with-SM3 (1.2.156.10197.1.501) by the
 * key `caPoint`, with the default ID (GM/T 0015 §7, what `openssl verify -vfyopt distid:…` checks).
 */
export function sm2VerifyCertificate(certDer: Uint8Array, caPoint: string): boolean {
  return sm2VerifySigned(certDer, caPoint);
}

// ---------- SM2 encryption (C1C3C2, GM/T 0009 ASN.1) ----------

export function sm2Encrypt(publicKey: string, plaintext: Uint8Array): Buffer {
  if (!isSm2Point(publicKey)) throw new Error('not an SM2 public key');
  if (plaintext.length === 0) throw new Error('SM2 encryption of an empty message');
  // GB/T 32918.4 A5: a KDF output t of all zeros means a new k. C2 = M ⊕ t, so t = 0 ⇔ C2 = M.
  for (;;) {
    const der = Buffer.from(sm2.doEncrypt(plaintext, publicKey, 1, { asn1: true }), 'hex');
    if (!sm2CiphertextRaw(der).subarray(97).equals(Buffer.from(plaintext))) return der;
  }
}

/** The ASN.1 form as raw 04‖x‖y ‖ C3 ‖ C2 (C1C3C2), checking C1 is on the curve. */
export function sm2CiphertextRaw(der: Uint8Array): Buffer {
  const parts = children(readSequence(Buffer.from(der), 'SM2 ciphertext'));
  if (parts.length !== 4) throw new Error('SM2 ciphertext is not SEQUENCE { x, y, C3, C2 }');
  const [x, y] = parts.slice(0, 2).map(readUnsigned) as [bigint, bigint];
  const c3 = expectTag(parts[2], 0x04, 'C3').value;
  const c2 = expectTag(parts[3], 0x04, 'C2').value;
  if (c3.length !== 32 || c2.length === 0) throw new Error('SM2 ciphertext has a wrong C3 or empty C2');
  const c1 = `04${x.toString(16).padStart(64, '0')}${y.toString(16).padStart(64, '0')}`;
  if (!isSm2Point(c1)) throw new Error('SM2 ciphertext C1 is not a point on the curve');
  return Buffer.concat([Buffer.from(c1, 'hex'), c3, c2]);
}

/** raw 04‖x‖y‖C3‖C2 → the GM/T 0009 ASN.1 form. */
export function sm2CiphertextDer(raw: Uint8Array): Buffer {
  const b = Buffer.from(raw);
  return seq(uint(b.subarray(1, 33)), uint(b.subarray(33, 65)), octets(b.subarray(65, 97)), octets(b.subarray(97)));
}

/**
 * Decrypts the ASN.1 C1C3C2 form; throws on C1 not a point on the curve (the point at infinity has
 * no 04‖x‖y form; the cofactor is 1, so [h]C1 ≠ O follows), an all-zero KDF output, a C3 mismatch
 * or any malformation.
 */
export function sm2Decrypt(key: Sm2PrivateKey, der: Uint8Array): Buffer {
  const raw = sm2CiphertextRaw(der);
  const out = sm2.doDecrypt(raw.subarray(1).toString('hex'), key.d, 1, { output: 'array' });
  if (!(out instanceof Uint8Array) || out.length !== raw.length - 97) throw new Error('SM2 decryption failed');
  // GB/T 32918.4 B4: a KDF output t of all zeros is an error (t = M′ ⊕ C2).
  if (Buffer.from(out).equals(raw.subarray(97))) throw new Error('SM2 decryption failed: KDF output is all zeros');
  return Buffer.from(out);
}
