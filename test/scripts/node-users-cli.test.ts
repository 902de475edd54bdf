/**
 * `credit node user add|list|disable|reset` and `credit node tokens list|revoke` (issue 18): add
 * prints the initial password and the otpauth URI once, names are unique, every change is audited
 * as the operator, a person's name gets no service token, and a revoked service token is refused.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { sessionIdOf } from '../../server/credentials.js';
import { main } from '../../scripts/cli.js';
import { loadConfig } from '../../node/config.js';
import { connect } from '../../audit/knex-connect.js';
import { buildApp } from '../../node/app.js';

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  return { io: { stdout: (s: string) => void out.push(s), stderr: (s: string) => void err.push(s) }, out, err };
}

const dir = mkdtempSync(join(tmpdir(), 'node-users-cli-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const configFile = join(dir, 'node.json');
writeFileSync(configFile, JSON.stringify({ nodeId: '430100', dataDir: join(dir, 'data'), listen: { host: '127.0.0.1', port: 0 }, logLevel: 'silent', rateLimit: { enabled: false } }));

t.test('user add prints the password and otpauth URI once; names are unique; list, disable, reset', async (t) => {
  const add = capture();
  t.equal(await main(['node', 'user', 'add', '--config', configFile, '--user', 'li.na', '--role', 'officer', '--clearance', 'restricted'], add.io), 0);
  const text = add.out.join('');
  const password = /password: +(\S+)/.exec(text)?.[1];
  const uri = /otpauth URI: +(\S+)/.exec(text)?.[1];
  t.ok(password && password.length >= 16, 'an initial password');
  t.match(uri, /^otpauth:\/\/totp\/.*li\.na.*secret=[A-Z2-7]+/, 'the otpauth URI');
  const again = capture();
  t.equal(await main(['node', 'user', 'add', '--config', configFile, '--user', 'li.na', '--role', 'query', '--clearance', 'public'], again.io), 1);
  t.match(again.err.join(''), /ERR_USER_EXISTS/);
  const bad = capture();
  t.equal(await main(['node', 'user', 'add', '--config', configFile, '--user', 'x', '--role', 'admin', '--clearance', 'public'], bad.io), 2, 'the old admin role is gone');
  t.match(bad.err.join(''), /ERR_USAGE.*--role/);
  const list = capture();
  t.equal(await main(['node', 'user', 'list', '--config', configFile, '--json'], list.io), 0);
  const rows = list.out.join('').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  t.match(rows, [{ name: 'li.na', role: 'officer', clearance: 'restricted', disabled: false }]);
  t.notOk(list.out.join('').includes(password!), 'the password is never listed');
  t.equal(await main(['node', 'user', 'disable', '--config', configFile, '--user', 'li.na'], capture().io), 0);
  const reset = capture();
  t.equal(await main(['node', 'user', 'reset', '--config', configFile, '--user', 'li.na'], reset.io), 0);
  t.not(/password: +(\S+)/.exec(reset.out.join(''))?.[1], password, 'a new password');
  const missing = capture();
  t.equal(await main(['node', 'user', 'disable', '--config', configFile, '--user', 'nobody'], missing.io), 1);
  t.match(missing.err.join(''), /ERR_USER_NOT_FOUND/);
  const db = await connect(loadConfig(configFile).databaseTarget);
  t.teardown(() => db.destroy());
  const actions = (await db('audit_log').where('action', 'like', 'user.%').orderBy('seq')).map((r) => `${r.action} ${r.outcome}`);
  t.same(actions, ['user.add success', 'user.add failure', 'user.disable success', 'user.reset success', 'user.disable failure'], 'every change audited');
  t.ok((await db('audit_log').where('action', 'like', 'user.%')).every((r) => /^cli:/.test(r.actor) && / src=/.test(r.reason)), 'as the operator, with the source');
});

t.test('service tokens: not for a person; listed; revoked tokens are refused by the running node', async (t) => {
  const person = capture();
  t.equal(await main(['node', 'token', '--config', configFile, '--user', 'li.na', '--role', 'officer', '--clearance', 'internal'], person.io), 1);
  t.match(person.err.join(''), /ERR_USER_EXISTS/, 'a registered person gets no token that skips password and TOTP');
  for (const role of ['sysadmin', 'secadmin', 'auditor']) {
    const admin = capture();
    t.equal(await main(['node', 'token', '--config', configFile, '--user', 'robot', '--role', role, '--clearance', 'public'], admin.io), 2, `no service token for ${role}`);
    t.match(admin.err.join(''), /ERR_USAGE/);
  }
  const minted = capture();
  t.equal(await main(['node', 'token', '--config', configFile, '--user', 'import-robot', '--role', 'submitter', '--clearance', 'public'], minted.io), 0);
  const token = minted.out.join('').trim();
  const jti = (JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()) as { jti: string }).jti;
  const list = capture();
  t.equal(await main(['node', 'tokens', 'list', '--config', configFile], list.io), 0);
  t.match(list.out.join(''), new RegExp(`^${sessionIdOf(jti)}\\timport-robot\\tsubmitter\\tpublic\\texpires `, 'm'));
  const app = await buildApp({ config: loadConfig(configFile) });
  t.teardown(() => app.close());
  const headers = { authorization: `Bearer ${token}` };
  t.equal((await app.inject({ method: 'POST', url: '/v1/records', headers, payload: {} })).statusCode, 400, 'the token works (reaches validation)');
  t.equal(await main(['node', 'tokens', 'revoke', '--config', configFile, '--id', sessionIdOf(jti)], capture().io), 0);
  const refused = await app.inject({ method: 'POST', url: '/v1/records', headers, payload: {} });
  t.equal(refused.statusCode, 401);
  t.equal(refused.json().code, 'ERR_SESSION_ENDED', 'revoked: refused on the next request');
  const again = capture();
  t.equal(await main(['node', 'tokens', 'revoke', '--config', configFile, '--jti', jti], again.io), 2, 'already revoked');
  const db = await connect(loadConfig(configFile).databaseTarget);
  t.teardown(() => db.destroy());
  t.same((await db('audit_log').whereIn('action', ['user.token.mint', 'user.token.revoke']).orderBy('seq')).map((r) => `${r.action} ${r.outcome}`), ['user.token.mint failure', 'user.token.mint success', 'user.token.revoke success', 'user.token.revoke failure']);
  const texts = JSON.stringify(await db('audit_log').select('object', 'reason'));
  t.notOk(texts.includes(jti), 'no audit entry holds the jti');
  t.ok(texts.includes(`id=${sessionIdOf(jti)}`), 'the entries name the session id');
});

t.test('user add refuses a name that holds a service token, revoked or not (ERR_USER_EXISTS)', async (t) => {
  const minted = capture();
  t.equal(await main(['node', 'token', '--config', configFile, '--user', 'monitor-robot', '--role', 'query', '--clearance', 'public'], minted.io), 0);
  const person = capture();
  t.equal(await main(['node', 'user', 'add', '--config', configFile, '--user', 'monitor-robot', '--role', 'officer', '--clearance', 'internal'], person.io), 1);
  t.match(person.err.join(''), /ERR_USER_EXISTS/, 'a service account name is not given to a person');
  t.notMatch(person.out.join(''), /password:/, 'no credentials printed');
  const revokedName = capture();
  t.equal(await main(['node', 'user', 'add', '--config', configFile, '--user', 'import-robot', '--role', 'query', '--clearance', 'public'], revokedName.io), 1, 'nor the name of a revoked token');
  t.match(revokedName.err.join(''), /ERR_USER_EXISTS/);
});
