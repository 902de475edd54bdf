/**
 * The SQL of the accounts both servers keep (issue 18), for one table prefix (`node`, `hub`):
 * PREFIX_users (name, role, clearance, argon2id hash, the sealed TOTP secret, the last TOTP step
 * used), PREFIX_login_failures and PREFIX_login_locks (kept per name, whether or not the user exists:
 * no enumeration) and PREFIX_sessions (one row per token, keyed by SHA-256 of its `jti`, never the
 * jti itself: login sessions and service tokens).
 * The only module writing those tables (node/users-store.ts, node/sessions-store.ts and
 * hub/accounts.ts bind it to their prefix).
 */
import type { Knex } from 'knex';
import { jtiHash, openSecret, sealSecret, SEALED_PREFIX, SESSION_ID_LENGTH } from './credentials.js';
import { assertUserName } from './user-name.js';
import { engineOf } from '../audit/knex-connect.js';

/** pg_advisory_xact_lock class (with hashtext of the user name) that orders one user's failed-login rows. */
export const LOGIN_FAILURE_LOCK_CLASS = 430_000_005;

export type AccountsPrefix = 'node' | 'hub';

export interface User<R extends string = string, C extends string = string> {
  name: string;
  role: R;
  clearance: C;
  passwordHash: string;
  /** As stored: sealed (credentials.ts sealSecret); accountsStore.openTotp opens it. */
  totpSecret: string;
  lastOtpStep: number | null;
  disabled: boolean;
  passwordSetAt: string;
  createdAt: string;
}

export type SessionKind = 'login' | 'service';
export type EndReason = 'logout' | 'disabled' | 'idle' | 'expired' | 'revoked' | 'reset';

export interface Session<R extends string = string, C extends string = string> {
  /** The session id shown in listings and as `sid=` in the audit log: the first 16 hex digits of SHA-256(jti). */
  id: string;
  kind: SessionKind;
  user: string;
  role: R;
  clearance: C;
  issuedAt: string;
  expiresAt: string;
  lastSeenAt: string;
  endedAt: string | null;
  endReason: string | null;
  source: string | null;
}

interface UserRow {
  name: string; role: string; clearance: string; password_hash: string; totp_secret: string; last_otp_step: number | string | null;
  disabled: boolean | number; password_set_at: string; created_at: string;
}
interface SessionRow {
  jti_hash: string; kind: string; user_name: string; role: string; clearance: string; issued_at: string; expires_at: string;
  last_seen_at: string; ended_at: string | null; end_reason: string | null; source: string | null;
}

/**
 * `passwordSetAt` of a password set by someone other than the user (`user add`, `user reset`):
 * login answers ERR_PASSWORD_EXPIRED until the user sets one (POST /v1/password).
 */
export const MUST_CHANGE = new Date(0).toISOString();

const n64 = (name: string) => name.slice(0, 64);

