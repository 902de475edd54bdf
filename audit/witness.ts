/**
 * Witnessing node audit logs (issue #6). The node sends the hub its latest signed checkpoint with
 * the certificate that signed it and an RFC 6962 consistency proof from the tree head the hub last
 * cosigned for it (witnessPayload); the hub checks all of it (checkWitness) before it cosigns
 * (cosign.ts) and remembers the new head. A node that rewrote, truncated or forked its log after a
 * cosignature can no longer get one: ERR_AUDIT_INCONSISTENT.
 *
 * checkWitness is pure apart from the crypto calls (the hub passes its stored head and trust
 * policy); witnessPayload reads the node's store.
 */
import type { Knex } from 'knex';
import { isCreditError } from '../protocol/errors.js';
import type { CheckpointPayload, WitnessState } from '../protocol/exchange.js';
import type { TrustPolicy } from '../protocol/trust.js';
import { certFacts, hashAlgOfCert, sameHex, verifyText, type CertFacts } from './crypto.js';
import { checkpointText } from './entry.js';
import { auditError } from './errors.js';
import type { AuditLog } from './log.js';
import { verifyConsistency } from './merkle.js';
import { proveConsistency } from './proofs.js';
import { checkpointAt, latestCheckpoint } from './store.js';

export interface WitnessHead {
  treeSize: number;
  rootHash: string;
}

export interface CheckWitnessInput {
  /** The node that sent the checkpoint (the envelope's signer / TLS peer). */
  nodeId: string;
  /** The head the hub last cosigned for this node; null (or treeSize 0) when none. */
  prev: { treeSize: number; rootHash: string | null } | null;
  payload: CheckpointPayload;
  /** The hub's trust policy (CA + revocation); the checkpoint certificate is checked at the checkpoint's time. */
  trust: TrustPolicy;
}

const HEX64 = /^[0-9a-f]{64}$/;
const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

type InconsistencyKind = 'smaller' | 'forked' | 'proof-missing' | 'proof-stale' | 'proof-invalid';

function inconsistent(kind: InconsistencyKind, why: string, prev: WitnessHead, cp: WitnessHead) {
  return auditError('ERR_AUDIT_INCONSISTENT', `node audit log inconsistent with the head cosigned at tree size ${prev.treeSize}: ${why}`, {
    kind, cosigned: { treeSize: prev.treeSize, rootHash: prev.rootHash }, received: { treeSize: cp.treeSize, rootHash: cp.rootHash },
  });
}

/**
 * The hub's check of a node's checkpoint before cosigning it. Returns the new head to remember.
 * - checkpoint malformed or its signature not the certificate's → ERR_AUDIT_CHECKPOINT_SIGNATURE
 * - certificate unreadable, not trusted at the checkpoint time (trust.verifySigner: CA, validity,
 *   revocation), its CN not `nodeId` or not the checkpoint's nodeId, or not the certificate the
 *   checkpoint names (fingerprint) → ERR_AUDIT_UNTRUSTED_SIGNER (details.cause: the ERR_CERT_… code)
 * - smaller than `prev`, same size with another root, or no / wrong / stale consistency proof from
 *   `prev` → ERR_AUDIT_INCONSISTENT (details.kind says which)
 */
