/**
 * Certificate renewal: when less than `renewAt` of the node certificate's lifetime is left, make a
 * new key (renewalAlgorithm: the current key's type, EC P-256 or RSA, unless the node's `hub.suites`
 * admits no suite for it and does admit the other — then that one) and a CSR, POST /v1/renew over mutual TLS with the current certificate, check the answer
 * (issued by the provincial CA to this node id, for the new key), write the files atomically
 * (files.ts), then swap the identity in memory: the HTTP client opens a new pool (requests in
 * flight finish on the old one) and the audit log signs with the new key.
 */
import { createSm2Csr } from '../../certs/sm2-x509.js';
import { sm2GenerateKeyPem } from '../../protocol/sm-crypto.js';
import { checkSm2Answer } from './enroll.js';
import { createCsr, generateKeyPair, keyAlgorithmOf, type NodeKeyAlgorithm } from '../../certs/pki-crypto.js';
import { suitesForKeyType } from '../../protocol/suites.js';
import { HUB_NODE_ID } from '../../certs/issue.js';
import { certFromPem, keyMatchesCert } from '../../protocol/crypto.js';
import type { EnrollResponse } from '../../protocol/exchange.js';
import { nodeError } from '../errors.js';
import type { AuditWriter } from '../records-service.js';
import { validity, writeRenewal } from './files.js';
import { HubError, type HubClient } from './hub-client.js';
import type { ExchangeIdentity } from './identity.js';
import type { Log } from './loop.js';

/** True when less than `renewAt` (a fraction) of the certificate's lifetime is left at `now`. */
export function renewalDue(certPem: string, now: Date, renewAt: number): boolean {
  return now.getTime() >= renewalTime(certPem, renewAt).getTime();
}

/** The instant from which renewalDue is true. */
export function renewalTime(certPem: string, renewAt: number): Date {
  const { notBefore, notAfter } = validity(certPem);
  const life = notAfter.getTime() - notBefore.getTime();
  return new Date(notAfter.getTime() - renewAt * life);
}

/**
 * The key type a renewal makes: the current one while the suite policy (the node's `hub.suites`,
 * which mirrors the hub's) admits a suite for it; when an operator has since excluded it (an RSA
 * node under ["EC"]), the type the policy admits, EC P-256 first — else the hub would refuse the
 * renewal ERR_SUITE_REFUSED at every retry. No policy, or one admitting neither (["SM"], where the
 * TLS key is outside the suites): the current type.
 */
export function renewalAlgorithm(current: NodeKeyAlgorithm, policy: readonly string[] | undefined): NodeKeyAlgorithm {
  const admits = (a: NodeKeyAlgorithm): boolean => suitesForKeyType(a === 'rsa' ? 'rsa' : 'ec-p256', policy).length > 0;
  if (policy === undefined || admits(current)) return current;
  return (['p256', 'rsa'] as const).find(admits) ?? current;
}

/** The other key type, when `e` is the hub's ERR_SUITE_REFUSED naming a policy that admits it and not `tried`. */
function hubAdmitted(e: unknown, tried: NodeKeyAlgorithm): NodeKeyAlgorithm | undefined {
  if (!(e instanceof HubError) || e.code !== 'ERR_SUITE_REFUSED') return undefined;
  const allowed = (e.details as { allowed?: unknown } | undefined)?.allowed;
  if (!Array.isArray(allowed) || !allowed.every((x): x is string => typeof x === 'string')) return undefined;
  let alt: NodeKeyAlgorithm;
  try {
    alt = renewalAlgorithm(tried, allowed);
  } catch {
    return undefined; // a policy naming something unknown
  }
  return alt === tried ? undefined : alt;
}

/**
 * The key type to try after the hub's refusal `e`, or undefined to let it stand: the type the hub's
 * `allowed` admits, if this node's own policy admits it too — and, with no policy of its own, only
 * EC P-256 (the hub alone never moves a node to RSA).
 */
export function hubSwitch(e: unknown, tried: NodeKeyAlgorithm, policy: readonly string[] | undefined): NodeKeyAlgorithm | undefined {
  const alt = hubAdmitted(e, tried);
  if (alt === undefined) return undefined;
  if (policy === undefined) return alt === 'p256' ? alt : undefined;
  return renewalAlgorithm(alt, policy) === alt ? alt : undefined;
}

