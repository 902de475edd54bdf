/**
 * HMAC-SM3 and SM4-CTR with the per-key set-up done once, for the values sealed at rest (one
 * HMAC for the tag, one SM4-CTR pass and, at the hub, one HMAC for the blind index per record).
 * The bytes are exactly those of node:crypto's `createHmac('sm3', key)` and
 * `createCipheriv('sm4-ctr', key, iv)` (test/protocol/sm-keyed.test.ts holds them to each other).
 *
 * Why: on Node 24 every `createHmac` and `createCipheriv` call costs ≈ 10 µs of set-up before any
 * byte is processed (≈ 1–3 µs on Node 20 and 22 — Node 22.23 bundles the same OpenSSL 3.5 as
 * Node 24, so it is Node's own change, not OpenSSL's): three such calls per record doubled the cost
 * of sealing and opening at rest there (docs/benchmarks.md, "Node 24"). So per key:
 * - HMAC-SM3 (RFC 2104 over SM3, block 64 bytes): the key (hashed with SM3 first when longer than
 *   the block) is padded with zeros to 64 bytes; two SM3 states, one fed key ⊕ 0x36…, one fed
 *   key ⊕ 0x5c…, are kept, and each MAC copies them: SM3(K ⊕ opad ‖ SM3(K ⊕ ipad ‖ m)).
 * - SM4-CTR (GB/T 17964, the counter block a 128-bit big-endian integer starting at the IV, as
 *   OpenSSL's `sm4-ctr`): one SM4-ECB encryption context without padding is kept per key and
 *   encrypts the counter blocks; the keystream is XORed onto the data in JavaScript. ECB over whole
 *   blocks in encrypt mode has no state between calls, so the kept context gives each call exactly
 *   the blocks it is given (a short answer throws).
 * `auto` uses both only on Node ≥ 24, where they are faster (837 bytes sealed in ≈ 14 instead of
 * 31 µs, a MAC in 4–6 instead of 13–14 µs). On Node 20 and 22 the native calls are cheap and the kept
 * contexts 1–2 µs slower (the extra buffers), so `auto` keeps the native calls there.
 * Each function holds its own copy of the key (the native ones) or only the derived contexts (the
 * kept ones: their key copies and pads are zeroed once set up — best effort, as the contexts are as
 * secret as the key); they live as long as the caller keeps the function (at-rest.ts: as long as the
 * key object).
 */
import { createCipheriv, createHash, createHmac, type Cipher, type Hash } from 'node:crypto';

export type KeyedImpl = 'auto' | 'native' | 'composed';

const SM3_BLOCK = 64;
/**
 * Whether a Node version (`process.versions.node`, e.g. "24.21.0") pays for the set-up of each
 * createHmac / createCipheriv call more than for the work on a record: from 24 on (measured on 20,
 * 22 and 24; Node 22.23 has the same OpenSSL 3.5.8 as 24 and does not, so it is not OpenSSL's version).
 */
export function callSetupCostly(nodeVersion: string): boolean {
  return Number.parseInt(nodeVersion, 10) >= 24;
}
export const CALL_SETUP_COSTLY = callSetupCostly(process.versions.node);

/** Which way a keyed function computes (tests check that `auto` takes the intended one). */
export type KeyedWay = 'native' | 'composed';

/** HMAC-SM3 under one key of the parts one after the other (strings as UTF-8). */
export type Sm3Mac = ((parts: readonly (string | Uint8Array)[]) => Buffer) & { readonly way: KeyedWay };

