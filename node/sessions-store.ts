/**
 * The node's server-side sessions (issue 18 item 3): node_sessions, one row per token (keyed by SHA-256 of its `jti`), for
 * login sessions (short, idle-limited) and service tokens (`credit node token`, listed and
 * revocable), through the SQL both servers share (server/accounts-store.ts). A token whose jti has
 * no row, or whose row has ended, is refused (auth.ts).
 */
import type { Session as AnySession } from '../server/accounts-store.js';
import type { Classification } from '../protocol/classification.js';
import type { Role } from './access.js';
import { nodeAccounts } from './users-store.js';

export type { EndReason, SessionKind } from '../server/accounts-store.js';
export type Session = AnySession<Role, Classification>;

export const { createSession, findSession, findSessionById, endSession, endUserSessions, touchSession, isServiceAccount, listSessions } = nodeAccounts;
