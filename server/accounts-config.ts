/**
 * The `accounts` part of the node config (issue 18): password policy (complexity, rotation),
 * session lifetimes, lockout and the per-source login rate. Defaults follow GB/T 22239-2019 level 3
 * as assessors read it: sessions ≤ 30 min, idle 15 min, 5 failures in 15 min lock for 30 min.
 */
import type { SchemaNode } from '../protocol/config-check.js';

export interface AccountsConfig {
  password: { minLength: number; minClasses: number; maxAgeDays: number };
  session: { ttlMinutes: number; idleMinutes: number };
  lockout: { failures: number; windowMinutes: number; lockMinutes: number };
  /** Login attempts per source address per minute. */
  loginPerMinute: number;
}

export const ACCOUNTS_SCHEMA: SchemaNode = {
  type: 'object',
  description: 'user accounts: password policy, sessions, lockout (issue 18)',
  properties: {
    password: {
      type: 'object',
      description: 'password policy',
      properties: {
        minLength: { type: 'integer', minimum: 8, maximum: 128, default: 12, description: 'shortest password' },
        minClasses: { type: 'integer', minimum: 1, maximum: 4, default: 3, description: 'character classes a password must mix (lower, upper, digit, other)' },
        maxAgeDays: { type: 'integer', minimum: 0, default: 90, description: 'a password older than this must be changed before login succeeds (0 = no rotation)' },
      },
    },
    session: {
      type: 'object',
      description: 'login sessions (access tokens bound to a server-side session)',
      properties: {
        ttlMinutes: { type: 'integer', minimum: 1, maximum: 30, default: 30, description: 'lifetime of an access token and its session (at most 30)' },
        idleMinutes: { type: 'integer', minimum: 1, maximum: 30, default: 15, description: 'a session unused this long ends' },
      },
    },
    lockout: {
      type: 'object',
      description: 'account lockout after failed logins',
      properties: {
        failures: { type: 'integer', minimum: 1, maximum: 20, default: 5, description: 'failed logins that lock the account…' },
        windowMinutes: { type: 'integer', minimum: 1, default: 15, description: '…within this many minutes' },
        lockMinutes: { type: 'integer', minimum: 1, default: 30, description: 'how long the account stays locked' },
      },
    },
    loginPerMinute: { type: 'integer', minimum: 1, default: 20, description: 'login attempts per source address per minute (ERR_RATE_LIMITED beyond)' },
  },
};
