/**
 * Hub cosignatures of node checkpoints (witnessing). The hub checks a node's signed checkpoint and
 * its consistency with the last one it cosigned (witness.ts), then countersigns the tree head:
 * SHA-256 signature by the hub key (CN 430000) over the canonical JSON of
 *   { type: 'credit-audit-cosignature/1', nodeId, treeSize, rootHash, checkpointTime, witness, cosignedAt }.
 * Once a node's tree head is cosigned, the node cannot later show anyone a log that does not extend
 * it without the hub (or any auditor holding the cosignature) noticing.
 * Pure apart from the crypto calls. Storage is cosign-store.ts; export and the offline verifier
 * carry and check cosignatures as `cosignature` bundle lines (without certPem; the hub certificate
 * travels as a `cert` line with role "witness").
 */
import { canonicalize } from '../protocol/canonical-json.js';
import { HUB_NODE_ID } from '../certs/issue.js';
import { certFacts, chainProblem, keyFitsCert, signText, splitPemCerts, verifyText, type CertFacts } from './crypto.js';
import type { Checkpoint } from './entry.js';
import { auditError, type AuditErrorCode } from './errors.js';

export const COSIGNATURE_TEXT_TYPE = 'credit-audit-cosignature/1';

export interface Cosignature {
  type: 'cosignature';
  /** The node whose checkpoint is cosigned. */
  nodeId: string;
  treeSize: number;
  rootHash: string;
  /** The `time` of the node's checkpoint. */
  checkpointTime: string;
  /** Who cosigns: the hub, 430000. */
  witness: string;
  /** Hub time of the cosignature, UTC ISO with milliseconds. */
  cosignedAt: string;
  /** Base64 signature by the hub key over cosignatureText() (RSA PKCS#1 v1.5 SHA-256, or ECDSA SHA-256). */
  signature: string;
  /** SHA-256 of the hub certificate's DER, lower-case hex. */
  signerFingerprint: string;
  /** The hub certificate, PEM. */
  certPem: string;
}

/** A cosignature as a bundle line carries it: the hub certificate is a separate `cert` line. */
export type CosignatureBody = Omit<Cosignature, 'certPem'>;

export interface HubSigningKey {
  keyPem: string;
  certPem: string;
}

type Signed = Pick<Cosignature, 'nodeId' | 'treeSize' | 'rootHash' | 'checkpointTime' | 'witness' | 'cosignedAt'>;

/** The text a cosignature signature covers. */
export function cosignatureText(c: Signed): string {
  return canonicalize({
    type: COSIGNATURE_TEXT_TYPE, nodeId: c.nodeId, treeSize: c.treeSize, rootHash: c.rootHash,
    checkpointTime: c.checkpointTime, witness: c.witness, cosignedAt: c.cosignedAt,
  });
}

/**
 * The hub countersigns a checkpoint it has checked (checkWitness) at hub time `at`.
 * ERR_AUDIT_SIGNER_INVALID when the key does not belong to the certificate or the certificate is not the hub's.
 */
export function cosignCheckpoint(cp: Pick<Checkpoint, 'nodeId' | 'treeSize' | 'rootHash' | 'time'>, hub: HubSigningKey, at: Date): Cosignature {
  let cert: CertFacts;
  try {
    cert = certFacts(hub.certPem);
  } catch {
    throw auditError('ERR_AUDIT_SIGNER_INVALID', 'the hub certificate is not a readable PEM certificate');
  }
  if (cert.cn !== HUB_NODE_ID) throw auditError('ERR_AUDIT_SIGNER_INVALID', `cosignatures are made with the hub certificate (CN ${HUB_NODE_ID}), not one for "${cert.cn}"`);
  if (!keyFitsCert(hub.keyPem, hub.certPem)) throw auditError('ERR_AUDIT_SIGNER_INVALID', 'the hub signing key does not belong to the hub certificate');
  const body: Signed = { nodeId: cp.nodeId, treeSize: cp.treeSize, rootHash: cp.rootHash, checkpointTime: cp.time, witness: HUB_NODE_ID, cosignedAt: at.toISOString() };
  return { type: 'cosignature', ...body, signature: signText(hub.keyPem, cosignatureText(body)), signerFingerprint: cert.fingerprint, certPem: cert.pem };
}

const BODY_KEYS = ['type', 'nodeId', 'treeSize', 'rootHash', 'checkpointTime', 'witness', 'cosignedAt', 'signature', 'signerFingerprint'] as const;
const HEX64 = /^[0-9a-f]{64}$/;
const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const NODE = /^[1-9]\d{5}$/;

/** Why `o` is not a cosignature (with `certPem` when `withCert`), or null. */
export function cosignatureShapeProblem(o: Record<string, unknown>, withCert: boolean): string | null {
  const keys = withCert ? [...BODY_KEYS, 'certPem'] : BODY_KEYS;
  if (Object.keys(o).length !== keys.length || !keys.every((k) => Object.hasOwn(o, k))) return 'its fields are not those of a cosignature';
  if (o.type !== 'cosignature') return 'type is not "cosignature"';
  if (typeof o.treeSize !== 'number' || !Number.isSafeInteger(o.treeSize) || o.treeSize < 1) return 'treeSize is not a positive whole number';
  if (typeof o.rootHash !== 'string' || !HEX64.test(o.rootHash) || typeof o.signerFingerprint !== 'string' || !HEX64.test(o.signerFingerprint)) {
    return 'rootHash or signerFingerprint is not a SHA-256 hex digest';
  }
  if (typeof o.checkpointTime !== 'string' || !ISO.test(o.checkpointTime) || typeof o.cosignedAt !== 'string' || !ISO.test(o.cosignedAt)) {
    return 'checkpointTime or cosignedAt is not a UTC ISO time with milliseconds';
  }
  if (typeof o.nodeId !== 'string' || !NODE.test(o.nodeId) || typeof o.witness !== 'string') return 'nodeId or witness is not a node id';
  if (typeof o.signature !== 'string' || o.signature.length === 0) return 'signature is not a string';
  if (withCert && typeof o.certPem !== 'string') return 'certPem is not a string';
  return null;
}

