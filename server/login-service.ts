/**
 * Login, logout and password change (issue 18 items 3 and 4), for the node's users and the hub's
 * operators alike (each binds it to its tables, audit log and token signer). A login needs the password
 * (argon2id) and a current TOTP code whose time step was not used before (the step is claimed in
 * the store, so a replay within the window is refused). Success opens a server-side session
 * (jti) and returns a short access token bound to it.
 * Every failure answers the same ERR_LOGIN_FAILED whatever went wrong, for existing and unknown
 * names alike (the audit entry says which); failures are counted per name, so 5 within 15 min lock
 * even a name that does not exist (ERR_ACCOUNT_LOCKED, 423, for 30 min). Attempts are limited per
 * source address (ERR_RATE_LIMITED). Everything is audited with the source address.
 */
import type { Knex } from 'knex';
import type { AuditEvent } from '../audit/types.js';
import { serviceError } from '../protocol/service-errors.js';
import { accountError } from './account-errors.js';
import type { AccountsConfig } from './accounts-config.js';
import { MUST_CHANGE, type AccountsStore, type User } from './accounts-store.js';
import { hashPassword, newSessionId, otpStep, passwordProblems, sessionIdOf, unknownName, unknownNameKey, verifyPassword } from './credentials.js';
import { currentRequest } from './request-context.js';

export interface SessionClaims {
  user: string;
  role: string;
  clearance: string;
  ttlSeconds: number;
  jti: string;
}

export interface LoginDeps<R extends string = string, C extends string = string> {
  db: Knex;
  store: AccountsStore<R, C>;
  audit: { record(e: AuditEvent): Promise<number> };
  /** The server the entries are written by (actorNode): a node id, or the hub's 430000. */
  actorNode: string;
  /** The key TOTP secrets are sealed with (DATADIR/totp.key). */
  totpKey: Uint8Array;
  accounts: AccountsConfig;
  clock: () => Date;
  /** Signs the access token of a new session (the session row is written first). */
  issueToken(claims: SessionClaims, issued: Date): Promise<string>;
  /** Called once an attempt is counted, just before its password and TOTP are checked (tests). */
  beforeVerify?: (user: string) => Promise<void>;
}

export interface Credentials {
  user: string;
  password: string;
  otp: string;
}

export interface LoginResult {
  token: string;
  tokenType: 'Bearer';
  expiresAt: string;
  idleTimeoutSeconds: number;
  role: string;
  clearance: string;
}

export type LoginService = ReturnType<typeof loginService>;

