/** The key that signs checkpoints: a node's (or the hub's) RSA or EC key and certificate, or its SM2 one for a log on SM. */
import { certFacts, hashAlgOfCert, keyFitsCert, signText, type AuditHashAlg } from './crypto.js';
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

/** A server's signing keys: its RSA/EC key and certificate, and its SM2 ones when it holds an SM2 identity. */
export interface SigningKeys {
  keyPem: string;
  certPem: string;
  sm2?: { keyPem: string; certPem: string } | undefined;
}

/**
 * The key that signs a log hashed with `alg`: the SM2 key for `sm3`, the RSA/EC key for `sha256`.
 * ERR_AUDIT_ALGORITHM_MIXED when the server holds no SM2 key for an SM log; `fix` is the one-line
 * remedy the message ends with (how this server gets an SM2 certificate, or which setting to change).
 */
export function signerForAlg(alg: AuditHashAlg, nodeId: string, keys: SigningKeys, fix: string): AuditSigner {
  if (alg === 'sha256') return { nodeId, keyPem: keys.keyPem, certPem: keys.certPem };
  if (keys.sm2 === undefined) throw auditError('ERR_AUDIT_ALGORITHM_MIXED', `the audit log of ${nodeId} hashes with sm3, which needs an SM2 signing certificate, and ${nodeId} holds none: ${fix}`, { alg, signerAlg: 'sha256' });
  return { nodeId, keyPem: keys.sm2.keyPem, certPem: keys.sm2.certPem };
}

/**
 * The key a witness cosigns another log's checkpoint with: the one of the algorithm of that log
 * (told by the key that signed the checkpoint), so a cosignature never mixes algorithms into the
 * log it belongs to — an SM log gets SM2 cosignatures whatever the witness's own log uses.
 */
export function witnessKeyFor(checkpointCertPem: string, nodeId: string, keys: SigningKeys): { keyPem: string; certPem: string } {
  const s = signerForAlg(hashAlgOfCert(checkpointCertPem), nodeId, keys, 'it cannot cosign a log on SM (give it an SM2 certificate from the provincial SM2 root)');
  return { keyPem: s.keyPem, certPem: s.certPem };
}
