/**
 * The shapes certs/ works with. A CA is its certificate and key plus two small stores: the
 * register of issued certificates and the enrolment tokens. The CA directory's state file is one
 * implementation of both (file-state.ts); the hub can supply database-backed ones.
 */
import type { RevocationReason } from './crl.js';

export type CertStatus = 'active' | 'revoked';

export interface IssuedCert {
  nodeId: string;
  /** Upper-case hex, whole bytes, no leading 00 (as X509Certificate.serialNumber prints it). */
  serial: string;
  notBefore: string;
  notAfter: string;
  status: CertStatus;
  issuedAt: string;
  /** Protection grade (等保 level) when the certificate came from an enrolment token. */
  grade?: number;
  revokedAt?: string;
  reason?: RevocationReason;
}

export interface CertRegistry {
  addIssued(rec: IssuedCert): Promise<void>;
  listIssued(): Promise<IssuedCert[]>;
  /**
   * Marks a certificate revoked at `at` (which may lie ahead: a superseded certificate's overlap);
   * false when the serial is unknown. Revoking twice keeps the earlier time.
   */
  markRevoked(serial: string, at: Date, reason: RevocationReason): Promise<boolean>;
}

export interface TokenRecord {
  /** SHA-256 (hex) of the token; the token itself is never stored. */
  hash: string;
  nodeId: string;
  grade: number;
  createdAt: string;
  expiresAt: string;
  usedAt?: string;
  /** Set when the operator cancelled the token (or revoked its node): it can no longer enrol. */
  cancelledAt?: string;
}

export interface TokenStore {
  putToken(rec: TokenRecord): Promise<void>;
  /** The record whose hash equals `hash` (compared in constant time by file stores). */
  findToken(hash: string): Promise<TokenRecord | undefined>;
  /** Sets usedAt when still unused and not cancelled; false otherwise (single use even under races). */
  markTokenUsed(hash: string, at: Date): Promise<boolean>;
}

export interface Ca {
  certPem: string;
  keyPem: string;
  certs: CertRegistry;
  tokens: TokenStore;
}
