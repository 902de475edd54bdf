/** The provincial trust policy: protocol's caTrust with revocations from the CRL and/or a list. */
import { caTrust } from '../protocol/ca-trust.js';
import type { TrustPolicy } from '../protocol/trust.js';
import { parseCrl } from './crl.js';
import { normaliseSerial } from './pki-crypto.js';

export interface TrustFromCaOptions {
  caCertPem: string;
  /** The CA's CRL; its signature is checked against caCertPem (ERR_CRL_INVALID otherwise). */
  crlPem?: string;
  /** Further revoked serials (e.g. straight from the hub's register, ahead of the next CRL). */
  revokedSerials?: Iterable<string>;
}

export async function trustFromCa(o: TrustFromCaOptions): Promise<TrustPolicy> {
  const revoked = new Set<string>();
  if (o.crlPem !== undefined) for (const s of (await parseCrl(o.crlPem, { caCertPem: o.caCertPem })).revoked) revoked.add(s);
  for (const s of o.revokedSerials ?? []) revoked.add(normaliseSerial(s));
  return caTrust({ caCertPems: [o.caCertPem], isRevoked: (serial) => revoked.has(normaliseSerial(serial)) });
}
