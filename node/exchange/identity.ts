/**
 * The node's exchange identity in memory: key, certificate, CA and hub certificates, grade, and
 * the trust policy built from the CA certificate and the hub's last CRL (revoked certificates
 * refused; after the CRL's nextUpdate everything refused, ERR_CRL_STALE). Renewal swaps it in one
 * step; the HTTP client and the audit signer follow through `onChange`.
 */
import { parseCrl } from '../../certs/crl.js';
import { trustFromCa } from '../../certs/trust.js';
import { HUB_NODE_ID } from '../../certs/issue.js';
import { certFromDerB64, certFromPem } from '../../protocol/crypto.js';
import { protocolError } from '../../protocol/errors.js';
import type { TrustPolicy } from '../../protocol/trust.js';
import type { ExchangeMaterial } from './files.js';

export interface ExchangeIdentity {
  readonly nodeId: string;
  /** The node's suite policy (config hub.suites): what it seals and opens. */
  readonly suites?: readonly string[];
  current(): ExchangeMaterial;
  trust(): TrustPolicy;
  /** Replaces key/certificate/enrolment (renewal) or the hub certificate; listeners run in order. */
  swap(next: Partial<ExchangeMaterial>): Promise<void>;
  onChange(fn: (m: ExchangeMaterial) => void | Promise<void>): void;
  /**
   * The hub's certificate carried in an envelope it signed (already verified by open()): when it
   * is newer than the stored one (the hub renewed its own), adopt it. Returns true when it changed.
   */
  adoptHubCert(x5c0: string): Promise<boolean>;
  /**
   * A CRL from the hub: checked against the CA (ERR_CRL_INVALID), adopted when it is newer than
   * the one held (then `persistCrl`). Returns true when it changed the trust policy.
   */
  setCrl(pem: string): Promise<boolean>;
  /** Throws ERR_CRL_STALE when the CRL held is past its nextUpdate at `at` (no CRL yet: nothing to say). */
  assertCrlCurrent(at: Date): void;
}

export async function createIdentity(initial: ExchangeMaterial, persistHubCert?: (pem: string) => void, persistCrl?: (pem: string) => void, persistHubSm2Cert?: (pem: string) => void, suites?: readonly string[]): Promise<ExchangeIdentity> {
  let material = initial;
  const extra = initial.sm2 ? { extraCaCertPems: [initial.sm2.caCertPem] } : {};
  let trust = await trustFromCa({ caCertPem: initial.caCertPem, ...extra, ...(initial.crlPem ? { crlPem: initial.crlPem } : {}) });
  const held = initial.crlPem ? await parseCrl(initial.crlPem) : undefined;
  let crlThisUpdate = held ? held.thisUpdate.getTime() : -Infinity;
  let crlNextUpdate = held?.nextUpdate;
  const listeners: ((m: ExchangeMaterial) => void | Promise<void>)[] = [];
  const identity: ExchangeIdentity = {
    nodeId: initial.nodeId,
    ...(suites === undefined ? {} : { suites }),
    current: () => material,
    trust: () => trust,
    async swap(next) {
      material = { ...material, ...next };
      for (const fn of listeners) await fn(material);
    },
    onChange(fn) {
      listeners.push(fn);
    },
    async adoptHubCert(x5c0) {
      const cert = certFromDerB64(x5c0);
      if (cert.cn !== HUB_NODE_ID) return false;
      if (cert.keyKind === 'sm2') {
        // the hub's SM2 certificate (answers under the SM suite): kept beside its TLS one
        const s = material.sm2;
        if (!s) return false;
        const haveSm2 = parsed(s.hubCertPem);
        if (haveSm2 && (haveSm2.fingerprint === cert.fingerprint || haveSm2.notBefore.getTime() >= cert.notBefore.getTime())) return false;
        persistHubSm2Cert?.(cert.pem);
        await identity.swap({ sm2: { ...s, hubCertPem: cert.pem } });
        return true;
      }
      const have = parsed(material.hubCertPem);
      if (have && (have.fingerprint === cert.fingerprint || have.notBefore.getTime() >= cert.notBefore.getTime())) return false; // same, or older (a stored receipt)
      persistHubCert?.(cert.pem);
      await identity.swap({ hubCertPem: cert.pem });
      return true;
    },
    async setCrl(pem) {
      const next = await trustFromCa({ caCertPem: material.caCertPem, ...extra, crlPem: pem }); // ERR_CRL_INVALID before anything changes
      const parsedCrl = await parseCrl(pem);
      const at = parsedCrl.thisUpdate.getTime();
      if (at <= crlThisUpdate) return false; // the same or an older one (never roll back)
      persistCrl?.(pem);
      trust = next;
      crlThisUpdate = at;
      crlNextUpdate = parsedCrl.nextUpdate;
      material = { ...material, crlPem: pem };
      return true;
    },
    assertCrlCurrent(at) {
      if (crlNextUpdate !== undefined && at.getTime() > crlNextUpdate.getTime()) {
        throw protocolError('ERR_CRL_STALE', `the hub's CRL is past its nextUpdate ${crlNextUpdate.toISOString()}: nothing from the hub is trusted until a current one is fetched`, { nextUpdate: crlNextUpdate.toISOString(), at: at.toISOString() });
      }
    },
  };
  return identity;
}

function parsed(pem: string): { fingerprint: string; notBefore: Date } | null {
  try {
    return certFromPem(pem);
  } catch {
    return null;
  }
}
