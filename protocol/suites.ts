/**
 * Registered cipher suites. A suite names every algorithm an envelope uses, in JOSE's registered
 * names (RFC 7518): key management (`jweAlg`), content encryption (`jweEnc`), signature (`jwsAlg`)
 * and the digest over the ciphertext. Both parties' keys must be of the suite's key type.
 * A `planned` suite is listed so peers can see it coming, but sealing or opening with it fails
 * with ERR_UNKNOWN_SUITE.
 */
import { protocolError } from './errors.js';

export type SuiteStatus = 'active' | 'planned';
export type SuiteKeyType = 'rsa' | 'ec-p256' | 'sm2';

export interface Suite {
  name: string;
  status: SuiteStatus;
  /** Key type of both the sender's signing key and the recipient's encryption key. */
  keyType: SuiteKeyType;
  jweAlg: string;
  jweEnc: string;
  jwsAlg: string;
  /** Digest over the JWE compact serialisation, covered by the signature. */
  digest: 'sha256' | 'sm3';
  description: string;
}

export const DEFAULT_SUITE = 'CF1-RSA-OAEP-256-A256GCM-PS256';
/** The national-cryptography suite (docs/protocol.md "Suite CF1-SM2-SM4GCM-SM3"). */
export const SM_SUITE = 'CF1-SM2-SM4GCM-SM3';

export const SUITES: readonly Suite[] = Object.freeze([
  {
    name: DEFAULT_SUITE,
    status: 'active',
    keyType: 'rsa',
    jweAlg: 'RSA-OAEP-256',
    jweEnc: 'A256GCM',
    jwsAlg: 'PS256',
    digest: 'sha256',
    description: 'RSA-OAEP (SHA-256) key wrap, AES-256-GCM, RSASSA-PSS SHA-256 signature; RSA ≥ 2048 certificates',
  },
  {
    name: 'CF1-ECDH-ES-A256KW-A256GCM-ES256',
    status: 'active',
    keyType: 'ec-p256',
    jweAlg: 'ECDH-ES+A256KW',
    jweEnc: 'A256GCM',
    jwsAlg: 'ES256',
    digest: 'sha256',
    description: 'ECDH-ES (P-256) with AES-256 key wrap, AES-256-GCM, ECDSA P-256 SHA-256 signature; EC P-256 certificates',
  },
  {
    name: SM_SUITE,
    status: 'active',
    keyType: 'sm2',
    jweAlg: 'SGD_SM2_3',
    jweEnc: 'SGD_SM4_GCM',
    jwsAlg: 'SGD_SM3_SM2',
    digest: 'sm3',
    description: 'national cryptography (密评): SM2 key transport (GB/T 32918.4, C1C3C2 ASN.1), SM4-GCM (GB/T 32907, RFC 8998), SM2-with-SM3 signature (GB/T 32918.2, ID 1234567812345678), SM3 digest (GB/T 32905); SM2 certificates',
  },
  {
    name: 'CF1-SM2KA-SM4GCM-SM3',
    status: 'planned',
    keyType: 'sm2',
    jweAlg: 'SGD_SM2_2',
    jweEnc: 'SGD_SM4_GCM',
    jwsAlg: 'SGD_SM3_SM2',
    digest: 'sm3',
    description: 'SM2 key agreement (GB/T 32918.3) with an ephemeral key instead of key transport: planned, not usable yet',
  },
].map((s) => Object.freeze(s as Suite)));

const BY_NAME: ReadonlyMap<string, Suite> = new Map(SUITES.map((s) => [s.name, s]));

/** Names of the suites this implementation can seal and open (and `policy` admits), in order of preference. */
export function usableSuites(policy?: readonly string[]): string[] {
  return SUITES.filter((s) => s.status === 'active' && suiteAllowed(s.name, policy)).map((s) => s.name);
}

/** The registered entry for `name`, whatever its status (undefined when unknown). */
export function describeSuite(name: string): Suite | undefined {
  return BY_NAME.get(name);
}

/** The usable suite named `name`; ERR_UNKNOWN_SUITE if it is unknown or only planned. */
export function getSuite(name: string): Suite {
  const s = BY_NAME.get(name);
  if (s === undefined) throw protocolError('ERR_UNKNOWN_SUITE', `unknown cipher suite "${name}"`, { suite: name, usable: usableSuites() });
  if (s.status !== 'active') throw protocolError('ERR_UNKNOWN_SUITE', `cipher suite "${name}" is ${s.status}, not usable yet`, { suite: name, usable: usableSuites() });
  return s;
}

/** The first usable suite whose key type is `keyType` (used when seal() is not told a suite). */
export function suiteForKeyType(keyType: string): Suite | undefined {
  return SUITES.find((s) => s.status === 'active' && s.keyType === keyType);
}

/** Usable suites for a key of `keyType` that `policy` admits (empty: this key can seal nothing under the policy). */
export function suitesForKeyType(keyType: string, policy?: readonly string[]): string[] {
  return SUITES.filter((s) => s.status === 'active' && s.keyType === keyType && suiteAllowed(s.name, policy)).map((s) => s.name);
}

/** Suite families a policy names: `SM` (national cryptography), `RSA`, `EC`. */
export type SuiteFamily = 'RSA' | 'EC' | 'SM';
const FAMILY: Record<SuiteKeyType, SuiteFamily> = { rsa: 'RSA', 'ec-p256': 'EC', sm2: 'SM' };

export function suiteFamily(s: Suite): SuiteFamily {
  return FAMILY[s.keyType];
}

/**
 * True when `policy` (family names and/or suite names, e.g. `["SM"]`) admits the suite `name`;
 * no policy admits every usable suite. A 密评 deployment sets `suites: ["SM"]` on the hub and the
 * nodes, so nothing else is sealed, advertised, negotiated or opened.
 */
export function suiteAllowed(name: string, policy?: readonly string[]): boolean {
  if (policy === undefined) return true;
  const s = BY_NAME.get(name);
  return s !== undefined && (policy.includes(s.name) || policy.includes(suiteFamily(s)));
}

/** ERR_SUITE_REFUSED unless `policy` admits `name` (checked before any crypto). */
export function assertSuiteAllowed(name: string, policy?: readonly string[]): void {
  if (suiteAllowed(name, policy)) return;
  throw protocolError('ERR_SUITE_REFUSED', `cipher suite "${name}" is refused by this side's policy (allowed: ${(policy ?? []).join(', ')})`, { suite: name, allowed: [...(policy ?? [])] });
}
