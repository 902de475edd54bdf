import t from 'tap';
import fc from 'fast-check';
import { createHash } from 'node:crypto';
import {
  CompactRange, EMPTY_ROOT, consistencyProof, inclusionProof, merkleRoot, rangeHasher, verifyConsistency, verifyInclusion,
} from '../../audit/merkle.js';
import { leafHash } from '../../audit/crypto.js';

// An independent, literal RFC 6962 §2.1 MTH (recursive, straight from the text) as the oracle.
const H = (...parts: Buffer[]) => createHash('sha256').update(Buffer.concat(parts)).digest();
function mth(d: Buffer[]): Buffer {
  if (d.length === 0) return H();
  if (d.length === 1) return H(Buffer.from([0]), d[0]!);
  let k = 1;
  while (k * 2 < d.length) k *= 2;
  return H(Buffer.from([1]), mth(d.slice(0, k)), mth(d.slice(k)));
}
const inputs = (n: number) => Array.from({ length: n }, (_, i) => Buffer.from(`leaf ${i}`));
const leavesOf = (d: Buffer[]) => d.map((x) => leafHash(x));

t.test('roots equal the literal RFC 6962 MTH for sizes 0..64 (compact range and range hasher)', async (t) => {
  t.same(merkleRoot([]), EMPTY_ROOT);
  for (let n = 1; n <= 64; n++) {
    const d = inputs(n);
    const expect = mth(d);
    t.ok(merkleRoot(leavesOf(d)).equals(expect), `compact range root, n=${n}`);
    t.ok(rangeHasher(leavesOf(d))(0, n).equals(expect), `range hasher root, n=${n}`);
  }
});

t.test('known CT test vector: the 8-leaf tree of RFC 6962 reference data', async (t) => {
  // Leaves from certificate-transparency's merkle_tree_test: "", 00, 10, 2021, 3031, 40414243, ...
  const hex = ['', '00', '10', '2021', '3031', '40414243', '5051525354555657', '606162636465666768696a6b6c6d6e6f'];
  const root = merkleRoot(hex.map((h) => leafHash(Buffer.from(h, 'hex'))));
  t.equal(root.toString('hex'), '5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328');
});

t.test('every inclusion proof verifies, for every leaf of every size 1..64; a wrong leaf/index/root does not', async (t) => {
  let checked = 0;
  for (let n = 1; n <= 64; n++) {
    const leaves = leavesOf(inputs(n));
    const hash = rangeHasher(leaves);
    const root = hash(0, n);
    for (let m = 0; m < n; m++) {
      const p = inclusionProof(hash, m, n);
      if (!verifyInclusion(leaves[m]!, m, n, p, root)) t.fail(`inclusion m=${m} n=${n}`);
      if (n > 1 && verifyInclusion(leaves[(m + 1) % n]!, m, n, p, root)) t.fail(`wrong leaf accepted m=${m} n=${n}`);
      if (verifyInclusion(leaves[m]!, m, n, p, EMPTY_ROOT)) t.fail(`wrong root accepted m=${m} n=${n}`);
      checked++;
    }
  }
  t.equal(checked, (64 * 65) / 2, 'all (m, n) pairs checked');
});

t.test('every consistency proof verifies for 1 ≤ m ≤ n ≤ 64; swapped roots do not', async (t) => {
  let checked = 0;
  for (let n = 1; n <= 64; n++) {
    const leaves = leavesOf(inputs(n));
    const hash = rangeHasher(leaves);
    for (let m = 1; m <= n; m++) {
      const p = consistencyProof(hash, m, n);
      const r1 = hash(0, m);
      const r2 = hash(0, n);
      if (!verifyConsistency(m, n, r1, r2, p)) t.fail(`consistency m=${m} n=${n}`);
      if (m < n && verifyConsistency(m, n, r2, r1, p)) t.fail(`swapped roots accepted m=${m} n=${n}`);
      checked++;
    }
  }
  t.equal(checked, (64 * 65) / 2);
});

t.test('property: a proof with one altered hash never verifies (fast-check)', async (t) => {
  fc.assert(
    fc.property(fc.integer({ min: 2, max: 64 }), fc.nat(), fc.nat(), fc.nat(), (n, a, b, c) => {
      const leaves = leavesOf(inputs(n));
      const hash = rangeHasher(leaves);
      const m = a % n;
      const p = inclusionProof(hash, m, n);
      const bad = p.map((x, i) => (i === b % p.length ? Buffer.from(x.map((byte, j) => (j === c % 32 ? byte ^ 1 : byte))) : x));
      const size1 = (a % n) + 1;
      const cp = consistencyProof(hash, size1, n);
      const badCp = cp.length ? cp.map((x, i) => (i === b % cp.length ? leafHash('x') : x)) : null;
      return !verifyInclusion(leaves[m]!, m, n, bad, hash(0, n)) && (badCp === null || !verifyConsistency(size1, n, hash(0, size1), hash(0, n), badCp));
    }),
    { numRuns: 300 },
  );
  t.pass('300 random tamperings rejected');
});

t.test('property: a tree rebuilt from a compact range (pruned prefix) gives the same roots and proofs', async (t) => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 64 }), fc.nat(), fc.nat(), (n, a, b) => {
      const leaves = leavesOf(inputs(n));
      const k = a % n; // leaves 0..k-1 pruned
      const base = new CompactRange();
      leaves.slice(0, k).forEach((l) => base.append(l));
      const full = rangeHasher(leaves);
      const pruned = rangeHasher(leaves.slice(k), base);
      const m = k + (b % (n - k));
      return pruned(0, n).equals(full(0, n)) && inclusionProof(pruned, m, n).every((x, i) => x.equals(inclusionProof(full, m, n)[i]!));
    }),
    { numRuns: 300 },
  );
  t.pass('pruned and full trees agree');
});

t.test('out-of-range requests and pruned leaves are refused with codes', async (t) => {
  const leaves = leavesOf(inputs(5));
  t.throws(() => inclusionProof(rangeHasher(leaves), 5, 5), { code: 'ERR_AUDIT_RANGE' });
  t.throws(() => consistencyProof(rangeHasher(leaves), 0, 5), { code: 'ERR_AUDIT_RANGE' });
  const base = new CompactRange();
  leaves.slice(0, 4).forEach((l) => base.append(l));
  t.throws(() => inclusionProof(rangeHasher(leaves.slice(4), base), 1, 5), { code: 'ERR_AUDIT_PRUNED' });
  t.throws(() => CompactRange.fromHex(3, ['00'.repeat(32)]), { code: 'ERR_AUDIT_BUNDLE_MALFORMED' });
  t.notOk(verifyInclusion(leaves[0]!, 5, 5, [], EMPTY_ROOT), 'index beyond size is false');
  t.notOk(verifyConsistency(3, 2, EMPTY_ROOT, EMPTY_ROOT, []), 'm > n is false');
});
