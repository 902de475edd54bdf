/**
 * `credit hub user add|list|disable|reset --config F` (issue 18): operator accounts in the hub's
 * existing store (never a new one), the initial password and otpauth URI printed once, the TOTP
 * secret sealed at rest, every change audited as the command-line operator with src=.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { main } from '../../scripts/cli.js';
import { connect } from '../../audit/knex-connect.js';
import { initCaDir } from '../../certs/ca-dir.js';
import { buildHub } from '../../hub/app.js';
import { loadHubConfig } from '../../hub/config.js';

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  return { io: { stdout: (s: string) => void out.push(s), stderr: (s: string) => void err.push(s) }, out, err };
}

const dir = mkdtempSync(join(tmpdir(), 'hub-users-cli-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const configFile = join(dir, 'hub.json');
await initCaDir(join(dir, 'ca'), { cn: 'Test CA (hub users cli)' });
writeFileSync(configFile, JSON.stringify({ dataDir: join(dir, 'data'), caDir: join(dir, 'ca'), listen: { host: '127.0.0.1', port: 0 }, logLevel: 'silent', rateLimit: { enabled: false } }));

t.test('before the hub ever ran: no store is created (ERR_HUB_STORE_NOT_FOUND)', async (t) => {
  const c = capture();
  t.equal(await main(['hub', 'user', 'add', '--config', configFile, '--user', 'zhao', '--role', 'operator'], c.io), 1);
  t.match(c.err.join(''), /ERR_HUB_STORE_NOT_FOUND/);
});

t.test('add prints the password and URI once; unique names; one role each; list, disable, reset; all audited', async (t) => {
  const hub = await buildHub({ config: loadHubConfig(configFile) }); // as `credit hub start` would: makes the store
  await hub.close();
  const add = capture();
  t.equal(await main(['hub', 'user', 'add', '--config', configFile, '--user', 'zhao', '--role', 'operator'], add.io), 0);
  const text = add.out.join('');
  const password = /password: +(\S+)/.exec(text)?.[1];
  const uri = /otpauth URI: +(\S+)/.exec(text)?.[1];
  t.ok(password && password.length >= 16);
  t.match(uri, /^otpauth:\/\/totp\/.*zhao.*secret=[A-Z2-7]+.*issuer=credit-hub-430000/);
  const secret = new URL(uri!).searchParams.get('secret')!;
  const dup = capture();
  t.equal(await main(['hub', 'user', 'add', '--config', configFile, '--user', 'zhao', '--role', 'auditor'], dup.io), 1);
  t.match(dup.err.join(''), /ERR_USER_EXISTS/);
  const bad = capture();
  t.equal(await main(['hub', 'user', 'add', '--config', configFile, '--user', 'x', '--role', 'officer'], bad.io), 2, 'node roles are no hub roles');
  t.match(bad.err.join(''), /ERR_USAGE.*operator, sysadmin, secadmin, auditor/);
  t.equal(await main(['hub', 'user', 'add', '--config', configFile, '--user', 'qian', '--role', 'auditor'], capture().io), 0);
  const list = capture();
  t.equal(await main(['hub', 'user', 'list', '--config', configFile, '--json'], list.io), 0);
  const rows = list.out.join('').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  t.match(rows, [{ name: 'qian', role: 'auditor', disabled: false }, { name: 'zhao', role: 'operator', disabled: false }]);
  t.notOk(list.out.join('').includes(password!));
  t.equal(await main(['hub', 'user', 'disable', '--config', configFile, '--user', 'zhao'], capture().io), 0);
  const reset = capture();
  t.equal(await main(['hub', 'user', 'reset', '--config', configFile, '--user', 'zhao'], reset.io), 0);
  t.not(/password: +(\S+)/.exec(reset.out.join(''))?.[1], password);
  const missing = capture();
  t.equal(await main(['hub', 'user', 'disable', '--config', configFile, '--user', 'nobody'], missing.io), 1);
  t.match(missing.err.join(''), /ERR_USER_NOT_FOUND/);
  const db = await connect(loadHubConfig(configFile).databaseTarget);
  t.teardown(() => db.destroy());
  const actions = (await db('audit_log').where('action', 'like', 'user.%').orderBy('seq')).map((r) => `${r.action} ${r.outcome}`);
  t.same(actions, ['user.add success', 'user.add failure', 'user.add success', 'user.disable success', 'user.reset success', 'user.disable failure']);
  t.ok((await db('audit_log').where('action', 'like', 'user.%')).every((r) => /^cli:/.test(r.actor) && / src=/.test(r.reason)), 'as the operator, with src=');
  for (const r of await db('hub_users').select('totp_secret')) {
    t.match(r.totp_secret, /^totp1:/);
    t.notOk(r.totp_secret.includes(secret));
  }
});