export function checkWitness(input: CheckWitnessInput): WitnessHead {
  const { nodeId, payload, trust } = input;
  const cp = payload?.checkpoint;
  if (!cp || typeof cp !== 'object') throw auditError('ERR_AUDIT_CHECKPOINT_SIGNATURE', 'the payload carries no checkpoint');
  if (!Number.isSafeInteger(cp.treeSize) || cp.treeSize < 1 || typeof cp.rootHash !== 'string' || !HEX64.test(cp.rootHash)) {
    throw auditError('ERR_AUDIT_CHECKPOINT_SIGNATURE', 'the checkpoint has no valid tree size and root hash');
  }
  if (typeof cp.time !== 'string' || !ISO.test(cp.time) || Number.isNaN(Date.parse(cp.time))) {
    throw auditError('ERR_AUDIT_CHECKPOINT_SIGNATURE', 'the checkpoint time is not a UTC ISO time with milliseconds');
  }
  if (typeof cp.signature !== 'string' || typeof cp.nodeId !== 'string') throw auditError('ERR_AUDIT_CHECKPOINT_SIGNATURE', 'the checkpoint signature or node id is missing');
  let cert: CertFacts;
  try {
    cert = certFacts(payload.signerCertPem);
  } catch {
    throw auditError('ERR_AUDIT_UNTRUSTED_SIGNER', 'the checkpoint signer certificate is not a readable PEM certificate');
  }
  // the log's algorithm follows from its signer's key (a log never mixes: log-meta.ts)
  const alg = hashAlgOfCert(cert.pem);
  if (!verifyText(cert.pem, checkpointText(cp, alg), cp.signature)) {
    throw auditError('ERR_AUDIT_CHECKPOINT_SIGNATURE', `the signature of the checkpoint at tree size ${cp.treeSize} does not verify with the certificate sent with it`);
  }
  let signerNode: string;
  try {
    signerNode = trust.verifySigner(payload.signerCertPem, new Date(cp.time)).nodeId;
  } catch (e) {
    if (!isCreditError(e)) throw e;
    throw auditError('ERR_AUDIT_UNTRUSTED_SIGNER', `the checkpoint signer certificate is not trusted at ${cp.time}: ${e.message}`, { cause: e.code });
  }
  if (signerNode !== nodeId || cp.nodeId !== nodeId) {
    throw auditError('ERR_AUDIT_UNTRUSTED_SIGNER', `node ${nodeId} sent a checkpoint of node ${cp.nodeId} signed by a certificate for ${signerNode}`);
  }
  if (typeof cp.signerFingerprint !== 'string' || !sameHex(cp.signerFingerprint, cert.fingerprint)) {
    throw auditError('ERR_AUDIT_UNTRUSTED_SIGNER', `the checkpoint names certificate sha256:${String(cp.signerFingerprint)}, not the one sent with it`);
  }

  const head = { treeSize: cp.treeSize, rootHash: cp.rootHash };
  const prev = input.prev;
  if (!prev || prev.treeSize === 0 || prev.rootHash === null) return head;
  const was = { treeSize: prev.treeSize, rootHash: prev.rootHash };
  if (cp.treeSize < was.treeSize) throw inconsistent('smaller', `the new checkpoint covers only ${cp.treeSize} entries: the log was truncated or replaced`, was, head);
  if (cp.treeSize === was.treeSize) {
    if (!sameHex(cp.rootHash, was.rootHash)) throw inconsistent('forked', `the same tree size now has another root: the log was rewritten`, was, head);
    return head;
  }
  const proof = payload.proof;
  if (!proof) throw inconsistent('proof-missing', `no consistency proof from tree size ${was.treeSize} to ${cp.treeSize} was sent`, was, head);
  if (proof.from !== was.treeSize || typeof proof.fromRoot !== 'string' || !sameHex(proof.fromRoot, was.rootHash)) {
    throw inconsistent('proof-stale', `the proof starts at tree size ${String(proof.from)} with root ${String(proof.fromRoot)}, not at the cosigned head`, was, head);
  }
  const path = Array.isArray(proof.proof) && proof.proof.every((h) => typeof h === 'string' && HEX64.test(h)) ? proof.proof.map((h) => Buffer.from(h, 'hex')) : null;
  if (!path || !verifyConsistency(was.treeSize, cp.treeSize, Buffer.from(was.rootHash, 'hex'), Buffer.from(cp.rootHash, 'hex'), path, alg)) {
    throw inconsistent('proof-invalid', `the tree of ${cp.treeSize} entries does not extend the cosigned tree of ${was.treeSize}: the log was rewritten or forked`, was, head);
  }
  return head;
}

