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
    name: 'SM2-SM4-SM3',
    status: 'planned',
    keyType: 'sm2',
    jweAlg: 'SM2',
    jweEnc: 'SM4-GCM',
    jwsAlg: 'SM2-SM3',
    digest: 'sm3',
    description: 'national cryptography (GB/T 32918 SM2, GB/T 32907 SM4, GB/T 32905 SM3): planned, not usable yet',
  },
].map((s) => Object.freeze(s as Suite)));

const BY_NAME: ReadonlyMap<string, Suite> = new Map(SUITES.map((s) => [s.name, s]));

/** Names of the suites this implementation can seal and open, in order of preference. */
export function usableSuites(): string[] {
  return SUITES.filter((s) => s.status === 'active').map((s) => s.name);
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
