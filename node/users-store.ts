/**
 * The node's user register (issue 18 item 1): node_users, node_login_failures and
 * node_login_locks, through the SQL both servers share (server/accounts-store.ts).
 */
import { accountsStore, MUST_CHANGE, type User as AnyUser } from '../server/accounts-store.js';
import type { Classification } from '../protocol/classification.js';
import type { Role } from './access.js';

export { MUST_CHANGE };
export type User = AnyUser<Role, Classification>;

export const nodeAccounts = accountsStore<Role, Classification>('node');
export const {
  findUser, listUsers, insertUser, updateUser, openTotp, sealClearSecrets, claimOtpStep,
  recordFailure, removeFailure, failurePlace, countFailures, clearFailures, lockedUntil, lock, unlock,
} = nodeAccounts;
