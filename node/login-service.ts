/**
 * Login, logout and password change of the node's users (issue 18 items 3 and 4): the logic both
 * servers share (server/login-service.ts: argon2id + TOTP, lockout, no enumeration, per-source rate,
 * everything audited with the source address) over node_users / node_sessions, with access tokens
 * signed by this node (tokens.ts).
 */
import type { Knex } from 'knex';
import type { AccountsConfig } from '../server/accounts-config.js';
import { loginService as sharedLoginService } from '../server/login-service.js';
import type { Role } from './access.js';
import type { AuditWriter } from './records-service.js';
import { issueToken } from './tokens.js';
import { nodeAccounts } from './users-store.js';

export type { Credentials, LoginResult } from '../server/login-service.js';

export interface LoginDeps {
  db: Knex;
  audit: AuditWriter;
  nodeId: string;
  secret: Uint8Array;
  /** The key TOTP secrets are sealed with (config.totpKey, DATADIR/totp.key). */
  totpKey: Uint8Array;
  accounts: AccountsConfig;
  clock: () => Date;
  /** Called once an attempt is counted, just before its password and TOTP are checked (tests). */
  beforeVerify?: (user: string) => Promise<void>;
}

export type LoginService = ReturnType<typeof loginService>;

export function loginService(deps: LoginDeps) {
  return sharedLoginService({
    db: deps.db,
    store: nodeAccounts,
    audit: deps.audit,
    actorNode: deps.nodeId,
    totpKey: deps.totpKey,
    accounts: deps.accounts,
    clock: deps.clock,
    issueToken: (c, issued) => issueToken(deps.secret, deps.nodeId, { ...c, role: c.role as Role, clearance: c.clearance as never }, issued),
    ...(deps.beforeVerify ? { beforeVerify: deps.beforeVerify } : {}),
  });
}
