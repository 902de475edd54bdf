/**
 * Record data at rest (issue 21 item 5), the format only: pure, no I/O. docs/at-rest.md specifies
 * it byte for byte so a third party holding the key file can decrypt a store.
 *
 * - A sealed value is the text `CFE1.<kid>.<iv>.<ct>.<tag>` (base64url without padding):
 *   ct = SM4-CTR(encKey, iv, plaintext), iv 16 random bytes (the first counter block);
 *   tag = HMAC-SM3(macKey, "CFE1" 0x00 kid 0x00 context 0x00 iv ct) (32 bytes). Encrypt-then-MAC;
 *   `context` names the row (e.g. `node_records/<id>`), so a value moved to another row fails.
 * - A blind index is the lowercase hex of the first 16 bytes of HMAC-SM3(indexKey, "CFBI1" 0x00 code):
 *   equal codes give equal indexes under one key; without the key it reveals nothing.
 * - A key check value (KCV) is the hex of the first 8 bytes of HMAC-SM3(macKey, "CFKCV1" 0x00 kid):
 *   the store keeps it, so a start with another key file is refused before anything is read.
 */
import { macEqual, randomBytes } from './sm-crypto.js';
import { keyedHmacSm3, keyedSm4Ctr, type KeyedWay, type Sm3Mac, type Sm4CtrFn } from './sm-keyed.js';
import { serviceError } from './service-errors.js';

export const SEALED_PREFIX = 'CFE1.';
const KID = /^[a-z0-9-]{1,16}$/;

/**
 * One generation of at-rest keys: SM4 (16 bytes), HMAC-SM3 for the tag (32) and for the blind index
 * (32). Its buffers must not change once it is made: the SM4 and HMAC-SM3 contexts are set up from
 * them once (at the latest when a keyring is made of it) and kept with the object. To stop using a
 * key, drop the keyring that holds it.
 */
export interface AtRestKey {
  readonly id: string;
  readonly enc: Buffer;
  readonly mac: Buffer;
  readonly index: Buffer;
}

/** The keys a store may hold values under; new values are sealed under `current`. */
export interface AtRestKeyring {
  current: AtRestKey;
  keys: ReadonlyMap<string, AtRestKey>;
}

export function isKeyId(id: string): boolean {
  return KID.test(id);
}

export function keyringOf(keys: readonly AtRestKey[], currentId: string): AtRestKeyring {
  for (const k of keys) contexts(k); // set up now, from the buffers as they are when the keyring is made
  const map = new Map(keys.map((k) => [k.id, k] as const));
  const current = map.get(currentId);
  if (!current) throw serviceError('ERR_DATA_KEY_FILE_INVALID', `the key file names current key ${currentId} but holds no such key`);
  return { current, keys: map };
}

export function newAtRestKey(id: string): AtRestKey {
  if (!isKeyId(id)) throw new Error(`bad key id ${id}`);
  return { id, enc: randomBytes(16), mac: randomBytes(32), index: randomBytes(32) };
}

const NUL = Buffer.from([0]);

/**
 * The SM4 and HMAC-SM3 contexts of one key, set up when a keyring is made of it (keyringOf) or at
 * its first use, whichever comes first (sm-keyed.ts: on Node 24 the set-up of each call was most of
 * a record's cost). Keyed by the key object, whose buffers are never changed after it is made.
 */
const keyed = new WeakMap<AtRestKey, { ctr: Sm4CtrFn; tag: Sm3Mac; index: Sm3Mac }>();
function contexts(key: AtRestKey): { ctr: Sm4CtrFn; tag: Sm3Mac; index: Sm3Mac } {
  let c = keyed.get(key);
  if (!c) keyed.set(key, (c = { ctr: keyedSm4Ctr(key.enc), tag: keyedHmacSm3(key.mac), index: keyedHmacSm3(key.index) }));
  return c;
}

/** Which way this runtime seals and opens under `key` (sm-keyed.ts: native calls, or kept contexts on Node ≥ 24). */
export function atRestWays(key: AtRestKey): { ctr: KeyedWay; tag: KeyedWay; index: KeyedWay } {
  const c = contexts(key);
  return { ctr: c.ctr.way, tag: c.tag.way, index: c.index.way };
}

