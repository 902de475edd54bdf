/**
 * Inclusion and consistency proofs from a store, as self-contained JSON an auditor can check with
 * `credit audit verify-proof` (verifyProof below, no I/O). Each proof carries the signed
 * checkpoint(s) at its tree size(s) when one is stored, so with `--ca` the roots are tied to the
 * node's key.
 */
import type { Knex } from 'knex';
import { caTrust } from '../protocol/ca-trust.js';
import { isCreditError } from '../protocol/errors.js';
import { certFingerprint, hashAlgOfCert, verifyText, type AuditHashAlg } from './crypto.js';
import { checkpointText, hashEntry, type AuditEntry, type Checkpoint } from './entry.js';
import { auditError } from './errors.js';
import { consistencyProof, inclusionProof, rangeHasher, verifyConsistency, verifyInclusion } from './merkle.js';
import { checkpointAt, entries, lastSeq, latestCheckpoint, leafHashes, pruneBase } from './store.js';

type SignedCheckpoint = Checkpoint & { certPem: string };

export interface InclusionProof {
  type: 'inclusion';
  seq: number;
  leafHash: string;
  entry: AuditEntry;
  treeSize: number;
  rootHash: string;
  proof: string[];
  checkpoint?: SignedCheckpoint;
  /** `sm3` for a log on SM; absent for SHA-256. */
  hash?: 'sm3';
}

export interface ConsistencyProof {
  type: 'consistency';
  from: number;
  to: number;
  fromRoot: string;
  toRoot: string;
  proof: string[];
  checkpoints: SignedCheckpoint[];
  /** `sm3` for a log on SM; absent for SHA-256. */
  hash?: 'sm3';
}

async function hasherUpTo(db: Knex, size: number) {
  const base = await pruneBase(db);
  const last = await lastSeq(db);
  if (size < 1 || size > last) throw auditError('ERR_AUDIT_RANGE', `tree size ${size} is outside the log (1..${last})`);
  return { hash: rangeHasher(await leafHashes(db, base.firstKept, size), base.range), base };
}

async function signed(db: Knex, size: number): Promise<SignedCheckpoint | undefined> {
  const cp = await checkpointAt(db, size);
  if (!cp) return undefined;
  const { chainPems: _c, ...rest } = cp;
  return rest;
}

/** Proof that entry `seq` is in the tree of `treeSize` (default: the latest checkpoint covering it, else the whole log). */
export async function proveInclusion(db: Knex, seq: number, treeSize?: number): Promise<InclusionProof> {
  const latest = await latestCheckpoint(db);
  const size = treeSize ?? (latest && latest.treeSize >= seq ? latest.treeSize : await lastSeq(db));
  if (seq < 1 || seq > size) throw auditError('ERR_AUDIT_RANGE', `entry ${seq} is not in a tree of ${size}`);
  const { hash, base } = await hasherUpTo(db, size);
  if (seq < base.firstKept) throw auditError('ERR_AUDIT_PRUNED', `entry ${seq} has been pruned`);
  const [entry] = await entries(db, seq, seq);
  const cp = await signed(db, size);
  return {
    type: 'inclusion', seq, leafHash: entry!.leafHash, entry: entry!, treeSize: size, rootHash: hash(0, size).toString('hex'),
    proof: inclusionProof(hash, seq - 1, size).map((b) => b.toString('hex')), ...(cp ? { checkpoint: cp } : {}), ...algField(base.range.alg),
  };
}

/** Proof that the tree of size `to` extends the tree of size `from`. */
export async function proveConsistency(db: Knex, from: number, to: number): Promise<ConsistencyProof> {
  if (from < 1 || from > to) throw auditError('ERR_AUDIT_RANGE', `no consistency proof from ${from} to ${to}`);
  const { hash, base } = await hasherUpTo(db, to);
  const proof = consistencyProof(hash, from, to).map((b) => b.toString('hex'));
  const cps = (await Promise.all([signed(db, from), signed(db, to)])).filter((c): c is SignedCheckpoint => c !== undefined);
  return { type: 'consistency', from, to, fromRoot: hash(0, from).toString('hex'), toRoot: hash(0, to).toString('hex'), proof, checkpoints: from === to ? cps.slice(0, 1) : cps, ...algField(base.range.alg) };
}

function algField(alg: AuditHashAlg): { hash?: 'sm3' } {
  return alg === 'sm3' ? { hash: 'sm3' } : {};
}

export interface ProofVerdict {
  type: 'inclusion' | 'consistency';
  /** Tree sizes whose roots are backed by a verified, trusted checkpoint signature. */
  signedSizes: number[];
  summary: string;
}

interface LooseProof {
  type?: string; proof?: unknown[]; seq?: number; treeSize?: number; entry?: AuditEntry; leafHash?: string; rootHash?: string;
  checkpoint?: SignedCheckpoint; from?: number; to?: number; fromRoot?: string; toRoot?: string; checkpoints?: SignedCheckpoint[]; hash?: unknown;
}

