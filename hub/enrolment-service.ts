/**
 * Enrolment, renewal, tokens and revocation over the CA whose register lives in the hub
 * database. Routes (enroll, renew) and the operator CLI (token, revoke) use the same functions.
 */
import { enrol, HUB_NODE_ID, RENEWAL_WINDOW, renewCertificate } from '../certs/issue.js';
import { revoke } from '../certs/revoke.js';
import { createEnrolmentToken } from '../certs/tokens.js';
import type { RevocationReason } from '../certs/crl.js';
import { assertNodeId } from '../protocol/identifiers.js';
import { isCreditError, protocolError } from '../protocol/errors.js';
import { hubError } from './errors.js';
import type { EnrollRequest, EnrollResponse, RenewRequest } from '../protocol/exchange.js';
import type { Db } from '../audit/knex-connect.js';
import type { AuditSink } from '../audit/types.js';
import type { HubCa } from './ca-store.js';
import type { Peer } from './client-check.js';
import type { HubDeps } from './context.js';
import { nodesStore } from './nodes-store.js';

export interface EnrolmentService {
  enroll(req: EnrollRequest): Promise<EnrollResponse>;
  renew(peer: Peer, req: RenewRequest): Promise<EnrollResponse>;
}

export function enrolmentService(deps: HubDeps): EnrolmentService {
  const { ca, config } = deps;
  const response = (nodeId: string, grade: number, c: { certPem: string; serial: string; notBefore: Date; notAfter: Date }): EnrollResponse => ({
    nodeId, grade, certPem: c.certPem, caCertPem: ca.certPem, hubCertPem: deps.identity.certPem, serial: c.serial,
    notBefore: c.notBefore.toISOString(), notAfter: c.notAfter.toISOString(),
  });
  return {
    async enroll(req) {
      const now = deps.clock();
      const cert = await enrol(ca, { token: req.token, csrPem: req.csrPem, days: config.nodeCertDays, now, ...shortLife(config, now) });
      await nodesStore.enrolled(deps.db, { nodeId: cert.nodeId, grade: cert.grade, now: now.toISOString() });
      const superseded = cert.superseded.length === 0 ? '' : ` superseded=${cert.superseded.join(',')}`;
      await deps.audit.record({ action: 'node.enrol', actor: `node:${cert.nodeId}`, actorNode: cert.nodeId, object: `cert:${cert.serial}`, outcome: 'success', reason: `grade=${cert.grade} notAfter=${cert.notAfter.toISOString()}${superseded}` });
      return response(cert.nodeId, cert.grade, cert);
    },

    async renew(peer, req) {
      const now = deps.clock();
      const policy = renewalPolicy(config);
      const claim = async (nodeId: string) => {
        if (!(await nodesStore.claimRenewal(deps.db, nodeId, now, policy.minIntervalMs))) {
          throw hubError('ERR_RENEWAL_RATE_LIMITED', `node ${nodeId} was issued a certificate less than ${Math.round(policy.minIntervalMs / 1000)} s ago`, { nodeId, minIntervalSeconds: Math.round(policy.minIntervalMs / 1000) });
        }
      };
      const cert = await renewCertificate(ca, {
        currentCertPem: peer.certPem, csrPem: req.csrPem, days: config.nodeCertDays, now, ...shortLife(config, now),
        window: RENEWAL_WINDOW, overlapMs: policy.overlapMs, beforeIssue: claim,
      });
      await nodesStore.count(deps.db, peer.nodeId, now.toISOString(), {});
      await deps.audit.record({ action: 'node.renew', actor: `node:${peer.nodeId}`, actorNode: peer.nodeId, object: `cert:${cert.serial}`, outcome: 'success', reason: `previous=${cert.previousSerial} notAfter=${cert.notAfter.toISOString()}` });
      return response(peer.nodeId, peer.grade, cert);
    },
  };
}

/** A one-time enrolment token (only its hash is stored); the node appears in the registry as pending. */
export async function makeToken(db: Db, ca: HubCa, o: { nodeId: string; grade: number; ttlMs: number; name?: string; now?: Date }): Promise<{ token: string; expiresAt: Date }> {
  const nodeId = assertNodeId(o.nodeId);
  if (nodeId === HUB_NODE_ID) throw protocolError('ERR_INVALID_NODE_ID', `${HUB_NODE_ID} is the hub's own id`);
  const now = o.now ?? new Date();
  const made = await createEnrolmentToken(ca, { nodeId, grade: o.grade, ttlMs: o.ttlMs, now });
  await nodesStore.announce(db, { nodeId, name: o.name ?? null, grade: o.grade, now: now.toISOString() });
  return made;
}

/**
 * Cuts a node off: every active certificate revoked, its unused enrolment tokens cancelled, and the
 * node marked revoked. Takes effect on the node's next request to any hub process. Returns the
 * serials revoked now.
 */
export async function revokeNode(db: Db, ca: HubCa, o: { nodeId: string; reason: RevocationReason; audit?: AuditSink; actor?: string; now?: Date }): Promise<string[]> {
  const nodeId = assertNodeId(o.nodeId);
  const now = o.now ?? new Date();
  let serials: string[];
  try {
    serials = await revoke(ca, { nodeId, reason: o.reason, now });
  } catch (e) {
    // a node without an active certificate (pending, expired, revoked before) is still cut off
    if (!isCreditError(e) || e.code !== 'ERR_CERT_NOT_FOUND') throw e;
    if (!(await nodesStore.get(db, nodeId))) throw hubError('ERR_NODE_UNKNOWN', `node ${nodeId} is not registered at this hub`, { nodeId });
    serials = [];
  }
  const tokens = await ca.tokens.cancelTokens(nodeId, now);
  await nodesStore.setStatus(db, nodeId, 'revoked', now.toISOString());
  await o.audit?.record({ action: 'node.revoke', actor: o.actor ?? 'operator', actorNode: HUB_NODE_ID, object: `node:${nodeId}`, outcome: 'success', reason: `${o.reason} serials=${serials.join(',')} tokensCancelled=${tokens}` });
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
