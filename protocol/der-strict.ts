/**
 * A whole-tree DER check (ITU-T X.690 §10–11) for structures read from untrusted clients
 * (certificate signing requests): BER that a lenient parser would take is refused before any
 * field is read, so what the CA reads, what the client signed and what another implementation
 * would read are the same bytes read the same way. Checked, at every level:
 * - universal tags from a fixed list only (no end-of-contents octets, no reserved tags);
 * - definite lengths only, minimally encoded; low tag numbers only; no bytes after the last TLV
 *   of a constructed value or after the top-level one (der.ts readTlv / readOne);
 * - the constructed form only for SEQUENCE (0x30), SET (0x31) and context/application-tagged
 *   values; the primitive form for every other universal type (no constructed BIT/OCTET STRING);
 * - BOOLEAN one octet, 0x00 or 0xFF; NULL empty; INTEGER non-empty and minimal (no leading 0x00
 *   before a clear high bit, no leading 0xFF before a set one); OBJECT IDENTIFIER minimal arcs;
 *   BIT STRING with 0–7 unused bits, none when empty, and the unused bits zero;
 * - a universal SET's elements in ascending order of their encodings (SET OF, §11.6);
 * - at most `maxDepth` levels (a bound on the recursion, far above what a CSR needs).
 * Not checked: the ordering of a context-tagged SET OF (a CSR's [0] attributes), string types'
 * character repertoires, and time formats (a CSR carries no time). Throws Error('DER: …').
 */
import { readOne, readTlv, type DerNode } from './der.js';

const SEQUENCE = 0x30;
const SET = 0x31;

function fail(message: string): never {
  throw new Error(`DER: ${message}`);
}

function kids(node: DerNode): DerNode[] {
  const out: DerNode[] = [];
  for (let at = 0; at < node.value.length; ) {
    const c = readTlv(node.value, at);
    out.push(c);
    at = c.end;
  }
  return out;
}

function checkPrimitive(n: DerNode): void {
  const v = n.value;
  switch (n.tag) {
    case 0x01: // BOOLEAN
      if (v.length !== 1 || (v[0] !== 0x00 && v[0] !== 0xff)) fail('BOOLEAN not one octet 0x00 or 0xFF');
      return;
    case 0x02: // INTEGER
    case 0x0a: // ENUMERATED
      if (v.length === 0) fail('empty INTEGER');
      if (v.length > 1 && ((v[0] === 0x00 && !(v[1]! & 0x80)) || (v[0] === 0xff && v[1]! & 0x80))) fail('INTEGER not minimally encoded');
      return;
    case 0x03: {
      // BIT STRING
      if (v.length === 0) fail('BIT STRING without its unused-bits octet');
      const unused = v[0]!;
      if (unused > 7 || (v.length === 1 && unused !== 0)) fail('BIT STRING unused-bits octet out of range');
      if (unused > 0 && v[v.length - 1]! & ((1 << unused) - 1)) fail('BIT STRING unused bits not zero');
      return;
    }
    case 0x05: // NULL
      if (v.length !== 0) fail('NULL with content');
      return;
    case 0x06: {
      // minimal arcs only (the value is not computed: an arc may exceed 2^53, e.g. 2.25.<UUID>)
      if (v.length === 0 || v[v.length - 1]! & 0x80) fail('OBJECT IDENTIFIER empty or ending inside an arc');
      for (let i = 0; i < v.length; i++) if (v[i] === 0x80 && (i === 0 || !(v[i - 1]! & 0x80))) fail('OID arc not minimally encoded (leading 0x80)');
      return;
    }
    default:
  }
}

/**
 * Universal tags accepted in the primitive form: BOOLEAN, INTEGER, BIT STRING, OCTET STRING, NULL,
 * OBJECT IDENTIFIER, ENUMERATED, UTF8String, NumericString, PrintableString, T61String, IA5String,
 * UTCTime, GeneralizedTime, VisibleString, UniversalString, BMPString. Anything else universal —
 * end-of-contents (0x00), reserved tags, a primitive SEQUENCE/SET (0x10/0x11) — is refused.
 */
const PRIMITIVE_UNIVERSAL = new Set([0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x0a, 0x0c, 0x12, 0x13, 0x14, 0x16, 0x17, 0x18, 0x1a, 0x1c, 0x1e]);

function walk(n: DerNode, depth: number, maxDepth: number): void {
  if (depth > maxDepth) fail(`nested deeper than ${maxDepth} levels`);
  const constructed = (n.tag & 0x20) !== 0;
  const universal = (n.tag & 0xc0) === 0;
  if (!constructed) {
    if (universal) {
      if (!PRIMITIVE_UNIVERSAL.has(n.tag)) fail(`universal tag 0x${n.tag.toString(16)} in the primitive form`);
      checkPrimitive(n);
    }
    return;
  }
  if (universal && n.tag !== SEQUENCE && n.tag !== SET) fail(`universal tag 0x${(n.tag & 0x1f).toString(16)} in the constructed form`);
  const cs = kids(n);
  for (const c of cs) walk(c, depth + 1, maxDepth);
  if (n.tag === SET) {
    for (let i = 1; i < cs.length; i++) if (Buffer.compare(cs[i - 1]!.raw, cs[i]!.raw) > 0) fail('SET elements not in ascending order');
  }
}

/** Throws unless `buf` is exactly one TLV that is DER all the way down (see the file comment). */
export function assertStrictDer(buf: Buffer, maxDepth = 32): DerNode {
  const top = readOne(buf);
  walk(top, 1, maxDepth);
  return top;
}
