/**
 * A TrustPolicy from CA certificates and a revocation callback. Pure (no I/O): certs/ wraps it
 * with the provincial CRL. A signer is trusted when its certificate
 *   1. is issued by one of the CA certificates (issuer name matches, CA key verifies the signature),
 *      that CA being valid at `at`                                   else ERR_CERT_UNTRUSTED / ERR_CERT_EXPIRED
 *   2. is checked against a current CRL (at ≤ revocationValidUntil, the CRL's nextUpdate, when one
 *      is given)                                                      else ERR_CRL_STALE
 *      and is not revoked (isRevoked(serial))                        else ERR_CERT_REVOKED
 *   3. is valid at `at` (notBefore ≤ at ≤ notAfter)                  else ERR_CERT_EXPIRED
 *   4. is an end-entity certificate whose subject has exactly one CN, a 6-digit node id, and whose
 *      extended key usage (when present) allows clientAuth — the use node certificates are
 *      issued for (mutual TLS and envelope signatures)                  else ERR_CERT_UNTRUSTED
 * When several CA certificates issued it (a CA key rollover), the one valid at `at` is used.
 */
import { certFromPem, type ParsedCert } from './crypto.js';
import { protocolError } from './errors.js';
import type { SignerIdentity, TrustPolicy } from './trust.js';

export interface CaTrustOptions {
  /** PEM certificates of the CAs whose node certificates are accepted. */
  caCertPems: readonly string[];
  /** Serial as upper-case hex (X509Certificate.serialNumber); true when revoked. */
  isRevoked?: (serialHex: string) => boolean;
  /** The nextUpdate of the CRL behind isRevoked: a check at a later time fails closed (ERR_CRL_STALE). */
  revocationValidUntil?: Date;
}

const NODE_ID = /^\d{6}$/;
const CLIENT_AUTH = '1.3.6.1.5.5.7.3.2';

function validAt(c: ParsedCert, at: Date): boolean {
  const t = at.getTime();
  return c.notBefore.getTime() <= t && t <= c.notAfter.getTime();
}

export function caTrust(opts: CaTrustOptions): TrustPolicy {
  if (opts.caCertPems.length === 0) throw protocolError('ERR_CERT_UNTRUSTED', 'caTrust needs at least one CA certificate');
  const cas = opts.caCertPems.map((pem) => {
    try {
      return certFromPem(pem);
    } catch {
      throw protocolError('ERR_CERT_UNTRUSTED', 'a CA certificate given to caTrust cannot be read');
    }
  });
  const isRevoked = opts.isRevoked ?? (() => false);
  return {
    verifySigner(certPem: string, at: Date): SignerIdentity {
      let cert: ParsedCert;
      try {
        cert = certFromPem(certPem);
      } catch {
        throw protocolError('ERR_CERT_UNTRUSTED', 'signer certificate cannot be read');
      }
      const details = { serial: cert.serial, subject: cert.cn };
      const issuers = cas.filter((c) => c.isCa && cert.issuedBy(c));
      const ca = issuers.find((c) => validAt(c, at)) ?? issuers[0];
      if (!ca) throw protocolError('ERR_CERT_UNTRUSTED', `certificate of ${String(cert.cn)} is not issued by a trusted CA`, details);
      if (!validAt(ca, at)) {
        throw protocolError('ERR_CERT_EXPIRED', `the issuing CA certificate is not valid at ${at.toISOString()}`, { ...details, ca: ca.cn, notAfter: ca.notAfter.toISOString() });
      }
      const until = opts.revocationValidUntil;
      if (until !== undefined && at.getTime() > until.getTime()) {
        throw protocolError('ERR_CRL_STALE', `the CRL is past its nextUpdate ${until.toISOString()}; cannot check ${String(cert.cn)} at ${at.toISOString()} until a current CRL is fetched`, { ...details, nextUpdate: until.toISOString(), at: at.toISOString() });
      }
      if (isRevoked(cert.serial)) throw protocolError('ERR_CERT_REVOKED', `certificate ${cert.serial} of ${String(cert.cn)} has been revoked`, details);
      if (!validAt(cert, at)) {
        throw protocolError('ERR_CERT_EXPIRED', `certificate of ${String(cert.cn)} is valid ${cert.notBefore.toISOString()} – ${cert.notAfter.toISOString()}, not at ${at.toISOString()}`, {
          ...details,
          notBefore: cert.notBefore.toISOString(),
          notAfter: cert.notAfter.toISOString(),
          at: at.toISOString(),
        });
      }
      if (cert.isCa || cert.cn === null || !NODE_ID.test(cert.cn)) {
        throw protocolError('ERR_CERT_UNTRUSTED', `certificate subject ${String(cert.cn)} is not a node (exactly one CN, a 6-digit node id, not a CA)`, details);
      }
      if (cert.eku !== undefined && !cert.eku.includes(CLIENT_AUTH)) {
        throw protocolError('ERR_CERT_UNTRUSTED', `certificate of ${cert.cn} is not for client authentication (extended key usage ${cert.eku.join(', ')})`, details);
      }
      return { nodeId: cert.cn, serial: cert.serial, fingerprint: cert.fingerprint, notAfter: cert.notAfter };
    },
  };
}
