/**
 * Witness cosignatures of checkpoints (mutual witnessing). The hub checks a node's signed
 * checkpoint and its consistency with the last one it cosigned (witness.ts), then countersigns the
 * tree head; each node does the same for the hub's checkpoints (the hub's log is witnessed by the
 * nodes). SHA-256 signature by the witness key (crypto.ts signText) over the canonical JSON of
 *   { type: 'credit-audit-cosignature/1', nodeId, treeSize, rootHash, checkpointTime, witness, cosignedAt }.
 * Who may witness whom (witnessRule): a node's log only the hub (430000); the hub's log any node
 * (witness = its certificate's CN, never 430000).
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
/** The largest witness epoch a cosignature or a witness reset record may state (a verifier walks epochs 1..N). */
export const MAX_EPOCH = 1_000_000;
const NODE = /^[1-9]\d{5}$/;

export interface Cosignature {
  type: 'cosignature';
  /** The node whose checkpoint is cosigned. */
  nodeId: string;
  treeSize: number;
  rootHash: string;
  /** The `time` of the node's checkpoint. */
  checkpointTime: string;
  /** Who cosigns: the hub (430000) for a node's log, a node for the hub's log. */
  witness: string;
  /** The witness's time of the cosignature, UTC ISO with milliseconds. */
  cosignedAt: string;
  /**
   * The witness epoch of the log for this witness (docs/audit-format.md §10a, §10b): for a node's log,
   * the number of witness resets the hub had accepted for the node; for the hub's log, the number of
   * hub-log resets the cosigning node had made (its operator armed them after a hub rollback). Absent = 0
   * (cosignatures made before resets existed); when present, a whole number ≥ 1, and signed.
   */
  epoch?: number;
  /** Base64 signature by the witness key over cosignatureText() (RSA PKCS#1 v1.5 SHA-256, or DER ECDSA SHA-256). */
  signature: string;
  /** SHA-256 of the witness certificate's DER, lower-case hex. */
  signerFingerprint: string;
  /** The witness certificate, PEM. */
  certPem: string;
}

/** A cosignature as a bundle line carries it: the hub certificate is a separate `cert` line. */
export type CosignatureBody = Omit<Cosignature, 'certPem'>;

export interface HubSigningKey {
  keyPem: string;
  certPem: string;
}

type Signed = Pick<Cosignature, 'nodeId' | 'treeSize' | 'rootHash' | 'checkpointTime' | 'witness' | 'cosignedAt' | 'epoch'>;

/** The text a cosignature signature covers (`epoch` only when ≥ 1: epoch-0 texts are those made before epochs existed). */
export function cosignatureText(c: Signed): string {
  return canonicalize({
    type: COSIGNATURE_TEXT_TYPE, nodeId: c.nodeId, treeSize: c.treeSize, rootHash: c.rootHash,
    checkpointTime: c.checkpointTime, witness: c.witness, cosignedAt: c.cosignedAt,
    ...(c.epoch !== undefined && c.epoch > 0 ? { epoch: c.epoch } : {}),
  });
}

/** The witness epoch a cosignature states (absent = 0). */
export function epochOf(c: { epoch?: number | undefined }): number {
  return c.epoch ?? 0;
}

/**
 * Why `witness` (the CN of the cosigning certificate) may not cosign the log of `logNode`, or null:
 * a node's log is witnessed by the hub only, the hub's log by nodes only.
 */
export function witnessRule(logNode: string, witness: string): string | null {
  if (logNode === HUB_NODE_ID) return witness !== HUB_NODE_ID && NODE.test(witness) ? null : `the hub's log is cosigned by the nodes, not by "${witness}"`;
  return witness === HUB_NODE_ID ? null : `only the hub (${HUB_NODE_ID}) cosigns node ${logNode}'s log, not "${witness}"`;
}

/**
 * A witness countersigns a checkpoint it has checked (checkWitness) at its own time `at`: the hub
 * a node's, a node the hub's. ERR_AUDIT_SIGNER_INVALID when the key does not belong to the
 * certificate or the certificate's CN may not witness that log (witnessRule).
 */
