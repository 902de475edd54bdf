/**
 * What is kept of a name typed at login that is no user (hostile review item 7): it may be a
 * password typed into the wrong field, so the failure count and the audit entries hold
 * `unknown:<HMAC-SHA256 prefix>` keyed from totp.key (HKDF, info `credit unknown user name v1`) —
 * never the text, nor an unkeyed hash a reader of the store could test guesses against; passwords
 * and codes are redacted from the logs.
 */
import { createHash, createHmac, hkdfSync } from 'node:crypto';
import { Writable } from 'node:stream';
import t from 'tap';
import pino from 'pino';
import { REDACT_PATHS } from '../../node/logger.js';
import { serverLoggerOptions } from '../../server/logger.js';
import { accountsFixture } from './accounts-fixture.js';

t.test('an unknown name is kept as unknown:<HMAC prefix>, in the failure count and the audit log', async (t) => {
  const f = await accountsFixture(t);
  const typed = 'Secret-Pass-9911';
  const res = await f.login({ user: typed, password: 'x', otp: '1' });
  t.equal(res.json().code, 'ERR_LOGIN_FAILED');
  const hmacKey = Buffer.from(hkdfSync('sha256', f.config.totpKey, Buffer.alloc(0), 'credit unknown user name v1', 32));
  const key = `unknown:${createHmac('sha256', hmacKey).update(typed).digest('hex').slice(0, 16)}`;
  t.same((await f.db('node_login_failures')).map((r) => r.user_name), [key], 'the failure is counted under the keyed hash');
  const rows = await f.db('audit_log').where({ action: 'user.login' });
  t.equal(rows.length, 1);
  t.equal(rows[0].actor, `user:${key}`);
  t.equal(rows[0].object, `user:${key}`);
  const dump = JSON.stringify([await f.db('audit_log'), await f.db('node_login_failures')]);
  t.notOk(dump.includes(typed), 'the typed text is stored nowhere');
  t.notOk(dump.includes(createHash('sha256').update(typed).digest('hex').slice(0, 16)), 'nor an unkeyed hash of it');
  for (let i = 0; i < 4; i++) await f.login({ user: typed, password: 'x', otp: '1' });
  t.equal((await f.login({ user: typed, password: 'x', otp: '1' })).json().code, 'ERR_ACCOUNT_LOCKED', 'an unknown name still locks');
});

t.test('password, newPassword and otp are redacted from the logs', async (t) => {
  let out = '';
  const stream = new Writable({ write: (c, _e, cb) => void ((out += String(c)), cb()) });
  const { stream: _s, ...options } = serverLoggerOptions({ level: 'info', redact: REDACT_PATHS });
  const log = pino(options, stream);
  log.info({ password: 'pw-one', newPassword: 'pw-two', otp: '123456', body: { password: 'pw-three', newPassword: 'pw-four', otp: '654321' } }, 'x');
  for (const secret of ['pw-one', 'pw-two', '123456', 'pw-three', 'pw-four', '654321']) t.notOk(out.includes(secret), `${secret} not logged`);
  t.match(out, /REDACTED/);
});
