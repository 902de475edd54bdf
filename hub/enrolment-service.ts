/**
 * Enrolment, renewal, tokens and revocation over the CA whose register lives in the hub
 * database. Routes (enroll, renew) and the operator CLI (token, revoke) use the same functions.
 */
import { enrol, HUB_NODE_ID, RENEWAL_WINDOW, renewCertificate } from '../certs/issue.js';
import { revoke } from '../certs/revoke.js';
import { checkEnrolmentToken, createEnrolmentToken } from '../certs/tokens.js';
import { sha256Hex } from '../certs/pki-crypto.js';
import { certError } from '../certs/errors.js';
import type { RevocationReason } from '../certs/crl.js';
import { assertNodeId } from '../protocol/identifiers.js';
import { isCreditError, protocolError } from '../protocol/errors.js';
import { hubError } from './errors.js';
import type { EnrollRequest, EnrollResponse, RenewRequest } from '../protocol/exchange.js';
import type { Db } from '../audit/knex-connect.js';
import type { Knex } from 'knex';
import { retryBusy } from '../audit/operator.js';
import type { AuditEvent, AuditSink } from '../audit/types.js';
import type { HubCa } from './ca-store.js';
import { journalled, NAME, type JournalSink } from './register-journal.js';
import type { Peer } from './client-check.js';
import type { HubDeps } from './context.js';
import { nodesStore } from './nodes-store.js';
import { issueNodeSm2, readSm2Request } from './sm2-identity.js';
import { hubIdentityFor } from './answer-keys.js';
import { parseCsr } from '../certs/csr.js';
import { certFromPem } from '../protocol/crypto.js';
import { SM_SUITE, suiteAllowed, suitesForKeyType } from '../protocol/suites.js';

export interface EnrolmentService {
  enroll(req: EnrollRequest): Promise<EnrollResponse>;
  renew(peer: Peer, req: RenewRequest): Promise<EnrollResponse>;
}

