/**
 * Access control of the local API, in one place: which role may do which action, and what a
 * caller's clearance lets them see of a record of each class. Pure: services call it and audit
 * the outcome. The README's "Running a city node" section shows the same rules as a table.
 */
import { clears, type Classification } from '../protocol/classification.js';
import { piiClearance } from '../protocol/mask.js';
import { protocolError, type CreditError } from '../protocol/errors.js';
import { nodeError, type NodeErrorCode } from './errors.js';

export const ROLES = ['submitter', 'query', 'officer', 'auditor', 'sysadmin', 'secadmin'] as const;
export type Role = (typeof ROLES)[number];

/** The three admin duties of 三权分立 (GB/T 22239-2019 §8.1.4.2 c): one account holds one role, so at most one of them. */
export const ADMIN_ROLES: readonly Role[] = ['sysadmin', 'secadmin', 'auditor'];

export const ACTIONS = ['record.create', 'record.import', 'record.read', 'record.read-withdrawn', 'record.object', 'record.withdraw', 'objection.resolve', 'audit.read', 'audit.export', 'user.manage', 'user.authorize'] as const;
export type Action = (typeof ACTIONS)[number];

/**
 * Role → the actions it may take (issue 18). The business roles handle records; the admin roles
 * none: sysadmin manages accounts (no record content), secadmin roles and clearances, auditor reads
 * and exports the audit log (and the exchange status) and changes nothing.
 */
export const ROLE_ACTIONS: Readonly<Record<Role, readonly Action[]>> = Object.freeze({
  submitter: ['record.create', 'record.import'],
  query: ['record.read'],
  officer: ['record.create', 'record.import', 'record.read', 'record.read-withdrawn', 'record.object', 'record.withdraw', 'objection.resolve'],
  auditor: ['audit.read', 'audit.export'],
  sysadmin: ['user.manage'],
  secadmin: ['user.authorize'],
});

/**
 * The /v1 routes an admin role may reach at all (checked in auth.ts before any handler): an admin
 * role gets ERR_ROLE_DENIED on every other route, record routes included, whatever is added later.
 */
const ADMIN_ROUTES: Readonly<Record<string, readonly string[]>> = {
  sysadmin: ['/v1/logout', '/v1/users', '/v1/users/:name/disable', '/v1/sessions'],
  secadmin: ['/v1/logout', '/v1/users', '/v1/users/:name/authorize'],
  auditor: ['/v1/logout', '/v1/audit/export', '/v1/exchange/status', '/v1/quality'],
};

export function mayUseRoute(role: Role, url: string): boolean {
  const only = ADMIN_ROUTES[role];
  return only === undefined || !url.startsWith('/v1/') || only.includes(url);
}

export interface Caller {
  /** `user:<name>` */
  actor: string;
  role: Role;
  clearance: Classification;
}

export function mayAct(role: Role, action: Action): boolean {
  return ROLE_ACTIONS[role].includes(action);
}

/** Throws ERR_ROLE_DENIED unless the caller's role may take `action`. */
export function assertMayAct(caller: Caller, action: Action): void {
  if (!mayAct(caller.role, action)) throw nodeError('ERR_ROLE_DENIED', `role ${caller.role} may not ${action}`, { role: caller.role, action });
}

/** What a caller gets when reading a record of `recordClass`. */
export type ReadDecision =
  | { allowed: true; view: 'full' | 'masked'; audited: boolean }
  | { allowed: false; code: 'ERR_CLASSIFICATION_DENIED' | Extract<NodeErrorCode, 'ERR_PURPOSE_REQUIRED'> };

/**
 * Read rule by class (clearance ranks public < shared < restricted < internal):
 * - public, shared: anyone with read; personal fields in clear only at clearance ≥ max(class, shared),
 *   masked otherwise (protocol/mask.ts `piiClearance`).
 * - restricted: clearance ≥ restricted AND a stated purpose; each release audited with it.
 *   Without purpose ERR_PURPOSE_REQUIRED; below restricted ERR_CLASSIFICATION_DENIED.
 * - internal: clearance internal only, each read audited (tokens are issued by this node, so it is the owning node's
 *   user); otherwise ERR_CLASSIFICATION_DENIED.
 */
export function decideRead(clearance: Classification, recordClass: Classification, purpose: string | undefined): ReadDecision {
  if (recordClass === 'restricted' || recordClass === 'internal') {
    if (!clears(clearance, recordClass)) return { allowed: false, code: 'ERR_CLASSIFICATION_DENIED' };
    if (recordClass === 'restricted' && !purpose) return { allowed: false, code: 'ERR_PURPOSE_REQUIRED' };
    return { allowed: true, view: 'full', audited: true }; // every read of restricted and internal content (issue 18 item 5)
  }
  return { allowed: true, view: clears(clearance, piiClearance(recordClass)) ? 'full' : 'masked', audited: false };
}

/** Writes (create, import, object, withdraw) need clearance covering the record's class. */
export function assertMayWrite(caller: Caller, recordClass: Classification): void {
  if (!clears(caller.clearance, recordClass)) {
    throw protocolError('ERR_CLASSIFICATION_DENIED', `clearance ${caller.clearance} does not cover ${recordClass} records`, { clearance: caller.clearance, class: recordClass });
  }
}

/**
 * True when the caller may not even learn that the record exists: the read rule above denies it
 * by class (restricted or internal above the clearance). public and shared records are readable
 * by every clearance (masked), so they are never hidden.
 */
export function hiddenFrom(clearance: Classification, recordClass: Classification): boolean {
  const d = decideRead(clearance, recordClass, 'existence');
  return !d.allowed && d.code === 'ERR_CLASSIFICATION_DENIED';
}

/**
 * The one answer about a record hidden from the caller (hiddenFrom), on every path that names a stored
 * record (GET by id, duplicate submission, objection, withdraw, repair, resolve): it carries only
 * the caller's own clearance — no id, class or status — and is given before any other check of
 * the record, so an active and a withdrawn record look the same (issue 13).
 */
export function aboveClearance(clearance: Classification): CreditError {
  return protocolError('ERR_CLASSIFICATION_DENIED', `clearance ${clearance} does not cover this record`, { clearance });
}

export function isRole(x: unknown): x is Role {
  return typeof x === 'string' && (ROLES as readonly string[]).includes(x);
}
