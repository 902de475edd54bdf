/**
 * GHASH (NIST SP 800-38D §6.4), the authenticator of GCM, for runtimes whose OpenSSL has no
 * SM4-GCM (Node < 24). Shoup's table method with 4-bit tables, as OpenSSL's portable default
 * (gcm_gmult_4bit): 16 multiples of H per key (256 bytes), per byte two table lookups and two
 * 4-bit shifts with reduction. 128-bit values are four big-endian uint32 words. No secret-dependent
 * branches, but the lookups ARE indexed by secret-dependent nibbles (of Y ⊕ data): like OpenSSL's
 * portable path this is not constant time against a cache-timing attacker on the same machine
 * (the 256-byte table spans only four 64-byte cache lines, far less exposed than an 8-bit table).
 * Node ≥ 24 runs SM4-GCM natively and does not use this file: SM deployments should run it
 * (docs/protocol.md). Pure: no crypto module needed — sm-crypto.ts supplies the block cipher.
 * Checked against RFC 8998's SM4-GCM vectors and against Node's native AES-GCM with this GHASH
 * over AES (test/protocol/sm-crypto.test.ts).
 */

/**
 * Reduction constants for the 4 bits shifted out (OpenSSL's rem_4bit), in the top 16 bits: reduction
 * is linear, and the bit j of the dropped nibble contributes 0xE100 >> (3 − j).
 */
const REM_4BIT = Uint32Array.from({ length: 16 }, (_, b) => {
  let r = 0;
  for (let j = 0; j < 4; j++) if (b & (1 << j)) r ^= 0xe100 >> (3 - j);
  return (r << 16) >>> 0;
});

export class Ghash {
  /** Htable[i] = H·i (GCM bit order: bit 0x8 of i is x⁰), 16 entries × 4 words. */
  private readonly t = new Uint32Array(64);
  private readonly y = new Uint32Array(4);
  private readonly x = new Uint8Array(16);
  private pending = Buffer.alloc(16);
  private pendingLen = 0;

  constructor(h: Uint8Array) {
    if (h.length !== 16) throw new Error('GHASH key must be 16 bytes');
    const t = this.t;
    const v = [0, 1, 2, 3].map((i) => Buffer.from(h).readUInt32BE(4 * i));
    t.set(v, 0x8 * 4);
    for (let i = 0x4; i > 0; i >>= 1) {
      // V = V·x: shift right one bit, reduce with 0xE1 when a bit falls off.
      const carry = v[3]! & 1;
      v[3] = ((v[3]! >>> 1) | (v[2]! << 31)) >>> 0;
      v[2] = ((v[2]! >>> 1) | (v[1]! << 31)) >>> 0;
      v[1] = ((v[1]! >>> 1) | (v[0]! << 31)) >>> 0;
      v[0] = ((v[0]! >>> 1) ^ (0xe1000000 & -carry)) >>> 0;
      t.set(v, i * 4);
    }
    for (const i of [2, 4, 8]) {
      for (let j = 1; j < i; j++) for (let w = 0; w < 4; w++) t[(i + j) * 4 + w] = (t[i * 4 + w]! ^ t[j * 4 + w]!) >>> 0;
    }
  }

  /** Y = (Y ⊕ block)·H for one 16-byte block at `buf[at..]`. */
  private block(buf: Uint8Array, at: number): void {
    const y = this.y;
    const x = this.x;
    for (let w = 0; w < 4; w++) {
      const b = ((buf[at + 4 * w]! << 24) | (buf[at + 4 * w + 1]! << 16) | (buf[at + 4 * w + 2]! << 8) | buf[at + 4 * w + 3]!) ^ y[w]!;
      x[4 * w] = b >>> 24;
      x[4 * w + 1] = (b >>> 16) & 0xff;
      x[4 * w + 2] = (b >>> 8) & 0xff;
      x[4 * w + 3] = b & 0xff;
    }
    const t = this.t;
    // Nibbles from the last byte to the first, low then high (k = 0 … 31): the first starts Z, then
    // per nibble Z = Z·x⁴ (shift + reduce) ⊕ H·nibble. The loop's order is public; only indices are data.
    let n = (x[15]! & 0xf) * 4;
    let z0 = t[n]!;
    let z1 = t[n + 1]!;
    let z2 = t[n + 2]!;
    let z3 = t[n + 3]!;
    for (let k = 1; k < 32; k++) {
      const byte = x[15 - (k >>> 1)]!;
      n = (k & 1 ? byte >>> 4 : byte & 0xf) * 4;
      const rem = z3 & 0xf;
      z3 = (z3 >>> 4) | (z2 << 28);
      z2 = (z2 >>> 4) | (z1 << 28);
      z1 = (z1 >>> 4) | (z0 << 28);
      z0 = (z0 >>> 4) ^ REM_4BIT[rem]!;
      z0 ^= t[n]!;
      z1 ^= t[n + 1]!;
      z2 ^= t[n + 2]!;
      z3 ^= t[n + 3]!;
    }
    y[0] = z0 >>> 0;
    y[1] = z1 >>> 0;
    y[2] = z2 >>> 0;
    y[3] = z3 >>> 0;
  }

  /** Absorbs data; a partial final block is zero-padded by `pad()` or `digest()`. */
  update(data: Uint8Array): this {
    let at = 0;
    if (this.pendingLen > 0) {
      const take = Math.min(16 - this.pendingLen, data.length);
      this.pending.set(data.subarray(0, take), this.pendingLen);
      this.pendingLen += take;
      at = take;
      if (this.pendingLen < 16) return this;
      this.block(this.pending, 0);
      this.pendingLen = 0;
    }
    for (; at + 16 <= data.length; at += 16) this.block(data, at);
    if (at < data.length) {
      this.pending.fill(0);
      this.pending.set(data.subarray(at), 0);
      this.pendingLen = data.length - at;
    }
    return this;
  }

  /** Zero-pads the data absorbed so far to a block boundary (between A and C in GCM). */
  pad(): this {
    if (this.pendingLen > 0) {
      this.pending.fill(0, this.pendingLen);
      this.block(this.pending, 0);
      this.pendingLen = 0;
    }
    return this;
  }

  /** Pads, then absorbs len(A)‖len(C) in bits and returns Y. */
  digest(aadBytes: number, ctBytes: number): Buffer {
    this.pad();
    const lens = Buffer.alloc(16);
    lens.writeBigUInt64BE(BigInt(aadBytes) * 8n, 0);
    lens.writeBigUInt64BE(BigInt(ctBytes) * 8n, 8);
    this.block(lens, 0);
    const out = Buffer.alloc(16);
    for (let w = 0; w < 4; w++) out.writeUInt32BE(this.y[w]!, 4 * w);
    return out;
  }
}
