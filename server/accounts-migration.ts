/**
 * The account tables of either server (issue 18), for one prefix: the user register, server-side
 * sessions (login sessions and service tokens, one row per token, keyed by SHA-256 of its `jti`:
 * the jti itself, a bearer secret, is never stored), failed logins and lockouts.
 * Times are ISO-8601 UTC strings. The node's migration 020 and the hub's 0xx_accounts call these.
 */
import type { Knex } from 'knex';
import type { AccountsPrefix } from './accounts-store.js';

export async function createAccountTables(db: Knex, p: AccountsPrefix): Promise<void> {
  await db.schema.createTable(`${p}_users`, (t) => {
    t.string('name', 64).primary();
    t.string('role', 16).notNullable();
    t.string('clearance', 16).notNullable();
    t.text('password_hash').notNullable();
    t.string('totp_secret', 128).notNullable(); // sealed: credentials.ts sealSecret (in clear before the sealing at rest)
    t.bigInteger('last_otp_step').nullable();
    t.boolean('disabled').notNullable().defaultTo(false);
    t.string('password_set_at', 30).notNullable();
    t.string('created_at', 30).notNullable();
    t.string('updated_at', 30).notNullable();
  });
  await db.schema.createTable(`${p}_sessions`, (t) => {
    t.string('jti_hash', 64).primary(); // hex SHA-256 of the token's jti (credentials.ts jtiHash)
    t.string('kind', 8).notNullable(); // login | service
    t.string('user_name', 128).notNullable().index(`${p}_sessions_user_idx`);
    t.string('role', 16).notNullable();
    t.string('clearance', 16).notNullable();
    t.string('issued_at', 30).notNullable();
    t.string('expires_at', 30).notNullable();
    t.string('last_seen_at', 30).notNullable();
    t.string('ended_at', 30).nullable();
    t.string('end_reason', 32).nullable(); // logout | disabled | idle | expired | revoked | reset
    t.string('source', 64).nullable();
  });
  await db.schema.createTable(`${p}_login_failures`, (t) => {
    t.bigIncrements('n').primary();
    t.string('user_name', 64).notNullable();
    t.string('at', 30).notNullable();
    t.string('source', 64).notNullable();
    t.index(['user_name', 'at'], `${p}_login_failures_user_idx`);
  });
  await db.schema.createTable(`${p}_login_locks`, (t) => {
    t.string('user_name', 64).primary();
    t.string('locked_until', 30).notNullable();
  });
}

export async function dropAccountTables(db: Knex, p: AccountsPrefix): Promise<void> {
  await db.schema.dropTableIfExists(`${p}_login_locks`);
  await db.schema.dropTableIfExists(`${p}_login_failures`);
  await db.schema.dropTableIfExists(`${p}_sessions`);
  await db.schema.dropTableIfExists(`${p}_users`);
}
