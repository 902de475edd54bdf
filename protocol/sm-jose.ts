/**
 * The JOSE-shaped containers of suite CF1-SM2-SM4GCM-SM3 (docs/protocol.md "Suite
 * CF1-SM2-SM4GCM-SM3"). JOSE has no registered names for SM algorithms, so the `alg`/`enc` values
 * are the GM/T 0006 / GM/T 0125 identifiers:
 *   JWE alg `SGD_SM2_3`   the 128-bit content key encrypted with SM2 (GB/T 32918.4) to the
 *                         recipient's certificate key, ASN.1 C1C3C2 (GM/T 0009 §7.2)
 *   JWE enc `SGD_SM4_GCM` SM4-GCM (RFC 8998), 12-byte IV, 16-byte tag, AAD = ASCII(protected)
 *   JWS alg `SGD_SM3_SM2` SM2 signature with SM3 and Z over ID 1234567812345678, DER SEQUENCE{r,s}
 * Everything else (flattened serialisation, detached payload, the signing input) is RFC 7515/7516.
 * Crypto goes through sm-crypto.ts; KeyObjects are only exported to DER here.
 */
import type { KeyObject } from 'node:crypto';
import { randomBytes, sm2Decrypt, sm2Encrypt, sm2KeyFromPkcs8, sm2PointFromSpki, sm2Sign, sm2Verify, sm4GcmDecrypt, sm4GcmEncrypt, type Sm2PrivateKey } from './sm-crypto.js';

export const SM_JWE_ALG = 'SGD_SM2_3';
export const SM_JWE_ENC = 'SGD_SM4_GCM';
export const SM_JWS_ALG = 'SGD_SM3_SM2';

export interface SmFlattenedJwe {
  protected: string;
  encrypted_key: string;
  iv: string;
  ciphertext: string;
  tag: string;
}

const points = new WeakMap<KeyObject, string | null>();
const privates = new WeakMap<KeyObject, Sm2PrivateKey | null>();

/** The SM2 point (04‖x‖y hex) of a public or private KeyObject; undefined when it is not SM2. */
export function sm2PointOf(key: KeyObject): string | undefined {
  let p = points.get(key);
  if (p === undefined) {
    try {
      if (key.type === 'private') p = sm2PrivateOf(key)?.publicKey ?? null;
      else p = sm2PointFromSpki(key.export({ type: 'spki', format: 'der' })) ?? null;
    } catch {
      p = null;
    }
    points.set(key, p);
  }
  return p ?? undefined;
}

/** The SM2 scalar and point of a private KeyObject; undefined when it is not SM2. */
export function sm2PrivateOf(key: KeyObject): Sm2PrivateKey | undefined {
  let k = privates.get(key);
  if (k === undefined) {
    try {
      k = key.type === 'private' ? sm2KeyFromPkcs8(key.export({ type: 'pkcs8', format: 'der' })) : null;
    } catch {
      k = null;
    }
    privates.set(key, k);
  }
  return k ?? undefined;
}

const b64u = (b: Uint8Array) => Buffer.from(b).toString('base64url');

export function smJweEncrypt(plaintext: Uint8Array, recipient: KeyObject, header: Record<string, unknown>): SmFlattenedJwe {
  const point = sm2PointOf(recipient);
  if (point === undefined) throw new Error('the recipient key is not an SM2 key');
  const cek = randomBytes(16);
  const iv = randomBytes(12);
  const protectedB64 = b64u(Buffer.from(JSON.stringify(header), 'utf8'));
  const { ciphertext, tag } = sm4GcmEncrypt(cek, iv, plaintext, Buffer.from(protectedB64, 'ascii'));
  return { protected: protectedB64, encrypted_key: b64u(sm2Encrypt(point, cek)), iv: b64u(iv), ciphertext: b64u(ciphertext), tag: b64u(tag) };
}

export function smJweDecrypt(jwe: SmFlattenedJwe, key: KeyObject): Uint8Array {
  const sk = sm2PrivateOf(key);
  if (sk === undefined) throw new Error('this key is not an SM2 private key');
  const iv = Buffer.from(jwe.iv, 'base64url');
  const tag = Buffer.from(jwe.tag, 'base64url');
  if (iv.length !== 12 || tag.length !== 16) throw new Error('JWE iv or tag has the wrong length');
  const cek = sm2Decrypt(sk, Buffer.from(jwe.encrypted_key, 'base64url'));
  if (cek.length !== 16) throw new Error('JWE content key has the wrong length');
  return sm4GcmDecrypt(cek, iv, Buffer.from(jwe.ciphertext, 'base64url'), tag, Buffer.from(jwe.protected, 'ascii'));
}

/** SM2 signature (DER) over the JWS signing input, by a private KeyObject. */
export function smJwsSign(signingBytes: Uint8Array, key: KeyObject): Buffer {
  const sk = sm2PrivateOf(key);
  if (sk === undefined) throw new Error(`the key cannot sign ${SM_JWS_ALG}`);
  return sm2Sign(sk, signingBytes);
}

export function smJwsVerify(signingBytes: Uint8Array, key: KeyObject, signature: Uint8Array): boolean {
  const point = key.type === 'public' ? sm2PointOf(key) : undefined;
  return point !== undefined && sm2Verify(point, signingBytes, signature);
}
