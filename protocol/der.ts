/**
 * The few DER (ITU-T X.690) pieces the national-cryptography code needs where node:crypto and
 * node-forge cannot help: reading an SM2 certificate's TBSCertificate / signature / SPKI, a PKCS#8
 * SM2 private key, an SM2 signature or ciphertext; writing the same structures. Strict: definite
 * lengths only, minimal length encodings, no trailing bytes. Pure, no crypto.
 */

export interface DerNode {
  tag: number;
  /** Offset of the tag byte in the buffer it was read from. */
  start: number;
  /** Offset of the first content byte. */
  body: number;
  /** Offset just past the content. */
  end: number;
  /** The content bytes (a view). */
  value: Buffer;
  /** The whole TLV (a view). */
  raw: Buffer;
}

function fail(message: string): never {
  throw new Error(`DER: ${message}`);
}

/** Reads one TLV at `at`. Only low tag numbers (< 31); definite, minimal lengths. */
export function readTlv(buf: Buffer, at = 0): DerNode {
  if (at + 2 > buf.length) fail('truncated header');
  const tag = buf[at]!;
  if ((tag & 0x1f) === 0x1f) fail('high tag numbers are not used here');
  let len = buf[at + 1]!;
  let body = at + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0 || n > 4) fail('indefinite or oversized length');
    if (body + n > buf.length) fail('truncated length');
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + buf[body + i]!;
    if (buf[body] === 0 || len < 0x80) fail('length not minimally encoded');
    body += n;
  }
  const end = body + len;
  if (end > buf.length) fail('truncated content');
  return { tag, start: at, body, end, value: buf.subarray(body, end), raw: buf.subarray(at, end) };
}

/** Reads a buffer holding exactly one TLV. */
export function readOne(buf: Buffer): DerNode {
  const n = readTlv(buf, 0);
  if (n.end !== buf.length) fail('trailing bytes');
  return n;
}

/** A buffer holding exactly one SEQUENCE (tag 0x30): signatures, ciphertexts, certificates, keys. */
export function readSequence(buf: Buffer, what: string): DerNode {
  return expectTag(readOne(buf), 0x30, what);
}

/** The children of a constructed node (SEQUENCE, SET, [n] EXPLICIT, or an OCTET STRING wrapping DER). */
export function children(node: DerNode): DerNode[] {
  const out: DerNode[] = [];
  let at = 0;
  while (at < node.value.length) {
    const c = readTlv(node.value, at);
    out.push(c);
    at = c.end;
  }
  return out;
}

export function expectTag(node: DerNode | undefined, tag: number, what: string): DerNode {
  if (node === undefined || node.tag !== tag) fail(`${what}: expected tag 0x${tag.toString(16)}, got ${node === undefined ? 'nothing' : `0x${node.tag.toString(16)}`}`);
  return node;
}

/** A positive INTEGER's value (leading zero octet removed); refuses negative or non-minimal encodings. */
export function readUnsigned(node: DerNode): bigint {
  expectTag(node, 0x02, 'INTEGER');
  const v = node.value;
  if (v.length === 0) fail('empty INTEGER');
  if (v[0]! & 0x80) fail('negative INTEGER');
  if (v.length > 1 && v[0] === 0 && !(v[1]! & 0x80)) fail('INTEGER not minimally encoded');
  return BigInt(`0x${v.toString('hex')}`);
}

export function readOid(node: DerNode): string {
  expectTag(node, 0x06, 'OBJECT IDENTIFIER');
  const v = node.value;
  if (v.length === 0) fail('empty OID');
  if (v[v.length - 1]! & 0x80) fail('OID ends inside an arc (continuation bit set on the last byte)');
  const parts: number[] = [];
  let acc = 0;
  for (let i = 0; i < v.length; i++) {
    // 0x80 opening an arc is a padding byte: not the minimal encoding (X.690 8.19.2).
    if (v[i] === 0x80 && (i === 0 || !(v[i - 1]! & 0x80))) fail('OID arc not minimally encoded (leading 0x80)');
    acc = acc * 128 + (v[i]! & 0x7f);
    if (acc > Number.MAX_SAFE_INTEGER) fail('OID arc too large');
    if (!(v[i]! & 0x80)) {
      parts.push(acc);
      acc = 0;
    }
  }
  const first = parts.shift()!;
  const a = first < 80 ? Math.floor(first / 40) : 2;
  return [a, first - a * 40, ...parts].join('.');
}

// ---------- writing ----------

function lengthBytes(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

export function tlv(tag: number, content: Uint8Array): Buffer {
  return Buffer.concat([Buffer.from([tag]), lengthBytes(content.length), content]);
}

export const seq = (...items: Uint8Array[]): Buffer => tlv(0x30, Buffer.concat(items));
export const set = (...items: Uint8Array[]): Buffer => tlv(0x31, Buffer.concat(items));
export const octets = (b: Uint8Array): Buffer => tlv(0x04, b);
export const utf8String = (s: string): Buffer => tlv(0x0c, Buffer.from(s, 'utf8'));
export const derNull = (): Buffer => Buffer.from([0x05, 0x00]);
export const bool = (b: boolean): Buffer => Buffer.from([0x01, 0x01, b ? 0xff : 0x00]);
/** [n] EXPLICIT (constructed, context-specific). */
export const explicit = (n: number, inner: Uint8Array): Buffer => tlv(0xa0 | n, inner);
/** BIT STRING with no unused bits. */
export const bitString = (b: Uint8Array): Buffer => tlv(0x03, Buffer.concat([Buffer.from([0]), b]));

/** INTEGER from a non-negative bigint or unsigned big-endian bytes. */
export function uint(v: bigint | Uint8Array): Buffer {
  let hex = typeof v === 'bigint' ? v.toString(16) : Buffer.from(v).toString('hex');
  if (hex.length % 2) hex = `0${hex}`;
  let b = Buffer.from(hex, 'hex');
  let i = 0;
  while (i < b.length - 1 && b[i] === 0 && !(b[i + 1]! & 0x80)) i++;
  b = b.subarray(i);
  if (b.length === 0) b = Buffer.from([0]);
  if (b[0]! & 0x80) b = Buffer.concat([Buffer.from([0]), b]);
  return tlv(0x02, b);
}

export function oid(dotted: string): Buffer {
  const p = dotted.split('.').map(Number);
  const out: number[] = [];
  const push = (n: number) => {
    const bytes = [n & 0x7f];
    for (let v = Math.floor(n / 128); v > 0; v = Math.floor(v / 128)) bytes.unshift((v & 0x7f) | 0x80);
    out.push(...bytes);
  };
  push(p[0]! * 40 + p[1]!);
  for (const n of p.slice(2)) push(n);
  return tlv(0x06, Buffer.from(out));
}

/** UTCTime for 1950–2049, GeneralizedTime otherwise (RFC 5280 §4.1.2.5). */
export function time(d: Date): Buffer {
  const iso = d.toISOString().replace(/[-:T]/g, '').slice(0, 14); // YYYYMMDDHHMMSS
  const y = d.getUTCFullYear();
  return y >= 1950 && y < 2050 ? tlv(0x17, Buffer.from(`${iso.slice(2)}Z`, 'ascii')) : tlv(0x18, Buffer.from(`${iso}Z`, 'ascii'));
}