export function loginService<R extends string, C extends string>(deps: LoginDeps<R, C>) {
  const { db, audit, store, actorNode, accounts, clock } = deps;
  const { claimOtpStep, clearFailures, failurePlace, findUser, lock, lockedUntil, recordFailure, removeFailure, unlock, updateUser, createSession, endSession, endUserSessions } = store;
  /** source address → times of its recent attempts (ms): the per-source login rate (one process per node). */
  const attempts = new Map<string, number[]>();
  const unknownKey = unknownNameKey(deps.totpKey);

  const rateLimit = (source: string, now: number) => {
    const recent = (attempts.get(source) ?? []).filter((t) => t > now - 60_000);
    if (recent.length >= accounts.loginPerMinute) {
      attempts.set(source, recent);
      throw serviceError('ERR_RATE_LIMITED', `登录尝试过于频繁：每个来源每分钟最多 ${accounts.loginPerMinute} 次，请稍后再试 [ERR_RATE_LIMITED]`, { retryAfter: '1 minute' });
    }
    recent.push(now);
    attempts.set(source, recent);
    if (attempts.size > 10_000) for (const [k, v] of attempts) if (v.every((t) => t <= now - 60_000)) attempts.delete(k);
  };

  const event = (name: string, action: string, outcome: 'success' | 'failure', reason: string) =>
    audit.record({ actor: `user:${name.slice(0, 64)}`, actorNode, action, object: `user:${name.slice(0, 64)}`, outcome, reason });

  const failed = () => accountError('ERR_LOGIN_FAILED', '登录失败：用户名、口令或动态口令不正确 [ERR_LOGIN_FAILED]');
  const locked = (until: string) => accountError('ERR_ACCOUNT_LOCKED', `账户已锁定至 ${until}（连续登录失败），请期满后重试或联系系统管理员 [ERR_ACCOUNT_LOCKED]`, { lockedUntil: until });

  /**
   * Both factors of `c`, or a refusal: the lock and the rate first; then the attempt is counted as
   * a failure before anything is checked (a pending failure, removed on success), so parallel
   * attempts cannot all pass the lock check: the attempt whose place in the window is the
   * threshold locks the account when it fails, those beyond it are refused unchecked
   * (ERR_ACCOUNT_LOCKED). Resolves with the user, its TOTP step claimed.
   */
  async function verifyCredentials(c: Credentials, source: string, now: Date, action: string): Promise<User<R, C>> {
    rateLimit(source, now.getTime());
    const user = await findUser(db, c.user);
    // a name that is no user may be a password typed into the wrong field: counted and audited by its hash
    const name = user ? user.name : unknownName(unknownKey, c.user);
    const until = await lockedUntil(db, name);
    if (until !== undefined) {
      if (until > now.toISOString()) {
        await event(name, action, 'failure', 'ERR_ACCOUNT_LOCKED');
        throw locked(until);
      }
      await unlock(db, name); // the period is over: a fresh count
    }
    const since = new Date(now.getTime() - accounts.lockout.windowMinutes * 60_000).toISOString();
    const attempt = await recordFailure(db, name, source, now);
    const place = await failurePlace(db, name, since, attempt);
    if (place > accounts.lockout.failures) {
      const current = await lockedUntil(db, name);
      await event(name, action, 'failure', `ERR_ACCOUNT_LOCKED (${place - 1} attempts failed or in progress)`);
      throw locked(current ?? new Date(now.getTime() + accounts.lockout.lockMinutes * 60_000).toISOString());
    }
    await deps.beforeVerify?.(name);
    const passwordOk = await verifyPassword(user?.passwordHash, c.password);
    let why: string | undefined;
    if (!user) why = 'unknown user';
    else if (!passwordOk) why = 'wrong password';
    else if (user.disabled) why = 'user disabled';
    else {
      const secret = store.openTotp(deps.totpKey, user);
      const step = secret === undefined ? null : await otpStep(secret, c.otp, now);
      if (secret === undefined) why = 'totp secret does not open (totp.key replaced, or the row was altered)';
      else if (step === null) why = 'wrong otp';
      else if (!(await claimOtpStep(db, user.name, step))) why = 'otp replayed';
    }
    if (why === undefined && user) {
      await removeFailure(db, attempt);
      return user;
    }
    if (place >= accounts.lockout.failures) {
      const lockUntil = new Date(now.getTime() + accounts.lockout.lockMinutes * 60_000);
      await lock(db, name, lockUntil);
      await event(name, action, 'failure', `ERR_LOGIN_FAILED (${why})`);
      await event(name, 'user.lockout', 'failure', `ERR_ACCOUNT_LOCKED ${accounts.lockout.failures} failures in ${accounts.lockout.windowMinutes} min, until ${lockUntil.toISOString()}`);
      throw locked(lockUntil.toISOString());
    }
    await event(name, action, 'failure', `ERR_LOGIN_FAILED (${why})`);
    throw failed();
  }

  /** Refuses a verified attempt when the account was locked meanwhile (by attempts racing it); else clears its failures. */
  async function stillUnlocked(user: User<R, C>, now: Date, action: string): Promise<void> {
    const until = await lockedUntil(db, user.name);
    if (until !== undefined && until > now.toISOString()) {
      await event(user.name, action, 'failure', 'ERR_ACCOUNT_LOCKED (locked while checked)');
      throw locked(until);
    }
    await clearFailures(db, user.name);
  }

  return {
    async login(c: Credentials, source: string): Promise<LoginResult> {
      const now = clock();
      const user = await verifyCredentials(c, source, now, 'user.login');
      await stillUnlocked(user, now, 'user.login');
      if (user.passwordSetAt === MUST_CHANGE) {
        await event(user.name, 'user.login', 'failure', 'ERR_PASSWORD_EXPIRED (initial password)');
        throw accountError('ERR_PASSWORD_EXPIRED', '初始口令（由管理员设定或重置）必须先修改才能登录（POST /v1/password）[ERR_PASSWORD_EXPIRED]', { initial: true });
      }
      const maxAge = accounts.password.maxAgeDays;
      if (maxAge > 0 && Date.parse(user.passwordSetAt) + maxAge * 86_400_000 <= now.getTime()) {
        await event(user.name, 'user.login', 'failure', 'ERR_PASSWORD_EXPIRED');
        throw accountError('ERR_PASSWORD_EXPIRED', `口令已超过 ${maxAge} 天有效期，请先修改口令（POST /v1/password）[ERR_PASSWORD_EXPIRED]`);
      }
      const issued = new Date(Math.floor(now.getTime() / 1000) * 1000);
      const ttlSeconds = accounts.session.ttlMinutes * 60;
      const expiresAt = new Date(issued.getTime() + ttlSeconds * 1000).toISOString();
      const jti = newSessionId();
      await createSession(db, { jti, kind: 'login', user: user.name, role: user.role, clearance: user.clearance, issuedAt: issued.toISOString(), expiresAt, source });
      const token = await deps.issueToken({ user: user.name, role: user.role, clearance: user.clearance, ttlSeconds, jti }, issued);
      const rc = currentRequest();
      if (rc) rc.sessionId = sessionIdOf(jti);
      await event(user.name, 'user.login', 'success', `role=${user.role} clearance=${user.clearance}`);
      return { token, tokenType: 'Bearer', expiresAt, idleTimeoutSeconds: accounts.session.idleMinutes * 60, role: user.role, clearance: user.clearance };
    },

    /** Ends the caller's own session. */
    async logout(user: string, jti: string): Promise<void> {
      await endSession(db, jti, 'logout', clock());
      await event(user, 'user.logout', 'success', 'logout');
    },

    /** Sets a new password (both factors of the old one needed; allowed when it has expired); ends the user's sessions. */
    async changePassword(c: Credentials & { newPassword: string }, source: string): Promise<void> {
      const now = clock();
      const user = await verifyCredentials(c, source, now, 'user.password');
      await stillUnlocked(user, now, 'user.password');
      const problems = passwordProblems(c.newPassword, accounts.password, user.name);
      if (c.newPassword === c.password) problems.push('不得与原口令相同');
      if (problems.length > 0) {
        await event(user.name, 'user.password', 'failure', 'ERR_PASSWORD_WEAK');
        throw accountError('ERR_PASSWORD_WEAK', `新口令不符合口令策略：${problems.join('；')} [ERR_PASSWORD_WEAK]`, { problems });
      }
      await updateUser(db, user.name, { passwordHash: await hashPassword(c.newPassword), passwordSetAt: now.toISOString() }, now);
      const ended = await endUserSessions(db, user.name, 'reset', now);
      await event(user.name, 'user.password', 'success', `sessions ended=${ended}`);
    },
  };
}
