/** The provincial trust policy: protocol's caTrust with revocations from the CRL and/or a list. */
import { caTrust } from '../protocol/ca-trust.js';
import type { TrustPolicy } from '../protocol/trust.js';
import { parseCrl } from './crl.js';
import { certError } from './errors.js';
import { normaliseSerial } from './pki-crypto.js';

export interface TrustFromCaOptions {
  caCertPem: string;
  /**
   * The CA's CRL; its signature is checked against caCertPem (ERR_CRL_INVALID otherwise, also
   * without a nextUpdate). Checks at a time after its nextUpdate fail closed with ERR_CRL_STALE.
   */
  crlPem?: string;
  /** Further revoked serials (e.g. straight from the hub's register, ahead of the next CRL). */
  revokedSerials?: Iterable<string>;
  /**
   * Further roots trusted beside caCertPem: the provincial SM2 root. Its certificates are in the
   * same register, so the CA's CRL (caCertPem's) lists their revocations too.
   */
  extraCaCertPems?: readonly string[];
}

export async function trustFromCa(o: TrustFromCaOptions): Promise<TrustPolicy> {
  const revoked = new Set<string>();
  let validUntil: Date | undefined;
  if (o.crlPem !== undefined) {
    const crl = await parseCrl(o.crlPem, { caCertPem: o.caCertPem });
    if (crl.nextUpdate === undefined) throw certError('ERR_CRL_INVALID', 'CRL has no nextUpdate: it could never be known to be stale');
    validUntil = crl.nextUpdate;
    for (const s of crl.revoked) revoked.add(s);
  }
  for (const s of o.revokedSerials ?? []) revoked.add(normaliseSerial(s));
  return caTrust({ caCertPems: [o.caCertPem, ...(o.extraCaCertPems ?? [])], isRevoked: (serial) => revoked.has(normaliseSerial(serial)), ...(validUntil ? { revocationValidUntil: validUntil } : {}) });
}
