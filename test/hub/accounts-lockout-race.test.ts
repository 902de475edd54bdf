/**
 * Hub lockout against parallel logins, on SQLite and PostgreSQL (several hub processes share one
 * PostgreSQL: the count lives in the store). An attempt is counted before it is checked, so at
 * most `lockout.failures` attempts are fully checked however many arrive at once, and a right
 * login held between its count and its check is refused once the wrong ones have locked the
 * account. No timings: a hook holds the right login.
 */
import t from 'tap';
import { hubLoginService, hubTotpKey } from '../../hub/accounts.js';
import { engines } from '../helpers/db.js';
import { hubAccountsFixture, type HubAccountsFixture } from './accounts-fixture.js';

const service = (f: HubAccountsFixture, beforeVerify?: (user: string) => Promise<void>) =>
  hubLoginService({ db: f.db, audit: f.app.hubCtx.operators.audit, accounts: f.config.accounts, totpKey: hubTotpKey(f.config.dataDir), clock: () => f.now(), signingKey: new TextEncoder().encode('x'.repeat(32)), ...(beforeVerify ? { beforeVerify } : {}) });

const codeOf = (p: Promise<unknown>) => p.then(() => 'ok', (e: { code?: string }) => e.code ?? String(e));

for (const engine of await engines()) {
  t.test(`${engine.name}: 15 wrong hub logins at once: at most 5 are fully checked, the rest refused as locked`, async (t) => {
    const f = await hubAccountsFixture(t, { engine });
    const { password } = await f.addUser('op1', 'operator');
    let verified = 0;
    const login = service(f, async () => void verified++);
    const codes = await Promise.all(Array.from({ length: 15 }, (_, i) => codeOf(login.login({ user: 'op1', password: `${password}x`, otp: '000000' }, `10.9.0.${i + 1}`))));
    t.ok(verified <= 5, `${verified} full checks`);
    t.equal(codes.filter((c) => c === 'ERR_LOGIN_FAILED').length, 4, 'four plain failures');
    t.equal(codes.filter((c) => c === 'ERR_ACCOUNT_LOCKED').length, 11, 'the fifth locks, the rest are refused unchecked');
    t.equal((await f.db('audit_log').where({ action: 'user.lockout' })).length, 1, 'one lockout');
  });

  t.test(`${engine.name}: a right hub login racing wrong ones is refused once they have locked the account`, async (t) => {
    const f = await hubAccountsFixture(t, { engine });
    const { password, secret } = await f.addUser('op2', 'operator');
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let entered!: () => void;
    const held = new Promise<void>((r) => (entered = r));
    let first = true;
    const login = service(f, async () => {
      if (!first) return;
      first = false;
      entered();
      await gate;
    });
    f.advance(30_000);
    const right = codeOf(login.login({ user: 'op2', password, otp: await f.otp(secret) }, '10.9.1.1'));
    await Promise.race([held, right]);
    const wrong = await Promise.all(Array.from({ length: 8 }, (_, i) => codeOf(login.login({ user: 'op2', password: `${password}x`, otp: '000000' }, `10.9.1.${i + 2}`))));
    t.ok(wrong.includes('ERR_ACCOUNT_LOCKED'), 'the wrong ones lock the account');
    release();
    t.equal(await right, 'ERR_ACCOUNT_LOCKED', 'the right login, checked after the lock, gets no session');
    t.equal((await f.db('hub_sessions').where({ user_name: 'op2' })).length, 0, 'no session opened');
  });
}
