/**
 * Migration 020 (issue 18): the node's user register, server-side sessions (login sessions and
 * service tokens, one row per token keyed by SHA-256 of its `jti`), failed logins and lockouts: node_users, node_sessions,
 * node_login_failures, node_login_locks (the shape both servers share: server/accounts-migration.ts).
 */
import type { Knex } from 'knex';
import { createAccountTables, dropAccountTables } from '../server/accounts-migration.js';

export const accountsMigration = {
  name: '020_accounts',
  up: (db: Knex): Promise<void> => createAccountTables(db, 'node'),
  down: (db: Knex): Promise<void> => dropAccountTables(db, 'node'),
};