/**
 * The node's side: the payload of a `checkpoint` envelope for the hub. Signs a checkpoint of the
 * newest entries (log.checkpoint()); when the latest one was signed by an earlier key than the
 * log's current signer (a renewal since), records an `audit.signer` event first so a checkpoint
 * by the current key exists. Adds the consistency proof from the hub's head (`hubState`, from
 * GET /v1/checkpoints/latest) unless that is 0. Do not call it inside an open transaction.
 * ERR_AUDIT_NO_CHECKPOINT: the log is empty or has no signer. ERR_AUDIT_INCONSISTENT: this log
 * does not extend the head the hub cosigned (shorter, or another root at that size).
 */
export async function witnessPayload(db: Knex, log: AuditLog, hubState: Pick<WitnessState, 'treeSize' | 'rootHash'>): Promise<CheckpointPayload> {
  const current = log.signerFingerprint();
  if (!current) throw auditError('ERR_AUDIT_NO_CHECKPOINT', 'the audit log has no signer: it cannot sign a checkpoint for the hub');
  let cp = await log.checkpoint();
  if (cp && cp.signerFingerprint !== current) {
    await log.record({ actor: `cert:${current}`, actorNode: cp.nodeId, action: 'audit.signer', object: `sha256:${current}`, outcome: 'success', reason: `checkpoints signed by sha256:${current} from now on (previously sha256:${cp.signerFingerprint})` });
    cp = await log.checkpoint();
  }
  if (!cp) throw auditError('ERR_AUDIT_NO_CHECKPOINT', 'the audit log is empty: there is no checkpoint to send to the hub');
  // Read back what is stored at that size (an export may have signed the same size first).
  const stored = await checkpointAt(db, cp.treeSize);
  if (!stored) throw auditError('ERR_AUDIT_NO_CHECKPOINT', `no checkpoint is stored at tree size ${cp.treeSize}`);
  const { certPem, chainPems: _chain, ...checkpoint } = stored;
  const payload: CheckpointPayload = { checkpoint, signerCertPem: certPem };
  if (!hubState.treeSize) return payload;
  const cosigned = { treeSize: hubState.treeSize, rootHash: hubState.rootHash ?? '' };
  const local = { treeSize: stored.treeSize, rootHash: stored.rootHash };
  if (cosigned.treeSize > stored.treeSize) throw inconsistent('smaller', `this log holds ${stored.treeSize} entries, fewer than the hub cosigned`, cosigned, local);
  const p = await proveConsistency(db, cosigned.treeSize, stored.treeSize);
  if (p.fromRoot !== cosigned.rootHash) throw inconsistent('forked', `this log's root at tree size ${cosigned.treeSize} is ${p.fromRoot}, not the one the hub cosigned`, cosigned, local);
  return { ...payload, proof: { from: p.from, fromRoot: p.fromRoot, proof: p.proof } };
}

/**
 * Mutual witnessing, the hub's side: its own latest stored checkpoint (not signed anew: a GET
 * writes nothing) for a node to check with checkWitness and cosign, with the consistency proof from
 * tree size `from` — the head that node last cosigned (from the hub's audit_cosignatures), or the
 * size it asked for (`?hubFrom=`) — when smaller. Null when the log has no checkpoint yet.
 */
export async function ownHeadPayload(db: Knex, from: number | null): Promise<Omit<CheckpointPayload, 'hubCosignature'> | null> {
  const stored = await latestCheckpoint(db);
  if (!stored) return null;
  const { certPem, chainPems: _chain, ...checkpoint } = stored;
  if (!from || from >= stored.treeSize) return { checkpoint, signerCertPem: certPem };
  const p = await proveConsistency(db, from, stored.treeSize);
  return { checkpoint, signerCertPem: certPem, proof: { from: p.from, fromRoot: p.fromRoot, proof: p.proof } };
}