export function cosignCheckpoint(cp: Pick<Checkpoint, 'nodeId' | 'treeSize' | 'rootHash' | 'time'>, witness: HubSigningKey, at: Date, epoch = 0): Cosignature {
  let cert: CertFacts;
  try {
    cert = certFacts(witness.certPem);
  } catch {
    throw auditError('ERR_AUDIT_SIGNER_INVALID', 'the witness certificate is not a readable PEM certificate');
  }
  const rule = witnessRule(cp.nodeId, cert.cn);
  if (rule) throw auditError('ERR_AUDIT_SIGNER_INVALID', rule);
  if (!keyFitsCert(witness.keyPem, witness.certPem)) throw auditError('ERR_AUDIT_SIGNER_INVALID', 'the witness signing key does not belong to its certificate');
  if (!Number.isSafeInteger(epoch) || epoch < 0 || epoch > MAX_EPOCH) throw auditError('ERR_AUDIT_SIGNER_INVALID', `witness epoch ${epoch} is not a whole number from 0 to ${MAX_EPOCH}`);
  const body: Signed = { nodeId: cp.nodeId, treeSize: cp.treeSize, rootHash: cp.rootHash, checkpointTime: cp.time, witness: cert.cn, cosignedAt: at.toISOString(), ...(epoch > 0 ? { epoch } : {}) };
  return { type: 'cosignature', ...body, signature: signText(witness.keyPem, cosignatureText(body)), signerFingerprint: cert.fingerprint, certPem: cert.pem };
}

const BODY_KEYS = ['type', 'nodeId', 'treeSize', 'rootHash', 'checkpointTime', 'witness', 'cosignedAt', 'signature', 'signerFingerprint'] as const;
const HEX64 = /^[0-9a-f]{64}$/;
const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

/** Why `o` is not a cosignature (with `certPem` when `withCert`), or null. */
export function cosignatureShapeProblem(o: Record<string, unknown>, withCert: boolean): string | null {
  const keys: string[] = withCert ? [...BODY_KEYS, 'certPem'] : [...BODY_KEYS];
  if (Object.hasOwn(o, 'epoch')) {
    if (!Number.isSafeInteger(o.epoch) || (o.epoch as number) < 1 || (o.epoch as number) > MAX_EPOCH) return `epoch is not a whole number from 1 to ${MAX_EPOCH}`;
    keys.push('epoch');
  }
  if (Object.keys(o).length !== keys.length || !keys.every((k) => Object.hasOwn(o, k))) return 'its fields are not those of a cosignature';
  if (o.type !== 'cosignature') return 'type is not "cosignature"';
  if (typeof o.treeSize !== 'number' || !Number.isSafeInteger(o.treeSize) || o.treeSize < 1) return 'treeSize is not a positive whole number';
  if (typeof o.rootHash !== 'string' || !HEX64.test(o.rootHash) || typeof o.signerFingerprint !== 'string' || !HEX64.test(o.signerFingerprint)) {
    return 'rootHash or signerFingerprint is not a SHA-256 hex digest';
  }
  if (typeof o.checkpointTime !== 'string' || !ISO.test(o.checkpointTime) || typeof o.cosignedAt !== 'string' || !ISO.test(o.cosignedAt)) {
    return 'checkpointTime or cosignedAt is not a UTC ISO time with milliseconds';
  }
  if (typeof o.nodeId !== 'string' || !NODE.test(o.nodeId) || typeof o.witness !== 'string' || !NODE.test(o.witness)) return 'nodeId or witness is not a node id';
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
 * Checks a cosignature against the certificate it names: that certificate's CN is `witness` and
 * may witness the log (witnessRule: the hub for a node's log, a node for the hub's), was valid at cosignedAt and, with `anchors`, chains to them (through
 * `intermediates`) → else ERR_AUDIT_UNTRUSTED_SIGNER; the signature verifies → else ERR_AUDIT_COSIGNATURE.
 */
export function cosignatureProblem(c: CosignatureBody, cert: CertFacts, anchors: readonly CertFacts[] | null, intermediates: readonly CertFacts[] = []): CosignatureProblem | null {
  const at = `the cosignature at tree size ${c.treeSize}`;
  if (cert.fingerprint !== c.signerFingerprint) return { code: 'ERR_AUDIT_COSIGNATURE', reason: `${at} names certificate sha256:${c.signerFingerprint} but carries another one` };
  const rules = [c.witness !== cert.cn ? `its certificate is for "${cert.cn}", not "${c.witness}"` : null, witnessRule(c.nodeId, cert.cn)].filter((x) => x !== null);
  const rule = rules.join('; ');
  if (rule) return { code: 'ERR_AUDIT_UNTRUSTED_SIGNER', reason: `${at} is made by "${c.witness}": ${rule}` };
  if (!verifyText(cert.pem, cosignatureText(c), c.signature)) return { code: 'ERR_AUDIT_COSIGNATURE', reason: `the signature of ${at} does not verify with the witness certificate` };
  const when = new Date(c.cosignedAt);
  if (anchors) {
    const problem = chainProblem(cert, intermediates, anchors, when);
    if (problem) return { code: 'ERR_AUDIT_UNTRUSTED_SIGNER', reason: `${at}: ${problem}` };
  } else if (!(cert.notBefore.getTime() <= when.getTime() && when.getTime() <= cert.notAfter.getTime())) {
    return { code: 'ERR_AUDIT_UNTRUSTED_SIGNER', reason: `${at}: the witness certificate is not valid at ${c.cosignedAt}` };
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
