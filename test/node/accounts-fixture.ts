/** A node fixture with a movable login clock, and helpers to enrol users and log in (issue 18 tests). */
import { randomBytes } from 'node:crypto';
import { generate } from 'otplib';
import type { Classification } from '../../protocol/classification.js';
import type { Role } from '../../node/access.js';
import { usersService } from '../../node/users-service.js';
import { nodeFixture, type Fixture, type FixtureOptions } from './app-fixture.js';

export interface AccountsFixture extends Fixture {
  /** The login clock: starts at the real time (so the JWT library agrees) and only moves forward. */
  authNow(): Date;
  advance(ms: number): void;
  /** Enrols a user as the CLI does; resolves with the initial (must-change) password and TOTP secret. */
  enrol(name: string, role: Role, clearance: Classification): Promise<{ password: string; secret: string }>;
  /** Enrols a user and changes the initial password as the user must (POST /v1/password); resolves with the new password and TOTP secret. */
  addUser(name: string, role: Role, clearance: Classification): Promise<{ password: string; secret: string }>;
  /** The TOTP code of `secret` at the login clock (or `at`). */
  otp(secret: string, at?: Date): Promise<string>;
  login(body: Record<string, unknown>, ip?: string): Promise<{ statusCode: number; json(): Record<string, unknown>; body: string }>;
  /** Logs a user in (fresh TOTP step) and resolves with Authorization headers. */
  session(name: string, password: string, secret: string): Promise<{ authorization: string }>;
  users: ReturnType<typeof usersService>;
}

export async function accountsFixture(t: { teardown(fn: () => unknown): void }, opts: FixtureOptions = {}): Promise<AccountsFixture> {
  let now = Date.now();
  const f = await nodeFixture(t, { ...opts, authClock: () => new Date(now) });
  const users = usersService({ db: f.db, audit: f.app.nodeCtx.audit, nodeId: f.config.nodeId, accounts: f.config.accounts, totpKey: f.config.totpKey, clock: () => new Date(now) });
  const otp = (secret: string, at?: Date) => generate({ secret, epoch: Math.floor((at ?? new Date(now)).getTime() / 1000) });
  const enrol: AccountsFixture['enrol'] = async (name, role, clearance) => {
    const e = await users.add('cli:test@host', name, role, clearance);
    return { password: e.password, secret: new URL(e.otpauthUri).searchParams.get('secret')! };
  };
  const login: AccountsFixture['login'] = (body, ip) => f.app.inject({ method: 'POST', url: '/v1/login', payload: body, ...(ip ? { remoteAddress: ip } : {}) });
  return {
    ...f,
    users,
    authNow: () => new Date(now),
    advance: (ms) => void (now += ms),
    enrol,
    addUser: async (name, role, clearance) => {
      const e = await enrol(name, role, clearance);
      now += 30_000; // a TOTP step of its own
      let password = `Chg-${randomBytes(9).toString('base64url')}-9a`;
      // the policy refuses a password containing the user name: a one-letter name is often in a random one
      while (password.toLowerCase().includes(name.toLowerCase())) password = `Chg-${randomBytes(9).toString('base64url')}-9a`;
      const res = await f.app.inject({ method: 'POST', url: '/v1/password', payload: { user: name, password: e.password, otp: await otp(e.secret), newPassword: password } });
      if (res.statusCode !== 204) throw new Error(`password change of ${name}: ${res.statusCode} ${res.body}`);
      now += 30_000; // the caller's next code is of a step not used yet
      return { password, secret: e.secret };
    },
    otp,
    login,
    session: async (name, password, secret) => {
      now += 30_000; // a TOTP step of its own
      const res = await login({ user: name, password, otp: await otp(secret) });
      if (res.statusCode !== 200) throw new Error(`login of ${name}: ${res.statusCode} ${res.body}`);
      return { authorization: `Bearer ${res.json().token as string}` };
    },
  };
}