function tagOf(key: AtRestKey, context: string, iv: Buffer, ct: Buffer): Buffer {
  // "CFE1" 0x00 kid 0x00 context 0x00 iv ct, fed to the HMAC in three parts (the first as one UTF-8 string)
  return contexts(key).tag([`CFE1\u0000${key.id}\u0000${context}\u0000`, iv, ct]);
}

/**
 * Fresh IVs, 16 random bytes each, cut from a pool filled from the CSPRNG 4 KiB at a time (one
 * randomBytes call per 256 values instead of one per value: a record is sealed in ≈ 20 µs, of which
 * a call of its own took ≈ 2). Every IV is still unpredictable and used once.
 */
const IV_POOL_BYTES = 4096;
let ivPool = Buffer.alloc(0);
let ivAt = 0;
function freshIv(): Buffer {
  if (ivAt + 16 > ivPool.length) {
    ivPool = randomBytes(IV_POOL_BYTES);
    ivAt = 0;
  }
  ivAt += 16;
  return ivPool.subarray(ivAt - 16, ivAt);
}

export function isSealed(value: string): boolean {
  return value.startsWith(SEALED_PREFIX);
}

/** Seals `plaintext` (UTF-8) for the row named by `context`; `iv` is given only by test vectors. */
export function sealText(key: AtRestKey, context: string, plaintext: string, iv: Buffer = freshIv()): string {
  if (iv.length !== 16) throw new Error('the IV is 16 bytes');
  const ct = contexts(key).ctr(iv, Buffer.from(plaintext, 'utf8'));
  const tag = tagOf(key, context, iv, ct);
  return `${SEALED_PREFIX}${key.id}.${iv.toString('base64url')}.${ct.toString('base64url')}.${tag.toString('base64url')}`;
}

/** The key id a sealed value names (null when it is not a sealed value). */
export function sealedKeyId(value: string): string | null {
  if (!isSealed(value)) return null;
  const end = value.indexOf('.', SEALED_PREFIX.length);
  return end < 0 ? null : value.slice(SEALED_PREFIX.length, end);
}

/**
 * Opens a sealed value: ERR_DATA_KEY_WRONG when it names a key the keyring lacks,
 * ERR_STORE_CIPHERTEXT_INVALID when it is malformed or its tag does not verify (changed, or moved
 * from another row). Details name the row context only, never content.
 */
export function openText(ring: AtRestKeyring, context: string, value: string): string {
  const parts = value.split('.');
  if (parts.length !== 5 || parts[0] !== 'CFE1') throw serviceError('ERR_STORE_CIPHERTEXT_INVALID', `stored value of ${context} is not a sealed value`, { context });
  const key = ring.keys.get(parts[1]!);
  if (!key) throw serviceError('ERR_DATA_KEY_WRONG', `stored value of ${context} is sealed under key ${parts[1]}, which the key file does not hold`, { context, kid: parts[1] });
  const iv = Buffer.from(parts[2]!, 'base64url');
  const ct = Buffer.from(parts[3]!, 'base64url');
  const tag = Buffer.from(parts[4]!, 'base64url');
  if (iv.length !== 16 || !macEqual(tagOf(key, context, iv, ct), tag)) {
    throw serviceError('ERR_STORE_CIPHERTEXT_INVALID', `stored value of ${context} fails its HMAC-SM3 check (changed, or moved from another row)`, { context });
  }
  return contexts(key).ctr(iv, ct).toString('utf8');
}

/** The blind index of a subject code under one key (32 lowercase hex). */
export function blindIndex(key: AtRestKey, code: string): string {
  return contexts(key).index([`CFBI1\u0000${code}`]).subarray(0, 16).toString('hex'); // "CFBI1" 0x00 code, as UTF-8
}

/** Every index a code may be stored under (one per key held: during a rotation both). */
export function blindIndexes(ring: AtRestKeyring, code: string): string[] {
  return [...ring.keys.values()].map((k) => blindIndex(k, code));
}

/** The key check value the store keeps for a key id. */
export function keyCheckValue(key: AtRestKey): string {
  return contexts(key).tag([Buffer.concat([Buffer.from('CFKCV1'), NUL, Buffer.from(key.id)])]).subarray(0, 8).toString('hex');
}
