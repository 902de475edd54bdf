/** The key that signs checkpoints: a node's (or the hub's) RSA key and certificate. */
import { certFingerprint, keyFitsCert, signText } from './crypto.js';
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
}

/** Checks once that the key belongs to the certificate (ERR_AUDIT_SIGNER_INVALID otherwise). */
export function readySigner(s: AuditSigner): ReadySigner {
  if (!keyFitsCert(s.keyPem, s.certPem)) throw auditError('ERR_AUDIT_SIGNER_INVALID', `the audit signing key of ${s.nodeId} does not belong to its certificate`);
  return { ...s, fingerprint: certFingerprint(s.certPem) };
}

export function signCheckpoint(s: ReadySigner, treeSize: number, rootHash: string, time: Date): StoredCheckpoint {
  const body = { treeSize, rootHash, time: time.toISOString(), nodeId: s.nodeId };
  return { ...body, signature: signText(s.keyPem, checkpointText(body)), signerFingerprint: s.fingerprint, certPem: s.certPem, chainPems: s.chainPems ?? [] };
}