const bad = (why: string) => auditError('ERR_AUDIT_PROOF_INVALID', why);
const hex = (s: unknown): Buffer => {
  if (typeof s !== 'string' || !/^[0-9a-f]{64}$/.test(s)) throw bad('a hash is not 64 hex digits');
  return Buffer.from(s, 'hex');
};

function checkSigned(cp: SignedCheckpoint, size: number, root: string, caPems: readonly string[] | undefined, alg: AuditHashAlg): boolean {
  if (cp.treeSize !== size || cp.rootHash !== root) throw bad(`the checkpoint at ${cp.treeSize} does not state root ${root} for size ${size}`);
  if (certFingerprint(cp.certPem) !== cp.signerFingerprint) throw bad(`the checkpoint signature at ${size} does not verify`);
  if (hashAlgOfCert(cp.certPem) !== alg) throw auditError('ERR_AUDIT_ALGORITHM_MIXED', `the checkpoint at ${size} is signed with a key of another algorithm than the proof's ${alg}`);
  if (!verifyText(cp.certPem, checkpointText(cp, alg), cp.signature)) throw bad(`the checkpoint signature at ${size} does not verify`);
  if (!caPems?.length) return false;
  try {
    const who = caTrust({ caCertPems: caPems }).verifySigner(cp.certPem, new Date(cp.time));
    if (who.nodeId !== cp.nodeId) throw bad(`the checkpoint at ${size} is signed by ${who.nodeId}, not ${cp.nodeId}`);
  } catch (e) {
    throw bad(`the checkpoint signer at ${size} is not trusted: ${isCreditError(e) ? e.message : String(e)}`);
  }
  return true;
}

/** Checks a proof produced above; throws ERR_AUDIT_PROOF_INVALID saying why. */
export function verifyProof(input: unknown, caPems?: readonly string[]): ProofVerdict {
  const p = input as LooseProof | null;
  if (!p || typeof p !== 'object' || !Array.isArray(p.proof)) throw bad('not a proof object');
  const path = p.proof.map(hex);
  if (p.hash !== undefined && p.hash !== 'sm3') throw bad('hash is neither absent (SHA-256) nor "sm3"');
  const alg: AuditHashAlg = p.hash === 'sm3' ? 'sm3' : 'sha256';
  if (p.type === 'inclusion') {
    const { seq, treeSize, entry } = p as InclusionProof;
    if (typeof p.rootHash !== 'string') throw bad('rootHash is missing');
    if (!Number.isSafeInteger(seq) || !Number.isSafeInteger(treeSize)) throw bad('seq and treeSize must be whole numbers');
    if (entry) {
      const { leafHash, ...fields } = entry;
      if (entry.seq !== seq || hashEntry(fields, alg) !== leafHash || leafHash !== p.leafHash) throw bad(`entry ${seq} does not match the leaf hash`);
    }
    if (!verifyInclusion(hex(p.leafHash), seq - 1, treeSize, path, hex(p.rootHash), alg)) throw bad(`entry ${seq} is not in the tree of ${treeSize} with root ${String(p.rootHash)}`);
    const signedSizes = p.checkpoint && checkSigned(p.checkpoint, treeSize, p.rootHash, caPems, alg) ? [treeSize] : [];
    return { type: 'inclusion', signedSizes, summary: `entry ${seq} is included in the tree of ${treeSize} entries (root ${p.rootHash.slice(0, 16)}…)${signedSizes.length ? ', signed by a trusted signer' : ''}` };
  }
  if (p.type === 'consistency') {
    const { from, to } = p as ConsistencyProof;
    if (typeof p.fromRoot !== 'string' || typeof p.toRoot !== 'string') throw bad('fromRoot and toRoot are required');
    if (!Number.isSafeInteger(from) || !Number.isSafeInteger(to)) throw bad('from and to must be whole numbers');
    if (!verifyConsistency(from, to, hex(p.fromRoot), hex(p.toRoot), path, alg)) throw bad(`the tree of ${to} does not extend the tree of ${from}`);
    const signedSizes: number[] = [];
    for (const cp of p.checkpoints ?? []) {
      const root = cp.treeSize === from ? p.fromRoot : cp.treeSize === to ? p.toRoot : null;
      if (root === null) throw bad(`a checkpoint at ${cp.treeSize} belongs to neither tree size`);
      if (checkSigned(cp, cp.treeSize, root, caPems, alg)) signedSizes.push(cp.treeSize);
    }
    return { type: 'consistency', signedSizes, summary: `the tree of ${to} entries extends the tree of ${from} entries${signedSizes.length ? ` (signed sizes: ${signedSizes.join(', ')})` : ''}` };
  }
  throw bad('proof type must be "inclusion" or "consistency"');
}
