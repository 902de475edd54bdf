/**
 * The node's exchange identity in memory: key, certificate, CA and hub certificates, grade, and
 * the trust policy built from the CA certificate. Renewal swaps it in one step; the HTTP client
 * and the audit signer follow through `onChange`.
 */
import { trustFromCa } from '../../certs/trust.js';
import { HUB_NODE_ID } from '../../certs/issue.js';
import { certFromDerB64, certFromPem } from '../../protocol/crypto.js';
import type { TrustPolicy } from '../../protocol/trust.js';
import type { ExchangeMaterial } from './files.js';

export interface ExchangeIdentity {
  readonly nodeId: string;
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
}

export async function createIdentity(initial: ExchangeMaterial, persistHubCert?: (pem: string) => void): Promise<ExchangeIdentity> {
  let material = initial;
  const trust = await trustFromCa({ caCertPem: initial.caCertPem });
  const listeners: ((m: ExchangeMaterial) => void | Promise<void>)[] = [];
  const identity: ExchangeIdentity = {
    nodeId: initial.nodeId,
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
      const have = parsed(material.hubCertPem);
      if (have && (have.fingerprint === cert.fingerprint || have.notBefore.getTime() >= cert.notBefore.getTime())) return false; // same, or older (a stored receipt)
      persistHubCert?.(cert.pem);
      await identity.swap({ hubCertPem: cert.pem });
      return true;
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