export function keyedHmacSm3(key: Uint8Array, impl: KeyedImpl = 'auto'): Sm3Mac {
  const k = Buffer.from(key); // a copy: a later change to the caller's buffer cannot split the two paths
  if (impl === 'native' || (impl === 'auto' && !CALL_SETUP_COSTLY)) {
    return Object.assign(
      (parts: readonly (string | Uint8Array)[]) => {
        const h = createHmac('sm3', k);
        for (const p of parts) h.update(p);
        return h.digest();
      },
      { way: 'native' as const },
    );
  }
  const k0 = Buffer.alloc(SM3_BLOCK);
  const long = k.length > SM3_BLOCK ? createHash('sm3').update(k).digest() : null;
  (long ?? k).copy(k0);
  long?.fill(0);
  const ipad = Buffer.alloc(SM3_BLOCK);
  const opad = Buffer.alloc(SM3_BLOCK);
  for (let i = 0; i < SM3_BLOCK; i++) {
    ipad[i] = k0[i]! ^ 0x36;
    opad[i] = k0[i]! ^ 0x5c;
  }
  const inner: Hash = createHash('sm3').update(ipad);
  const outer: Hash = createHash('sm3').update(opad);
  k.fill(0);
  k0.fill(0);
  ipad.fill(0);
  opad.fill(0);
  return Object.assign(
    (parts: readonly (string | Uint8Array)[]) => {
      const h = inner.copy();
      for (const p of parts) h.update(p);
      return outer.copy().update(h.digest()).digest();
    },
    { way: 'composed' as const },
  );
}

/** SM4-CTR under one key: encrypts or decrypts `data` from the counter block `iv`. */
export type Sm4CtrFn = ((iv: Uint8Array, data: Uint8Array) => Buffer) & { readonly way: KeyedWay };

function bytesOnly(iv: unknown, data: unknown): void {
  // a string would be read as zeros by the XOR below, and the keystream itself returned
  if (!(iv instanceof Uint8Array) || !(data instanceof Uint8Array)) throw new TypeError('SM4-CTR takes bytes (Uint8Array), not strings');
  if (iv.length !== 16) throw new Error('SM4-CTR counter blocks are 16 bytes');
}

/** Counter blocks per ECB call: bounds the memory a long value takes (64 KiB of keystream at a time). */
const CHUNK_BLOCKS = 4096;

export function keyedSm4Ctr(key: Uint8Array, impl: KeyedImpl = 'auto'): Sm4CtrFn {
  if (key.length !== 16) throw new Error('SM4 keys are 16 bytes');
  const k = Buffer.from(key);
  if (impl === 'native' || (impl === 'auto' && !CALL_SETUP_COSTLY)) {
    return Object.assign(
      (iv: Uint8Array, data: Uint8Array) => {
        bytesOnly(iv, data);
        const c = createCipheriv('sm4-ctr', k, iv);
        const out = c.update(data);
        const tail = c.final();
        return tail.length === 0 ? out : Buffer.concat([out, tail]);
      },
      { way: 'native' as const },
    );
  }
  const ecb: Cipher = createCipheriv('sm4-ecb', k, null);
  ecb.setAutoPadding(false);
  k.fill(0);
  const ctr = (iv: Uint8Array, data: Uint8Array): Buffer => {
    bytesOnly(iv, data);
    const out = Buffer.allocUnsafe(data.length);
    const ivb = Buffer.from(iv.buffer, iv.byteOffset, 16);
    // the counter as four 32-bit words, most significant first; +1 carries through all 128 bits
    let w0 = ivb.readUInt32BE(0);
    let w1 = ivb.readUInt32BE(4);
    let w2 = ivb.readUInt32BE(8);
    let w3 = ivb.readUInt32BE(12);
    for (let at = 0; at < data.length; ) {
      const blocks = Math.min(CHUNK_BLOCKS, Math.ceil((data.length - at) / 16));
      const counters = Buffer.allocUnsafe(blocks * 16);
      for (let b = 0; b < blocks; b++) {
        const o = b * 16;
        counters.writeUInt32BE(w0, o);
        counters.writeUInt32BE(w1, o + 4);
        counters.writeUInt32BE(w2, o + 8);
        counters.writeUInt32BE(w3, o + 12);
        w3 = (w3 + 1) >>> 0;
        if (w3 === 0) {
          w2 = (w2 + 1) >>> 0;
          if (w2 === 0) {
            w1 = (w1 + 1) >>> 0;
            if (w1 === 0) w0 = (w0 + 1) >>> 0;
          }
        }
      }
      const ks = ecb.update(counters);
      if (ks.length !== counters.length) throw new Error('SM4-ECB returned a short keystream'); // never with whole blocks and no padding
      const n = Math.min(ks.length, data.length - at);
      for (let i = 0; i < n; i++) out[at + i] = data[at + i]! ^ ks[i]!;
      at += n;
    }
    return out;
  };
  return Object.assign(ctr, { way: 'composed' as const });
}
