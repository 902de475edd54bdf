/**
 * The node's exchange identity in memory: key, certificate, CA and hub certificates, grade, and
 * the trust policy built from the CA certificate and the hub's last CRL (revoked certificates
 * refused; after the CRL's nextUpdate everything refused, ERR_CRL_STALE), plus the serials of the
 * hub's last SM2 CRL when the node enrolled with an SM2 key (checked against the SM2 root; the
 * RSA CRL lists the same register, so it adds nothing unless the two were fetched apart). Renewal swaps it in one
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
  /**
   * The hub's SM2 CRL: checked against the SM2 root (ERR_CRL_INVALID; ERR_CRL_STALE when already
   * past its nextUpdate), adopted when newer than the one held (then `persistSm2Crl`); its serials
   * join the trust policy. False without an SM2 identity or when not newer.
   */
  setSm2Crl(pem: string, at: Date): Promise<boolean>;
  /** Throws ERR_CRL_STALE when the CRL held is past its nextUpdate at `at` (no CRL yet: nothing to say). */
  assertCrlCurrent(at: Date): void;
}

export async function createIdentity(initial: ExchangeMaterial, persistHubCert?: (pem: string) => void, persistCrl?: (pem: string) => void, persistHubSm2Cert?: (pem: string) => void, suites?: readonly string[], persistSm2Crl?: (pem: string) => void): Promise<ExchangeIdentity> {
  let material = initial;
  const extra = initial.sm2 ? { extraCaCertPems: [initial.sm2.caCertPem] } : {};
  // a stored SM2 CRL that no longer verifies (another SM2 root) is ignored, not fatal: the next fetch replaces it
  const heldSm2 = initial.sm2 && initial.sm2CrlPem ? await parseCrl(initial.sm2CrlPem, { caCertPem: initial.sm2.caCertPem }).catch(() => undefined) : undefined;
  let sm2Revoked: ReadonlySet<string> = heldSm2?.revoked ?? new Set();
  let sm2ThisUpdate = heldSm2 ? heldSm2.thisUpdate.getTime() : -Infinity;
  const build = (crlPem: string | undefined) => trustFromCa({ caCertPem: material.caCertPem, ...extra, ...(crlPem ? { crlPem } : {}), revokedSerials: sm2Revoked });
  let trust = await build(initial.crlPem);
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
      if (have && have.keyKind !== cert.keyKind) return false; // the hub's certificate of another suite (its RSA one, to an EC node): not what this node encrypts to
      if (have && (have.fingerprint === cert.fingerprint || have.notBefore.getTime() >= cert.notBefore.getTime())) return false; // same, or older (a stored receipt)
      persistHubCert?.(cert.pem);
      await identity.swap({ hubCertPem: cert.pem });
      return true;
    },
    async setCrl(pem) {
      const next = await build(pem); // ERR_CRL_INVALID before anything changes
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
    async setSm2Crl(pem, at) {
      const sm2 = material.sm2;
      if (sm2 === undefined) return false;
      await trustFromCa({ caCertPem: sm2.caCertPem, crlPem: pem }); // ERR_CRL_INVALID (wrong key, tampered, RSA CRL, no nextUpdate)
      const parsedCrl = await parseCrl(pem);
      if (parsedCrl.nextUpdate !== undefined && at.getTime() > parsedCrl.nextUpdate.getTime()) {
        throw protocolError('ERR_CRL_STALE', `the hub's SM2 CRL is past its nextUpdate ${parsedCrl.nextUpdate.toISOString()}: not adopted`, { nextUpdate: parsedCrl.nextUpdate.toISOString(), at: at.toISOString() });
      }
      if (parsedCrl.thisUpdate.getTime() <= sm2ThisUpdate) return false; // the same or an older one (never roll back)
      const before = sm2Revoked;
      sm2Revoked = parsedCrl.revoked;
      try {
        trust = await build(material.crlPem);
      } catch (e) {
        sm2Revoked = before;
        throw e;
      }
      persistSm2Crl?.(pem);
      sm2ThisUpdate = parsedCrl.thisUpdate.getTime();
      material = { ...material, sm2CrlPem: pem };
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

function parsed(pem: string): { fingerprint: string; notBefore: Date; keyKind: string } | null {
  try {
    return certFromPem(pem);
  } catch {
    return null;
  }
}
