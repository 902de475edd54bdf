/** The key that signs checkpoints: a node's (or the hub's) RSA or EC key and certificate, or its SM2 one for a log on SM. */
import { certFacts, keyFitsCert, signText, type AuditHashAlg } from './crypto.js';
import { checkpointText } from './entry.js';
import { auditError } from './errors.js';
import { assertSignerAlg } from './log-meta.js';
import type { StoredCheckpoint } from './store.js';

export interface AuditSigner {
  nodeId: string;
  keyPem: string;
  certPem: string;
  /** Intermediate certificates, if any, carried into export bundles. */
  chainPems?: string[];
}

export interface ReadySigner extends AuditSigner {
  fingerprint: string;
  notBefore: Date;
  notAfter: Date;
}

/**
 * Checks once that the key belongs to the certificate (ERR_AUDIT_SIGNER_INVALID otherwise) and,
 * given the log's algorithm, that the key signs with it (ERR_AUDIT_ALGORITHM_MIXED otherwise).
 */
export function readySigner(s: AuditSigner, alg?: AuditHashAlg): ReadySigner {
  if (!keyFitsCert(s.keyPem, s.certPem)) throw auditError('ERR_AUDIT_SIGNER_INVALID', `the audit signing key of ${s.nodeId} does not belong to its certificate`);
  if (alg !== undefined) assertSignerAlg(s.certPem, alg, s.nodeId);
  const f = certFacts(s.certPem);
  return { ...s, fingerprint: f.fingerprint, notBefore: f.notBefore, notAfter: f.notAfter };
}

/**
 * True when the signer's certificate is valid at `time`. A checkpoint signed outside that span
 * never verifies (the verifier checks the certificate at the checkpoint's time), so the log signs
 * none then — e.g. a node whose certificate ran out before it could renew; its entries are covered
 * by the next checkpoint signed with a valid certificate (after setSigner, or at export).
 */
export function canSignAt(s: ReadySigner, time: Date): boolean {
  return time.getTime() >= s.notBefore.getTime() && time.getTime() <= s.notAfter.getTime();
}

export function signCheckpoint(s: ReadySigner, treeSize: number, rootHash: string, time: Date, alg: AuditHashAlg = 'sha256'): StoredCheckpoint {
  const body = { treeSize, rootHash, time: time.toISOString(), nodeId: s.nodeId };
  return { ...body, signature: signText(s.keyPem, checkpointText(body, alg)), signerFingerprint: s.fingerprint, certPem: s.certPem, chainPems: s.chainPems ?? [] };
}