export interface RenewalDeps {
  identity: ExchangeIdentity;
  client: () => HubClient;
  audit: AuditWriter;
  clock: () => Date;
  log: Log;
  dataDir: string;
  renewAt: number;
  /** The node's suite policy (`hub.suites`); absent: any suite. */
  suites?: readonly string[];
  /** Runs before the key files change (the sender notes what older stored receipts say while the keys that open them are held). */
  beforeKeyChange?: () => Promise<unknown>;
}

const HOUR = 3_600_000;

export function createRenewal(deps: RenewalDeps) {
  const { identity, clock, log } = deps;
  const nodeId = identity.nodeId;

  /** Checks an EnrollResponse against the key it is for; returns it when it fits. */
  function check(res: EnrollResponse, keyPem: string): EnrollResponse {
    const now = clock();
    const signer = identity.trust().verifySigner(res.certPem, now); // chains to the CA, valid, a node certificate
    if (signer.nodeId !== nodeId) throw nodeError('ERR_HUB_ANSWER_INVALID', `the renewed certificate is for ${signer.nodeId}, not ${nodeId}`);
    if (!keyMatchesCert(keyPem, certFromPem(res.certPem))) throw nodeError('ERR_HUB_ANSWER_INVALID', 'the renewed certificate is not for the key this node sent');
    return res;
  }

  async function renewNow(signal?: AbortSignal): Promise<EnrollResponse> {
    // before any key file (TLS or SM2) is replaced; its failure does not stop the renewal
    try {
      await deps.beforeKeyChange?.();
    } catch (e) {
      log.warn({ code: (e as { code?: string }).code ?? 'Error' }, 'hub exchange: noting what the stored receipts say before the renewal failed; renewing all the same');
    }
    const old = identity.current();
    const was = keyAlgorithmOf(old.keyPem);
    let algorithm = renewalAlgorithm(was, deps.suites); // an RSA node stays RSA, an EC node EC, unless the policy now excludes it
    let why = algorithm !== was ? `this node's hub.suites (${deps.suites!.join(',')})` : '';
    if (algorithm !== was) log.warn({ from: was, to: algorithm }, 'hub exchange: the suite policy (hub.suites) admits no suite for this node\'s key type; renewing with the type it admits');
    let kp = generateKeyPair(algorithm);
    // a node on the national suite renews its SM2 certificate with the TLS one (same register: it would be superseded otherwise)
    const sm2Key = old.sm2 ? sm2GenerateKeyPem() : undefined;
    const send = (k: { privateKeyPem: string; publicKeyPem: string }) => deps.client().renew({ csrPem: createCsr(nodeId, k), ...(sm2Key ? { sm2CsrPem: createSm2Csr(nodeId, sm2Key.privateKeyPem) } : {}) }, signal);
    let answer: EnrollResponse;
    try {
      answer = await send(kp);
    } catch (e) {
      // The hub's policy excludes the key type and names what it admits (ERR_SUITE_REFUSED details.allowed):
      // once, the type it admits — when this node's own policy admits that type too.
      // Without a policy of its own the node follows the hub only to EC P-256: a move to RSA (a weaker,
      // sticky choice, as renewals keep the type) needs this node's operator to say so in hub.suites.
      const alt = hubSwitch(e, algorithm, deps.suites);
      if (alt === undefined) throw e;
      log.warn({ from: algorithm, to: alt }, 'hub exchange: the hub\'s suite policy admits no suite for this key type; renewing with the type it admits');
      why = `the hub's policy (${((e as HubError).details as { allowed: string[] }).allowed.join(',')})`; // a string list: hubAdmitted checked it
      algorithm = alt;
      kp = generateKeyPair(alt);
      answer = await send(kp);
    }
    const res = check(answer, kp.privateKeyPem);
    // a new key type needs the hub certificate of its suite, checked before any file changes
    const hubOfKind = (() => {
      try {
        return certFromPem(res.hubCertPem).keyKind === certFromPem(res.certPem).keyKind && identity.trust().verifySigner(res.hubCertPem, clock()).nodeId === HUB_NODE_ID;
      } catch {
        return false;
      }
    })();
    if (algorithm !== was && !hubOfKind) throw nodeError('ERR_HUB_ANSWER_INVALID', `renewal answer refused: the key type changed (${was} → ${algorithm}) but the answer carries no valid hub certificate of the new key's suite`);
    const checked = sm2Key ? await checkSm2Answer(res.sm2, sm2Key.privateKeyPem, { nodeId, sm2CaCertPem: old.sm2!.caCertPem }, clock(), (m) => nodeError('ERR_HUB_ANSWER_INVALID', `renewal answer refused: ${m}`)) : undefined;
    // the SM2 key replaced is kept (node-sm2.key.prev), as node.key.prev: a batch in flight was sealed with the old SM2 certificate, and its receipt to it
    const sm2 = checked ? { ...checked, previousKeyPem: old.sm2!.keyPem } : undefined;
    const v = validity(res.certPem);
    const enrolment = { ...old.enrolment, grade: res.grade, serial: v.serial, notBefore: v.notBefore.toISOString(), notAfter: v.notAfter.toISOString(), renewedAt: clock().toISOString() };
    const newHubCert = hubOfKind && res.hubCertPem !== old.hubCertPem ? res.hubCertPem : undefined; // else: keep the hub certificate we have
    const hubCertPem = newHubCert ?? old.hubCertPem;
    // one install set: TLS pair, SM2 pair, enrolment.json and hub certificate change together or not at all
    try {
      writeRenewal(deps.dataDir, { keyPem: kp.privateKeyPem, certPem: res.certPem, enrolment, previousKeyPem: old.keyPem, ...(newHubCert !== undefined ? { hubCertPem: newHubCert } : {}), ...(sm2 ? { sm2 } : {}) });
    } catch (e) {
      // committed: the files go in (the next load finishes the set), so this process switches to them too — else its
      // next renewal would keep the key before as node.key.prev and lose this one, which the hub has certified
      if ((e as { committed?: boolean }).committed !== true) throw e;
      log.warn({ code: (e as { code?: string }).code ?? 'Error' }, 'hub exchange: the renewed key files were committed but not all put in place; the next load of the exchange directory finishes it');
    }
    await identity.swap({ keyPem: kp.privateKeyPem, certPem: res.certPem, enrolment, previousKeyPem: old.keyPem, hubCertPem, ...(sm2 ? { sm2 } : {}) });
    await deps.audit.record({ actor: `node:${nodeId}`, actorNode: nodeId, action: 'cert.renew', object: `serial:${v.serial}`, outcome: 'success', reason: `previous=${old.enrolment.serial} notAfter=${enrolment.notAfter} grade=${res.grade}${algorithm !== was ? ` key=${was}→${algorithm} by ${why}` : ''}` });
    log.info({ serial: v.serial, previous: old.enrolment.serial, notAfter: enrolment.notAfter }, 'hub exchange: node certificate renewed');
    return res;
  }

  /** Renews when due; returns the wait until the next check (at most an hour). */
  async function step(signal?: AbortSignal): Promise<number> {
    // One reading of the clock decides and times the wait: with two, a step woken a millisecond
    // early (the loop's timer and the wall clock disagree) found the renewal not due at the first
    // and past due at the second, took that for a certificate due again right after its renewal,
    // and waited an hour — longer than a short certificate lives.
    const left = renewalTime(identity.current().certPem, deps.renewAt).getTime() - clock().getTime();
    if (left > 0) return Math.max(1000, Math.min(HOUR, left));
    await renewNow(signal);
    const certPem = identity.current().certPem;
    const now = clock().getTime();
    const due = renewalTime(certPem, deps.renewAt).getTime() - now;
    if (due > 0) return Math.max(1000, Math.min(HOUR, due));
    // Due again right after its renewal (issued with too short a life, or the hub's clock is far
    // from this node's): not a tight loop, but not an hour either when the certificate runs out
    // sooner — half the time it has left, at least a second, at most an hour.
    return Math.max(1000, Math.min(HOUR, (validity(certPem).notAfter.getTime() - now) / 2));
  }

  return { step, renewNow };
}

export type Renewal = ReturnType<typeof createRenewal>;
