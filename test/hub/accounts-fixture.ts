/**
 * A hub built in-process (inject, no port) with a movable clock, and helpers to enrol operator
 * accounts as `credit hub user add` does and to log in (issue 18 tests).
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { generate } from 'otplib';
import { initCaDir } from '../../certs/ca-dir.js';
import { initSm2CaDir } from '../../certs/sm2-ca-dir.js';
import { hubTotpKey, hubUsersService, HUB_CLEARANCE, type HubRole } from '../../hub/accounts.js';
import { buildHub } from '../../hub/app.js';
import { buildHubConfig, type HubConfig } from '../../hub/config.js';
import { sqliteEngine, type Engine } from '../helpers/db.js';
import type { Knex } from 'knex';

export interface HubAccountsFixture {
  app: FastifyInstance;
  db: Knex;
  config: HubConfig;
  users: ReturnType<typeof hubUsersService>;
  now(): Date;
  advance(ms: number): void;
  otp(secret: string, at?: Date): Promise<string>;
  /** Enrols an account; resolves with its initial (must-change) password and TOTP secret. */
  enrol(name: string, role: HubRole): Promise<{ password: string; secret: string }>;
  /** Enrols an account and changes the initial password as the operator must. */
  addUser(name: string, role: HubRole): Promise<{ password: string; secret: string }>;
  login(body: Record<string, unknown>, ip?: string): Promise<LightMyRequestResponse>;
  /** Logs in (a fresh TOTP step) and resolves with the Authorization header. */
  session(name: string, password: string, secret: string): Promise<{ authorization: string }>;
}

/** `sm2`: the CA directory gets an SM2 root too (for `audit.hashAlg: "sm3"`, `suites: ["SM"]`). */
export async function hubAccountsFixture(t: { teardown(fn: () => unknown): void }, o: { engine?: Engine; config?: Record<string, unknown>; sm2?: boolean } = {}): Promise<HubAccountsFixture> {
  const dir = mkdtempSync(join(tmpdir(), 'hub-acct-'));
  const caDir = join(dir, 'ca');
  await initCaDir(caDir, { cn: 'Test Provincial Credit CA (hub accounts)' });
  if (o.sm2) initSm2CaDir(caDir, { cn: 'Test Provincial SM2 CA (hub accounts)' });
  const store = await (o.engine ?? sqliteEngine).open();
  const config = buildHubConfig({ dataDir: join(dir, 'data'), caDir, listen: { host: '127.0.0.1', port: 0 }, rateLimit: { enabled: false }, logLevel: 'silent', ...o.config }, {});
  let now = Date.now();
  const app = await buildHub({ config, db: store.db, clock: () => new Date(now) });
  t.teardown(async () => {
    await app.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const users = hubUsersService({ db: store.db, audit: app.hubCtx.operators.audit, accounts: config.accounts, totpKey: hubTotpKey(config.dataDir), clock: () => new Date(now) });
  const otp = (secret: string, at?: Date) => generate({ secret, epoch: Math.floor((at ?? new Date(now)).getTime() / 1000) });
  const enrol: HubAccountsFixture['enrol'] = async (name, role) => {
    const e = await users.add('cli:test@host', name, role, HUB_CLEARANCE);
    return { password: e.password, secret: new URL(e.otpauthUri).searchParams.get('secret')! };
  };
  const login: HubAccountsFixture['login'] = (body, ip) => app.inject({ method: 'POST', url: '/v1/login', payload: body, ...(ip ? { remoteAddress: ip } : {}) });
  return {
    app, db: store.db, config, users,
    now: () => new Date(now),
    advance: (ms) => void (now += ms),
    otp, enrol, login,
    addUser: async (name, role) => {
      const e = await enrol(name, role);
      now += 30_000;
      let password = `Chg-${randomBytes(9).toString('base64url')}-9a`;
      // the policy refuses a password containing the user name: a one-letter name is often in a random one
      while (password.toLowerCase().includes(name.toLowerCase())) password = `Chg-${randomBytes(9).toString('base64url')}-9a`;
      const res = await app.inject({ method: 'POST', url: '/v1/password', payload: { user: name, password: e.password, otp: await otp(e.secret), newPassword: password } });
      if (res.statusCode !== 204) throw new Error(`password change of ${name}: ${res.statusCode} ${res.body}`);
      now += 30_000;
      return { password, secret: e.secret };
    },
    session: async (name, password, secret) => {
      now += 30_000;
      const res = await login({ user: name, password, otp: await otp(secret) });
      if (res.statusCode !== 200) throw new Error(`login of ${name}: ${res.statusCode} ${res.body}`);
      return { authorization: `Bearer ${res.json().token as string}` };
    },
  };
}
