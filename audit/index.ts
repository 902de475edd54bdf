/** The public API of audit/: what node/, hub/ and the `credit audit` commands import. */
export { type AuditEvent, type AuditSink } from './types.js';
export { migrateAudit, rollbackAudit, AUDIT_MIGRATIONS_TABLE } from './schema.js';
export { openAuditLog, type AuditLog, type AuditLogOptions } from './log.js';
export { signerForAlg, witnessKeyFor, type AuditSigner, type SigningKeys } from './signer.js';
export { type AuditEntry, type Checkpoint, GENESIS_HASH } from './entry.js';
export { AUDIT_ERRORS, auditError, type AuditErrorCode } from './errors.js';
export { exportBundle, type ExportOptions, type ExportResult } from './export.js';
export { toNdjson, BUNDLE_FORMAT, type BundleLine, type BundleHeader } from './bundle.js';
export { proveInclusion, proveConsistency, verifyProof, type InclusionProof, type ConsistencyProof, type ProofVerdict } from './proofs.js';
export { pruneAudit, RETENTION_DAYS, type PruneOptions, type PruneResult } from './prune.js';
export { verifyBundle, summaryLine, type VerifyReport } from './verify-bundle.js';
export { cosignCheckpoint, verifyCosignature, cosignatureText, COSIGNATURE_TEXT_TYPE, type Cosignature, type CosignatureBody, type HubSigningKey, type VerifyCosignatureOptions } from './cosign.js';
export { storeCosignature, latestCosignature, cosignaturesBetween } from './cosign-store.js';
export { checkWitness, witnessPayload, type CheckWitnessInput, type WitnessHead } from './witness.js';
