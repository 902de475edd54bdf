/** The key that signs checkpoints: a node's (or the hub's) RSA key and certificate. */
import { certFacts, keyFitsCert, signText } from './crypto.js';
import { checkpointText } from './entry.js';
import { auditError } from './errors.js';
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

/** Checks once that the key belongs to the certificate (ERR_AUDIT_SIGNER_INVALID otherwise). */
export function readySigner(s: AuditSigner): ReadySigner {
  if (!keyFitsCert(s.keyPem, s.certPem)) throw auditError('ERR_AUDIT_SIGNER_INVALID', `the audit signing key of ${s.nodeId} does not belong to its certificate`);
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

export function signCheckpoint(s: ReadySigner, treeSize: number, rootHash: string, time: Date): StoredCheckpoint {
  const body = { treeSize, rootHash, time: time.toISOString(), nodeId: s.nodeId };
  return { ...body, signature: signText(s.keyPem, checkpointText(body)), signerFingerprint: s.fingerprint, certPem: s.certPem, chainPems: s.chainPems ?? [] };
}