export function enrolmentService(deps: HubDeps): EnrolmentService {
  const { ca, config } = deps;
  // hubCertPem: the hub certificate of the node's key type, which the node encrypts to (EC P-256 node → the hub's EC one)
  const response = (nodeId: string, grade: number, c: { certPem: string; serial: string; notBefore: Date; notAfter: Date }, sm2?: EnrollResponse['sm2']): EnrollResponse => ({
    nodeId, grade, certPem: c.certPem, caCertPem: ca.certPem, hubCertPem: hubIdentityFor(deps.identity, certFromPem(c.certPem).keyKind).certPem, serial: c.serial,
    notBefore: c.notBefore.toISOString(), notAfter: c.notAfter.toISOString(), ...(sm2 ? { sm2 } : {}),
  });
  /** The node's SM2 certificate beside the TLS one, when it sent an SM2 request (same lifetime, same register). */
  const sm2For = async (nodeId: string, grade: number, request: { cn: string; publicKey: string } | undefined, now: Date, notAfter: Date): Promise<EnrollResponse['sm2']> => {
    if (request === undefined) return undefined;
    const sm2 = await issueNodeSm2(ca, deps.identity.sm2, { nodeId, request, days: config.nodeCertDays, now, notAfter, grade });
    await deps.audit.record({ action: 'node.sm2.issue', actor: `node:${nodeId}`, actorNode: nodeId, object: `cert:${sm2.serial}`, outcome: 'success', reason: `notAfter=${sm2.notAfter}` });
    return sm2;
  };
  /** The node's envelopes will be SM: it sends an SM2 request and the policy admits the SM suite. */
  const sealsSm = (sm2Request: unknown): boolean => sm2Request !== undefined && (config.suites === undefined || suiteAllowed(SM_SUITE, config.suites));
  /**
   * A node whose key no suite of this hub's policy admits could enrol (or renew) but never
   * exchange: an EC P-256 key at a hub without EC, an RSA key at a hub without RSA. Refused
   * (ERR_SUITE_REFUSED) after the token is checked and before it is spent, unless it also asks for
   * an SM2 certificate and the policy admits SM (its envelopes are then SM). A CSR that cannot be
   * read is left to enrol()/renewCertificate() for its own code.
   */
  const refuseUnsealableKey = async (csrPem: string): Promise<void> => {
    if (config.suites === undefined) return;
    const keyType = await parseCsr(csrPem).then((c) => c.keyType, () => undefined);
    if (keyType === undefined || suitesForKeyType(keyType, config.suites).length > 0) return;
    const fix = keyType === 'rsa' ? 'use an EC P-256 key (credit node init, the default; credit node keygen)' : 'enrol with an RSA key (credit node init --algorithm rsa)';
    throw protocolError('ERR_SUITE_REFUSED', `this hub's suite policy (${config.suites.join(', ')}) admits no suite for a ${keyType} key: ${fix}`, { keyType, allowed: [...config.suites] });
  };
  return {
    async enroll(req) {
      const now = deps.clock();
      // nobody without a live token makes the CA read a CSR (DESIGN: pre-auth work stays minimal):
      // the token is checked (not spent) first, then the requests and the key type against the suite policy
      const tok = await checkEnrolmentToken(ca.tokens, req.token, now);
      // a bad SM2 request (or no SM2 root here) is refused before the token is spent
      const sm2Request = req.sm2CsrPem === undefined ? undefined : readSm2Request(ca, deps.identity.sm2, req.sm2CsrPem);
      if (!sealsSm(sm2Request)) await refuseUnsealableKey(req.csrPem);
      if (sm2Request !== undefined) {
        if (tok.nodeId !== sm2Request.cn) throw certError('ERR_CSR_SUBJECT_INVALID', `the SM2 request is for CN ${sm2Request.cn}, the token for node ${tok.nodeId}`, { cn: sm2Request.cn, nodeId: tok.nodeId });
      }
      // before the transaction (never fails it: a failed append is logged): a store restored to before the
      // token was made must not get it back as unused when the enrolment's facts, appended after the commit, are lost
      ca.journal.appendCommitted([{ kind: 'token.redeeming', hash: tok.hash, at: now.toISOString() }]);
      // token used, certificate registered, node activated and the audit entry: one transaction
      // (the audit entry last: audit/log.ts LOCK ORDER), so a failure leaves nothing behind
      const cert = await journalled(deps.db, ca.journal, async (trx, sink) => {
        const c = await enrol(caIn(ca, trx, sink), { token: req.token, csrPem: req.csrPem, days: config.nodeCertDays, now, ...shortLife(config, now) });
        await nodesStore.enrolled(trx, { nodeId: c.nodeId, grade: c.grade, now: now.toISOString() });
        sink.grant({ kind: 'node.enrolled', nodeId: c.nodeId, grade: c.grade, at: now.toISOString() }); // after the commit: the grade a restored store must not lose
        const superseded = c.superseded.length === 0 ? '' : ` superseded=${c.superseded.join(',')}`;
        await deps.audit.recordIn(trx, { action: 'node.enrol', actor: `node:${c.nodeId}`, actorNode: c.nodeId, object: `cert:${c.serial}`, outcome: 'success', reason: `grade=${c.grade} notAfter=${c.notAfter.toISOString()}${superseded}` });
        return c;
      }, { restrictFirst: false }); // enrolment/renewal facts only once committed (hub/register-journal.ts journalled)
      return response(cert.nodeId, cert.grade, cert, await sm2For(cert.nodeId, cert.grade, sm2Request, now, cert.notAfter));
    },

    async renew(peer, req) {
      const now = deps.clock();
      const sm2Request = req.sm2CsrPem === undefined ? undefined : readSm2Request(ca, deps.identity.sm2, req.sm2CsrPem);
      if (!sealsSm(sm2Request)) await refuseUnsealableKey(req.csrPem);
      const policy = renewalPolicy(config);
      const cert = await journalled(deps.db, ca.journal, async (trx, sink) => {
        const claim = async (nodeId: string) => {
          if (!(await nodesStore.claimRenewal(trx, nodeId, now, policy.minIntervalMs))) {
            throw hubError('ERR_RENEWAL_RATE_LIMITED', `node ${nodeId} was issued a certificate less than ${Math.round(policy.minIntervalMs / 1000)} s ago`, { nodeId, minIntervalSeconds: Math.round(policy.minIntervalMs / 1000) });
          }
        };
        const c = await renewCertificate(caIn(ca, trx, sink), {
          currentCertPem: peer.certPem, csrPem: req.csrPem, days: config.nodeCertDays, now, ...shortLife(config, now),
          window: RENEWAL_WINDOW, overlapMs: policy.overlapMs, beforeIssue: claim,
        });
        await nodesStore.count(trx, peer.nodeId, now.toISOString(), {});
        await deps.audit.recordIn(trx, { action: 'node.renew', actor: `node:${peer.nodeId}`, actorNode: peer.nodeId, object: `cert:${c.serial}`, outcome: 'success', reason: `previous=${c.previousSerial} notAfter=${c.notAfter.toISOString()}` });
        return c;
      }, { restrictFirst: false }); // enrolment/renewal facts only once committed (hub/register-journal.ts journalled)
      return response(peer.nodeId, peer.grade, cert, await sm2For(peer.nodeId, peer.grade, sm2Request, now, cert.notAfter));
    },
  };
}

