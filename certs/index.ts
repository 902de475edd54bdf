/** certs/: the provincial CA — enrolment, issue, renewal, revocation, CRL, trust and TLS options. */
export * from './errors.js';
export type * from './types.js';
export { initCaDir, openCaDir, withCaDir, markHubRegister, hubRegisterOf, refuseHubRegister, type HubRegisterMark, createMemoryCa, createCaMaterial, CA_FILES, DEFAULT_CA_NAME, type InitCaOptions, type DirOptions } from './ca-dir.js';
export { memoryStores, StateStore, type CaState } from './state-store.js';
export { FileCaStore } from './file-store.js';
export { createEnrolmentToken, checkEnrolmentToken, redeemEnrolmentToken, assertGrade, parseTtl, TOKEN_PREFIX, type CreateTokenOptions, type TokenHolder } from './tokens.js';
export {
  issueCertificate,
  enrol,
  renewCertificate,
  sanHosts,
  DEFAULT_HOSTS,
  DEFAULT_CERT_DAYS,
  HUB_NODE_ID,
  RENEWAL_WINDOW,
  type IssueOptions,
  type IssuedCertificate,
  type EnrolOptions,
  type RenewOptions,
} from './issue.js';
export { revoke, buildCrl, buildSm2RegisterCrl, listCertificates, revokedSerials, isRevokedAt, supersedeOthers, type ListedCert, type ListedStatus, type RevokeTarget } from './revoke.js';
export { parseCrl, REVOCATION_REASONS, isRevocationReason, type RevocationReason, type ParsedCrl } from './crl.js';
export { trustFromCa, type TrustFromCaOptions } from './trust.js';
export { TLS_CIPHERS, TLS_POLICY, tlsServerOptions, tlsClientOptions, peerIdentity, type PeerIdentity, type TlsMaterial, type TlsServerOptions, type TlsClientOptions } from './tls.js';
export { parseCsr, keyPolicyProblem, type ParsedCsr } from './csr.js';
export { generateRsaKeyPair, generateEcKeyPair, generateKeyPair, keyAlgorithmOf, NODE_KEY_ALGORITHMS, createCsr, normaliseSerial, certInfo, createCaCertificate, type KeyPairPem, type CertInfo, type NodeKeyAlgorithm } from './pki-crypto.js';
export { createNodeKeys, writeNodeKeys } from './node-keys.js';
