/**
 * RFC 6962 Merkle trees (Certificate Transparency): tree hashes over a range of leaves, a compact
 * range ("frontier") for cheap appends, and §2.1.1 inclusion / §2.1.2 consistency proofs with their
 * verification (the algorithms of RFC 9162 §2.1.3.2 and §2.1.4.2). Hashes are 32-byte Buffers:
 * SHA-256, or SM3 for a log created on SM (`alg`, default sha256; the tree's shape is the same).
 */
import { emptyRoot, hashEqual, nodeHash, sha256, type AuditHashAlg } from './crypto.js';
import { auditError } from './errors.js';

/** The root of the empty tree: SHA-256 of the empty string. */
export const EMPTY_ROOT = sha256('');

/** Largest power of two strictly below n (n ≥ 2). */
export function splitPoint(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

/**
 * Perfect subtrees covering leaves [0, size), left to right (one per set bit of size, largest
 * first). Appending a leaf merges equal-sized subtrees; folding them right to left gives the root.
 */
export class CompactRange {
  constructor(
    public size = 0,
    public nodes: Buffer[] = [],
    public readonly alg: AuditHashAlg = 'sha256',
  ) {}

  static fromHex(size: number, nodes: readonly string[], alg: AuditHashAlg = 'sha256'): CompactRange {
    if (nodes.length !== popcount(size)) throw auditError('ERR_AUDIT_BUNDLE_MALFORMED', `a frontier for ${size} leaves has ${popcount(size)} hashes, not ${nodes.length}`);
    return new CompactRange(size, nodes.map((h) => Buffer.from(h, 'hex')), alg);
  }

  clone(): CompactRange {
    return new CompactRange(this.size, [...this.nodes], this.alg);
  }

  append(leaf: Buffer): void {
    let h = leaf;
    let s = this.size;
    while (s % 2 === 1) {
      h = nodeHash(this.nodes.pop()!, h, this.alg);
      s = Math.floor(s / 2);
    }
    this.nodes.push(h);
    this.size++;
  }

  root(): Buffer {
    if (this.nodes.length === 0) return emptyRoot(this.alg);
    let h = this.nodes[this.nodes.length - 1]!;
    for (let i = this.nodes.length - 2; i >= 0; i--) h = nodeHash(this.nodes[i]!, h, this.alg);
    return h;
  }

  /** [lo, hi) of each node, in order. */
  spans(): Array<[number, number]> {
    const out: Array<[number, number]> = [];
    let lo = 0;
    for (let bit = 2 ** Math.floor(Math.log2(Math.max(this.size, 1))); bit >= 1; bit /= 2) {
      if (Math.floor(this.size / bit) % 2 === 1) {
        out.push([lo, lo + bit]);
        lo += bit;
      }
    }
    return out;
  }

  toHex(): string[] {
    return this.nodes.map((n) => n.toString('hex'));
  }
}

function popcount(n: number): number {
  let c = 0;
  for (let x = n; x > 0; x = Math.floor(x / 2)) c += x % 2;
  return c;
}

/** Hash of the subtree over leaves [lo, hi). */
export type RangeHasher = (lo: number, hi: number) => Buffer;

/**
 * A RangeHasher over leaf hashes `leaves[i - base.size]` for i ≥ base.size, with the leaves before
 * that known only through the compact range `base` (what pruning keeps). A range lying strictly
 * inside a pruned subtree cannot be hashed: ERR_AUDIT_PRUNED.
 */
export function rangeHasher(leaves: readonly Buffer[], base: CompactRange = new CompactRange()): RangeHasher {
  const known = new Map<string, Buffer>();
  base.spans().forEach(([lo, hi], i) => known.set(`${lo}:${hi}`, base.nodes[i]!));
  const hash = (lo: number, hi: number): Buffer => {
    const k = known.get(`${lo}:${hi}`);
    if (k) return k;
    if (hi - lo === 1) {
      if (lo < base.size) throw auditError('ERR_AUDIT_PRUNED', `leaf ${lo + 1} has been pruned`);
      const leaf = leaves[lo - base.size];
      if (!leaf) throw auditError('ERR_AUDIT_RANGE', `leaf ${lo + 1} is not in the log`);
      return leaf;
    }
    const k2 = splitPoint(hi - lo);
    return nodeHash(hash(lo, lo + k2), hash(lo + k2, hi), base.alg);
  };
  return hash;
}

/** MTH over plain leaf hashes. */
export function merkleRoot(leaves: readonly Buffer[], alg: AuditHashAlg = 'sha256'): Buffer {
  const r = new CompactRange(0, [], alg);
  for (const l of leaves) r.append(l);
  return r.root();
}

/** RFC 6962 §2.1.1 PATH(m, D[n]) for the 0-based leaf m in a tree of n leaves. */
export function inclusionProof(hash: RangeHasher, m: number, n: number): Buffer[] {
  if (!(m >= 0 && m < n)) throw auditError('ERR_AUDIT_RANGE', `leaf ${m + 1} is not in a tree of ${n}`);
  const path = (m: number, lo: number, hi: number): Buffer[] => {
    if (hi - lo === 1) return [];
    const k = splitPoint(hi - lo);
    return m < k ? [...path(m, lo, lo + k), hash(lo + k, hi)] : [...path(m - k, lo + k, hi), hash(lo, lo + k)];
  };
  return path(m, 0, n);
}

/** RFC 6962 §2.1.2 PROOF(m, D[n]) between tree sizes m and n (1 ≤ m ≤ n). */
export function consistencyProof(hash: RangeHasher, m: number, n: number): Buffer[] {
  if (!(m >= 1 && m <= n)) throw auditError('ERR_AUDIT_RANGE', `no consistency proof from ${m} to ${n}`);
  const sub = (m: number, lo: number, hi: number, complete: boolean): Buffer[] => {
    if (m === hi - lo) return complete ? [] : [hash(lo, hi)];
    const k = splitPoint(hi - lo);
    return m <= k ? [...sub(m, lo, lo + k, complete), hash(lo + k, hi)] : [...sub(m - k, lo + k, hi, false), hash(lo, lo + k)];
  };
  return sub(m, 0, n, true);
}

const odd = (x: number) => x % 2 === 1;
const half = (x: number) => Math.floor(x / 2);

/** RFC 9162 §2.1.3.2: true when `leaf` is leaf m (0-based) of the tree of size n with `root`. */
export function verifyInclusion(leaf: Buffer, m: number, n: number, proof: readonly Buffer[], root: Buffer, alg: AuditHashAlg = 'sha256'): boolean {
  if (!(m >= 0 && m < n)) return false;
  let fn = m;
  let sn = n - 1;
  let r = leaf;
  for (const p of proof) {
    if (sn === 0) return false;
    if (odd(fn) || fn === sn) {
      r = nodeHash(p, r, alg);
      if (!odd(fn)) while (!odd(fn) && fn !== 0) [fn, sn] = [half(fn), half(sn)];
    } else {
      r = nodeHash(r, p, alg);
    }
    [fn, sn] = [half(fn), half(sn)];
  }
  return sn === 0 && hashEqual(r, root);
}

/** RFC 9162 §2.1.4.2: true when the tree of size n with root2 extends the tree of size m with root1. */
export function verifyConsistency(m: number, n: number, root1: Buffer, root2: Buffer, proof: readonly Buffer[], alg: AuditHashAlg = 'sha256'): boolean {
  if (!(m >= 1 && m <= n)) return false;
  if (m === n) return proof.length === 0 && hashEqual(root1, root2);
  const path = Number.isInteger(Math.log2(m)) ? [root1, ...proof] : [...proof];
  if (path.length === 0) return false;
  let fn = m - 1;
  let sn = n - 1;
  while (odd(fn)) [fn, sn] = [half(fn), half(sn)];
  let fr = path[0]!;
  let sr = path[0]!;
  for (const c of path.slice(1)) {
    if (sn === 0) return false;
    if (odd(fn) || fn === sn) {
      fr = nodeHash(c, fr, alg);
      sr = nodeHash(c, sr, alg);
      if (!odd(fn)) while (!odd(fn) && fn !== 0) [fn, sn] = [half(fn), half(sn)];
    } else {
      sr = nodeHash(sr, c, alg);
    }
    [fn, sn] = [half(fn), half(sn)];
  }
  return sn === 0 && hashEqual(fr, root1) && hashEqual(sr, root2);
}