/** The CA with its register read and written inside `trx`, the facts it changes held for the journal until the commit. */
function caIn(ca: HubCa, trx: Knex.Transaction, sink: JournalSink): HubCa {
  const reg = ca.certs.within(trx, sink);
  return { ...ca, certs: reg, tokens: reg };
}

/** An audit sink that can also append inside a transaction (the hub's AuditLog, the operator's sink). */
export type TransactionalSink = AuditSink & { recordIn?(trx: Knex.Transaction, e: AuditEvent): Promise<number> };

/** A one-time enrolment token (only its hash is stored); the node appears in the registry as pending. */
export async function makeToken(db: Db, ca: HubCa, o: { nodeId: string; grade: number; ttlMs: number; name?: string; now?: Date }): Promise<{ token: string; expiresAt: Date }> {
  const nodeId = assertNodeId(o.nodeId);
  if (nodeId === HUB_NODE_ID) throw protocolError('ERR_INVALID_NODE_ID', `${HUB_NODE_ID} is the hub's own id`);
  const now = o.now ?? new Date();
  const made = await createEnrolmentToken(ca, { nodeId, grade: o.grade, ttlMs: o.ttlMs, now });
  await nodesStore.announce(db, { nodeId, name: o.name ?? null, grade: o.grade, now: now.toISOString() });
  // after both writes (granting: a failed append is logged, the token stands): a store restored to before now gets it back
  const name = o.name?.trim();
  ca.journal.appendCommitted([{ kind: 'token.made', hash: sha256Hex(made.token), nodeId, grade: o.grade, createdAt: now.toISOString(), expiresAt: made.expiresAt.toISOString(), ...(NAME(name) ? { name } : {}) }]);
  return made;
}

/**
 * Cuts a node off: every active certificate revoked, its unused enrolment tokens cancelled, and the
 * node marked revoked. Takes effect on the node's next request to any hub process. Returns the
 * serials revoked now.
 */
