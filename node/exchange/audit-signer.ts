/**
 * Which of the node's keys signs its audit checkpoints: the log's algorithm decides (config
 * audit.hashAlg when set, else what the log was created with; audit/log-meta.ts). A log on SM (sm3)
 * is signed with the node's SM2 key (DATADIR/exchange/node-sm2.key), a sha256 log with its TLS
 * key. A node asked for sm3 without an SM2 certificate refuses to start (ERR_AUDIT_ALGORITHM_MIXED).
 */
import { signerForAlg, type AuditSigner } from '../../audit/signer.js';
import type { AuditHashAlg } from '../../audit/crypto.js';
import type { ExchangeMaterial } from './files.js';

/** The one-line fix in the refusal of a node without an SM2 certificate. */
export const NODE_SM2_FIX = 'enrol it with an SM2 certificate (`credit node init --sm2` against a hub whose CA directory has an SM2 root), or set audit.hashAlg to sha256 for a new store';

export function nodeAuditSigner(alg: AuditHashAlg, m: Pick<ExchangeMaterial, 'nodeId' | 'keyPem' | 'certPem' | 'sm2'>): AuditSigner {
  return signerForAlg(alg, m.nodeId, m, NODE_SM2_FIX);
}
