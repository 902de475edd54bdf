/**
 * The node's user register (issue 18 items 1 and 2), for `credit node user …` and the admin
 * routes: the service both servers share (server/users-service.ts) over node_users, with the
 * node's admin duties (sysadmin, secadmin, auditor) and its service accounts.
 */
import type { Knex } from 'knex';
import type { AuditEvent } from '../audit/types.js';
import type { Classification } from '../protocol/classification.js';
import type { AccountsConfig } from '../server/accounts-config.js';
import { usersService as sharedUsersService } from '../server/users-service.js';
import { ADMIN_ROLES, type Role } from './access.js';
import { nodeAccounts } from './users-store.js';

export { USER_NAME_PATTERN, type Enrolment, type UserView } from '../server/users-service.js';

export interface UsersDeps {
  db: Knex;
  audit: { record(e: AuditEvent): Promise<number> };
  nodeId: string;
  accounts: AccountsConfig;
  /** The key TOTP secrets are sealed with (config.totpKey, DATADIR/totp.key). */
  totpKey: Uint8Array;
  clock: () => Date;
}

export function usersService(deps: UsersDeps) {
  return sharedUsersService<Role, Classification>({
    db: deps.db, store: nodeAccounts, audit: deps.audit, actorNode: deps.nodeId, issuer: `credit-node-${deps.nodeId}`,
    adminRoles: ADMIN_ROLES, addCommand: 'credit node user add', accounts: deps.accounts, totpKey: deps.totpKey, clock: deps.clock,
  });
}

export type UsersService = ReturnType<typeof usersService>;
