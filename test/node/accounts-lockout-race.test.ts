/**
 * Lockout against parallel logins (hostile review item 3): an attempt is counted before its
 * password and TOTP are checked, so no more than `lockout.failures` attempts are ever fully checked
 * however many arrive at once, and a right login that finishes after the account was locked by the
 * wrong ones racing it is refused. No timings: a hook holds the right login between its counting
 * and its check while the wrong ones run.
 */
import t from 'tap';
import { loginService } from '../../node/login-service.js';
import { engines } from '../helpers/db.js';
import { accountsFixture, type AccountsFixture } from './accounts-fixture.js';

const service = (f: AccountsFixture, beforeVerify?: (user: string) => Promise<void>) =>
  loginService({ db: f.db, audit: f.app.nodeCtx.audit, nodeId: f.config.nodeId, secret: new TextEncoder().encode('x'.repeat(32)), totpKey: f.config.totpKey, accounts: f.config.accounts, clock: () => f.authNow(), beforeVerify });

const codeOf = (p: Promise<unknown>) => p.then(() => 'ok', (e: { code?: string }) => e.code ?? String(e));

for (const engine of await engines()) {
  t.test(`${engine.name}: 15 wrong logins at once: at most 5 are fully checked, the rest are refused as locked`, async (t) => {
    const f = await accountsFixture(t, { engine });
    const { password } = await f.addUser('sun', 'query', 'public');
    let verified = 0;
    const login = service(f, async () => void verified++);
    const codes = await Promise.all(Array.from({ length: 15 }, (_, i) => codeOf(login.login({ user: 'sun', password: `${password}x`, otp: '000000' }, `10.9.0.${i + 1}`))));
    t.ok(verified <= 5, `${verified} full checks`);
    t.equal(codes.filter((c) => c === 'ERR_LOGIN_FAILED').length, 4, 'four plain failures');
    t.equal(codes.filter((c) => c === 'ERR_ACCOUNT_LOCKED').length, 11, 'the fifth locks, the rest are refused unchecked');
    const checked = await f.db('audit_log').where({ action: 'user.login' }).andWhere('reason', 'like', 'ERR_LOGIN_FAILED (wrong password)%');
    t.ok(checked.length <= 5, `${checked.length} audited as checked and wrong`);
    t.equal((await f.db('audit_log').where({ action: 'user.lockout' })).length, 1, 'one lockout');
  });

  t.test(`${engine.name}: a right login racing wrong ones is refused once they have locked the account`, async (t) => {
    const f = await accountsFixture(t, { engine });
    const { password, secret } = await f.addUser('qian', 'query', 'public');
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
    const right = codeOf(login.login({ user: 'qian', password, otp: await f.otp(secret) }, '10.9.1.1'));
    await Promise.race([held, right]); // the right login is counted and waits before its check (old code: it has finished)
    const wrong = await Promise.all(Array.from({ length: 8 }, (_, i) => codeOf(login.login({ user: 'qian', password: `${password}x`, otp: '000000' }, `10.9.1.${i + 2}`))));
    t.ok(wrong.every((c) => c === 'ERR_LOGIN_FAILED' || c === 'ERR_ACCOUNT_LOCKED'), 'the wrong ones fail');
    t.ok(wrong.includes('ERR_ACCOUNT_LOCKED'), 'and lock the account');
    release();
    t.equal(await right, 'ERR_ACCOUNT_LOCKED', 'the right login, checked after the lock, gets no session');
    t.equal((await f.db('node_sessions').where({ user_name: 'qian' })).length, 0, 'no session opened');
  });
}