export async function revokeNode(db: Db, ca: HubCa, o: { nodeId: string; reason: RevocationReason; audit?: TransactionalSink; actor?: string; now?: Date }): Promise<string[]> {
  const nodeId = assertNodeId(o.nodeId);
  const now = o.now ?? new Date();
  // certificates revoked, tokens cancelled, the node marked and (with a transactional sink) the audit entry: one transaction
  let event: AuditEvent | null = null;
  const serials = await retryBusy(() => journalled(db, ca.journal, async (trx, sink) => {
    const tca = caIn(ca, trx, sink);
    let revoked: string[];
    try {
      revoked = await revoke(tca, { nodeId, reason: o.reason, now });
    } catch (e) {
      // a node without an active certificate (pending, expired, revoked before) is still cut off
      if (!isCreditError(e) || e.code !== 'ERR_CERT_NOT_FOUND') throw e;
      if (!(await nodesStore.get(trx, nodeId))) throw hubError('ERR_NODE_UNKNOWN', `node ${nodeId} is not registered at this hub`, { nodeId });
      revoked = [];
    }
    const tokens = await tca.tokens.cancelTokens(nodeId, now);
    sink.restrict({ kind: 'node.revoked', nodeId, at: now.toISOString() }); // before the change
    await nodesStore.setStatus(trx, nodeId, 'revoked', now.toISOString());
    event = { action: 'node.revoke', actor: o.actor ?? 'operator', actorNode: HUB_NODE_ID, object: `node:${nodeId}`, outcome: 'success', reason: `${o.reason} serials=${revoked.join(',')} tokensCancelled=${tokens}` };
    if (o.audit?.recordIn) await o.audit.recordIn(trx, event);
    return revoked;
  }, { restrictFirst: true }));
  if (o.audit && !o.audit.recordIn && event) await o.audit.record(event);
  return serials;
}

export type TokenStatus = 'outstanding' | 'used' | 'expired' | 'cancelled';

/** An enrolment token as the operator sees it: an id (the first 12 hex digits of its hash), never the token. */
export interface ListedToken {
  id: string;
  nodeId: string;
  grade: number;
  status: TokenStatus;
  createdAt: string;
  expiresAt: string;
  usedAt: string | null;
  cancelledAt: string | null;
}

/** Every enrolment token in the register, newest first, with its status at `now`. */
export async function listTokens(ca: HubCa, now = new Date()): Promise<ListedToken[]> {
  return (await ca.tokens.listTokens()).map((r) => ({
    id: r.hash.slice(0, 12),
    nodeId: r.nodeId,
    grade: r.grade,
    status: r.cancelledAt !== undefined ? 'cancelled' : r.usedAt !== undefined ? 'used' : Date.parse(r.expiresAt) <= now.getTime() ? 'expired' : 'outstanding',
    createdAt: r.createdAt,
    expiresAt: r.expiresAt,
    usedAt: r.usedAt ?? null,
    cancelledAt: r.cancelledAt ?? null,
  }));
}

/** Cancels every unused token of a node (they answer ERR_TOKEN_CANCELLED from then on); returns how many. */
export async function cancelTokens(ca: HubCa, o: { nodeId: string; audit?: AuditSink; actor?: string; now?: Date }): Promise<number> {
  const nodeId = assertNodeId(o.nodeId);
  const now = o.now ?? new Date();
  const n = await ca.tokens.cancelTokens(nodeId, now);
  await o.audit?.record({ action: 'node.tokens.cancel', actor: o.actor ?? 'operator', actorNode: HUB_NODE_ID, object: `node:${nodeId}`, outcome: 'success', reason: `cancelled=${n}` });
  return n;
}

/**
 * How often a node may renew and how long its previous certificate stays valid after a renewal:
 * the configured seconds, but at most a tenth (interval) and a fifth (overlap) of the lifetime of
 * the certificates this hub issues, so drills with short certificates still renew in time. The
 * overlap is longer than the interval, so a node whose answer was lost can renew again with its
 * previous certificate before that is revoked.
 */
export function renewalPolicy(config: { nodeCertDays: number; nodeCertSeconds?: number; renewMinIntervalSeconds: number; renewOverlapSeconds: number }): { minIntervalMs: number; overlapMs: number } {
  const lifeMs = config.nodeCertSeconds !== undefined ? config.nodeCertSeconds * 1000 : config.nodeCertDays * 86_400_000;
  return { minIntervalMs: Math.min(config.renewMinIntervalSeconds * 1000, lifeMs / 10), overlapMs: Math.min(config.renewOverlapSeconds * 1000, lifeMs / 5) };
}

/** A drill lifetime in seconds (config nodeCertSeconds) as an explicit notAfter, else nothing. */
function shortLife(config: { nodeCertSeconds?: number }, now: Date): { notAfter?: Date } {
  return config.nodeCertSeconds === undefined ? {} : { notAfter: new Date(now.getTime() + config.nodeCertSeconds * 1000) };
}