export function accountsStore<R extends string = string, C extends string = string>(prefix: AccountsPrefix) {
  const users = `${prefix}_users`;
  const failures = `${prefix}_login_failures`;
  const locks = `${prefix}_login_locks`;
  const sessions = `${prefix}_sessions`;
  const userOf = (r: UserRow): User<R, C> => ({
    name: r.name, role: r.role as R, clearance: r.clearance as C, passwordHash: r.password_hash, totpSecret: r.totp_secret,
    lastOtpStep: r.last_otp_step === null ? null : Number(r.last_otp_step), disabled: Boolean(r.disabled), passwordSetAt: r.password_set_at, createdAt: r.created_at,
  });
  const sessionOf = (r: SessionRow): Session<R, C> => ({
    id: r.jti_hash.slice(0, SESSION_ID_LENGTH), kind: r.kind as SessionKind, user: r.user_name, role: r.role as R, clearance: r.clearance as C,
    issuedAt: r.issued_at, expiresAt: r.expires_at, lastSeenAt: r.last_seen_at, endedAt: r.ended_at, endReason: r.end_reason, source: r.source,
  });
  /** What a user's sealed TOTP secret is bound to (GCM additional data). */
  const bound = (name: string) => `${users}:${name}`;
  const clearFailures = async (db: Knex, name: string): Promise<void> => {
    await db(failures).where({ user_name: n64(name) }).delete();
  };

  return {
    tables: { users, failures, locks, sessions },

    // ---- the register
    async findUser(db: Knex, name: string): Promise<User<R, C> | undefined> {
      const r = (await db(users).where({ name }).first()) as UserRow | undefined;
      return r ? userOf(r) : undefined;
    },
    async listUsers(db: Knex): Promise<User<R, C>[]> {
      return ((await db(users).orderBy('name')) as UserRow[]).map(userOf);
    },
    /** `totpSecret` in clear: sealed here under `key`. */
    async insertUser(db: Knex, key: Uint8Array, u: Omit<User<R, C>, 'lastOtpStep' | 'disabled' | 'createdAt'>, at: Date): Promise<void> {
      assertUserName(u.name);
      await db(users).insert({
        name: u.name, role: u.role, clearance: u.clearance, password_hash: u.passwordHash, totp_secret: sealSecret(key, bound(u.name), u.totpSecret), disabled: false,
        password_set_at: u.passwordSetAt, created_at: at.toISOString(), updated_at: at.toISOString(),
      });
    },
    /** A `totpSecret` given in clear is sealed under `key`. */
    async updateUser(db: Knex, name: string, change: Partial<Pick<User<R, C>, 'role' | 'clearance' | 'passwordHash' | 'totpSecret' | 'disabled' | 'passwordSetAt'>> & { lastOtpStep?: number | null }, at: Date, key?: Uint8Array): Promise<boolean> {
      const row: Record<string, unknown> = { updated_at: at.toISOString() };
      if (change.role !== undefined) row.role = change.role;
      if (change.clearance !== undefined) row.clearance = change.clearance;
      if (change.passwordHash !== undefined) row.password_hash = change.passwordHash;
      if (change.totpSecret !== undefined) {
        if (!key) throw new TypeError('updateUser: a new TOTP secret needs the sealing key');
        row.totp_secret = sealSecret(key, bound(name), change.totpSecret);
      }
      if (change.disabled !== undefined) row.disabled = change.disabled;
      if (change.passwordSetAt !== undefined) row.password_set_at = change.passwordSetAt;
      if (change.lastOtpStep !== undefined) row.last_otp_step = change.lastOtpStep;
      return (await db(users).where({ name }).update(row)) > 0;
    },
    /** The user's TOTP secret in clear, or undefined when it does not open under `key` (another key, copied from another row, tampered). */
    openTotp(key: Uint8Array, u: User<R, C>): string | undefined {
      return openSecret(key, bound(u.name), u.totpSecret);
    },
    /**
     * The data migration of TOTP secrets stored in clear (before sealing at rest): seals every
     * one under `key`, in one transaction. Run at every start and by every command that opens the
     * store; resolves with the number sealed.
     */
    async sealClearSecrets(db: Knex, key: Uint8Array): Promise<number> {
      return db.transaction(async (trx) => {
        const rows = (await trx(users).whereNot('totp_secret', 'like', `${SEALED_PREFIX}%`).select('name', 'totp_secret')) as { name: string; totp_secret: string }[];
        for (const r of rows) await trx(users).where({ name: r.name, totp_secret: r.totp_secret }).update({ totp_secret: sealSecret(key, bound(r.name), r.totp_secret) });
        return rows.length;
      });
    },
    /**
     * Records a TOTP step as used unless it (or a later one) already was: the compare-and-set that
     * refuses a replay even when two logins race. True when this call claimed the step.
     */
    async claimOtpStep(db: Knex, name: string, step: number): Promise<boolean> {
      const n = await db(users).where({ name }).andWhere((q) => q.whereNull('last_otp_step').orWhere('last_otp_step', '<', step)).update({ last_otp_step: step });
      return n > 0;
    },

    // ---- failed logins and lockouts
    /** Records an attempt of `name` as failed, before it is checked (a pending failure, removed on success). Resolves with the row's number. */
    async recordFailure(db: Knex, name: string, source: string, at: Date): Promise<number> {
      // On PostgreSQL the row number and the commit come in one order per user (a transaction-level
      // lock on the name): otherwise an attempt numbered n could commit after n + 1 counted its place,
      // and two parallel attempts would share the threshold place (6 fully checked of 15 in CI). SQLite's
      // single writer already orders them.
      return db.transaction(async (trx) => {
        if (engineOf(trx as unknown as Knex) === 'pg') await trx.raw('select pg_advisory_xact_lock(?, hashtext(?))', [LOGIN_FAILURE_LOCK_CLASS, n64(name)]);
        const out: unknown[] = await trx(failures).insert({ user_name: n64(name), at: at.toISOString(), source: source.slice(0, 64) }).returning('n');
        const first = out[0] as { n?: number | string } | number | string;
        return Number(typeof first === 'object' ? first.n : first);
      });
    },
    async removeFailure(db: Knex, n: number): Promise<void> {
      await db(failures).where({ n }).delete();
    },
    /** Where failure row `n` stands among the failures of `name` since `since`: 1 for the oldest (row numbers only grow). */
    async failurePlace(db: Knex, name: string, since: string, n: number): Promise<number> {
      const r = (await db(failures).where({ user_name: n64(name) }).andWhere('at', '>', since).andWhere('n', '<=', n).count({ c: '*' }).first()) as { c: number | string } | undefined;
      return Number(r?.c ?? 0);
    },
    /** Failures of `name` since `since` (ISO). */
    async countFailures(db: Knex, name: string, since: string): Promise<number> {
      const r = (await db(failures).where({ user_name: n64(name) }).andWhere('at', '>', since).count({ n: '*' }).first()) as { n: number | string } | undefined;
      return Number(r?.n ?? 0);
    },
    clearFailures,
    async lockedUntil(db: Knex, name: string): Promise<string | undefined> {
      const r = (await db(locks).where({ user_name: n64(name) }).first()) as { locked_until: string } | undefined;
      return r?.locked_until;
    },
    async lock(db: Knex, name: string, until: Date): Promise<void> {
      await db(locks).insert({ user_name: n64(name), locked_until: until.toISOString() }).onConflict('user_name').merge();
    },
    async unlock(db: Knex, name: string): Promise<void> {
      await db(locks).where({ user_name: n64(name) }).delete();
      await clearFailures(db, name);
    },

    // ---- sessions (the caller passes the token's jti: only its hash reaches the store)
    async createSession(db: Knex, s: Omit<Session<R, C>, 'id' | 'endedAt' | 'endReason' | 'lastSeenAt'> & { jti: string }): Promise<void> {
      assertUserName(s.user); // service accounts too (credit node token)
      await db(sessions).insert({
        jti_hash: jtiHash(s.jti), kind: s.kind, user_name: s.user, role: s.role, clearance: s.clearance, issued_at: s.issuedAt, expires_at: s.expiresAt,
        last_seen_at: s.issuedAt, source: s.source?.slice(0, 64) ?? null,
      });
    },
    async findSession(db: Knex, jti: string): Promise<Session<R, C> | undefined> {
      const r = (await db(sessions).where({ jti_hash: jtiHash(jti) }).first()) as SessionRow | undefined;
      return r ? sessionOf(r) : undefined;
    },
    /** The session whose id (as listed: 16 hex digits) is `id`, when exactly one has it. */
    async findSessionById(db: Knex, id: string): Promise<(Session<R, C> & { hash: string }) | undefined> {
      if (!new RegExp(`^[0-9a-f]{${SESSION_ID_LENGTH}}$`).test(id)) return undefined;
      const rows = (await db(sessions).where('jti_hash', 'like', `${id}%`).limit(2)) as SessionRow[];
      return rows.length === 1 ? { ...sessionOf(rows[0]!), hash: rows[0]!.jti_hash } : undefined;
    },
    /** Ends one live session, named by its token's jti (or `{ hash }` from findSessionById); false when there was none (unknown or already ended). */
    async endSession(db: Knex, jti: string | { hash: string }, reason: EndReason, at: Date): Promise<boolean> {
      const hash = typeof jti === 'string' ? jtiHash(jti) : jti.hash;
      return (await db(sessions).where({ jti_hash: hash }).whereNull('ended_at').update({ ended_at: at.toISOString(), end_reason: reason })) > 0;
    },
    /** Ends every live session (and service token) of `user`; the number ended. */
    async endUserSessions(db: Knex, user: string, reason: EndReason, at: Date): Promise<number> {
      return db(sessions).where({ user_name: user }).whereNull('ended_at').update({ ended_at: at.toISOString(), end_reason: reason });
    },
    async touchSession(db: Knex, jti: string, at: Date): Promise<void> {
      await db(sessions).where({ jti_hash: jtiHash(jti) }).whereNull('ended_at').update({ last_seen_at: at.toISOString() });
    },
    /** Whether `user` holds (or held: revoked and expired count) a service token: a service account's name. */
    async isServiceAccount(db: Knex, user: string): Promise<boolean> {
      return (await db(sessions).where({ kind: 'service', user_name: user }).first('jti_hash')) !== undefined;
    },
    /** Sessions of one kind, newest first (live only unless `all`). */
    async listSessions(db: Knex, kind: SessionKind, opts: { all?: boolean } = {}): Promise<Session<R, C>[]> {
      const q = db(sessions).where({ kind }).orderBy('issued_at', 'desc');
      if (!opts.all) q.whereNull('ended_at');
      return ((await q) as SessionRow[]).map(sessionOf);
    },
  };
}

export type AccountsStore<R extends string = string, C extends string = string> = ReturnType<typeof accountsStore<R, C>>;
