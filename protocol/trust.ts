/**
 * The trust policy the envelope `open()` step (and the servers' TLS checks) consult about a
 * signer's certificate. protocol/ defines the contract; certs/ supplies the provincial
 * implementation (CA certificates + CRL). Pure: certificates arrive as PEM strings.
 */

export interface SignerIdentity {
  /** Subject CN: the 6-digit node id (430100), or 430000 for the hub. */
  nodeId: string;
  /** Certificate serial, upper-case hex without leading zeros stripped. */
  serial: string;
  /** SHA-256 of the DER certificate, lower-case hex. */
  fingerprint: string;
  notAfter: Date;
}

export interface TrustPolicy {
  /**
   * Checks that `certPem` chains to a trusted CA, is valid at `at`, and is not revoked.
   * Returns who it speaks for; throws CreditError ERR_CERT_UNTRUSTED | ERR_CERT_EXPIRED | ERR_CERT_REVOKED.
   */
  verifySigner(certPem: string, at: Date): SignerIdentity;
}