/** Why the cosignature does not belong to this checkpoint (node, tree size, root, time), or null. */
export function cosignatureMismatch(c: Signed, cp: Pick<Checkpoint, 'nodeId' | 'treeSize' | 'rootHash' | 'time'>): string | null {
  if (c.nodeId !== cp.nodeId || c.treeSize !== cp.treeSize) return `the cosignature is for node ${c.nodeId} at tree size ${c.treeSize}, the checkpoint for node ${cp.nodeId} at ${cp.treeSize}`;
  if (c.rootHash !== cp.rootHash) return `the cosignature at tree size ${c.treeSize} states root ${c.rootHash}, the checkpoint ${cp.rootHash}`;
  if (c.checkpointTime !== cp.time) return `the cosignature at tree size ${c.treeSize} is of a checkpoint made at ${c.checkpointTime}, not the one made at ${cp.time}`;
  return null;
}

export interface CosignatureProblem {
  code: AuditErrorCode;
  reason: string;
}

/**
 * Checks a cosignature against the certificate it names: that certificate is the hub's (CN 430000,
 * and so is `witness`), was valid at cosignedAt and, with `anchors`, chains to them (through
 * `intermediates`) → else ERR_AUDIT_UNTRUSTED_SIGNER; the signature verifies → else ERR_AUDIT_COSIGNATURE.
 */
export function cosignatureProblem(c: CosignatureBody, cert: CertFacts, anchors: readonly CertFacts[] | null, intermediates: readonly CertFacts[] = []): CosignatureProblem | null {
  const at = `the cosignature at tree size ${c.treeSize}`;
  if (cert.fingerprint !== c.signerFingerprint) return { code: 'ERR_AUDIT_COSIGNATURE', reason: `${at} names certificate sha256:${c.signerFingerprint} but carries another one` };
  if (c.witness !== HUB_NODE_ID || cert.cn !== HUB_NODE_ID) {
    return { code: 'ERR_AUDIT_UNTRUSTED_SIGNER', reason: `${at} is made by "${c.witness}" with a certificate for "${cert.cn}": only the hub (${HUB_NODE_ID}) cosigns` };
  }
  if (!verifyText(cert.pem, cosignatureText(c), c.signature)) return { code: 'ERR_AUDIT_COSIGNATURE', reason: `the signature of ${at} does not verify with the hub certificate` };
  const when = new Date(c.cosignedAt);
  if (anchors) {
    const problem = chainProblem(cert, intermediates, anchors, when);
    if (problem) return { code: 'ERR_AUDIT_UNTRUSTED_SIGNER', reason: `${at}: ${problem}` };
  } else if (!(cert.notBefore.getTime() <= when.getTime() && when.getTime() <= cert.notAfter.getTime())) {
    return { code: 'ERR_AUDIT_UNTRUSTED_SIGNER', reason: `${at}: the hub certificate is not valid at ${c.cosignedAt}` };
  }
  return null;
}

export interface VerifyCosignatureOptions {
  /** PEM CA certificate(s): the hub certificate must chain to one of them. Without it only the signature, CN and validity are checked. */
  caCertPem?: string | readonly string[];
  /** Also require the cosignature to be of this checkpoint (ERR_AUDIT_COSIGNATURE otherwise). */
  checkpoint?: Pick<Checkpoint, 'nodeId' | 'treeSize' | 'rootHash' | 'time'>;
}

/** Throws ERR_AUDIT_COSIGNATURE (malformed, bad signature, other checkpoint) or ERR_AUDIT_UNTRUSTED_SIGNER (not the hub's trusted certificate). */
export function verifyCosignature(c: Cosignature, opts: VerifyCosignatureOptions = {}): void {
  const shape = typeof c === 'object' && c !== null ? cosignatureShapeProblem(c as unknown as Record<string, unknown>, true) : 'not an object';
  if (shape) throw auditError('ERR_AUDIT_COSIGNATURE', `not a cosignature: ${shape}`);
  let cert: CertFacts;
  try {
    cert = certFacts(c.certPem);
  } catch {
    throw auditError('ERR_AUDIT_UNTRUSTED_SIGNER', 'the cosignature certificate is not a readable PEM certificate');
  }
  let anchors: CertFacts[] | null = null;
  if (opts.caCertPem !== undefined) {
    const pems = (typeof opts.caCertPem === 'string' ? [opts.caCertPem] : opts.caCertPem).flatMap(splitPemCerts);
    try {
      anchors = pems.map(certFacts);
    } catch {
      anchors = [];
    }
    if (anchors.length === 0) throw auditError('ERR_AUDIT_UNTRUSTED_SIGNER', 'no readable CA certificate was given to check the cosignature against');
  }
  const { certPem: _pem, ...body } = c;
  const problem = cosignatureProblem(body, cert, anchors);
  if (problem) throw auditError(problem.code, problem.reason, { treeSize: c.treeSize, nodeId: c.nodeId });
  const mismatch = opts.checkpoint ? cosignatureMismatch(c, opts.checkpoint) : null;
  if (mismatch) throw auditError('ERR_AUDIT_COSIGNATURE', mismatch, { treeSize: c.treeSize, nodeId: c.nodeId });
}
