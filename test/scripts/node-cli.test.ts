import t from 'tap';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jwtVerify } from 'jose';
import { request } from 'undici';
import { main } from '../../scripts/cli.js';
import { loadConfig } from '../../node/config.js';
import { parseTtl } from '../../scripts/cli/node-server.js';
import { startNodeProcess } from '../../scripts/bench/import.js';
import { connect } from '../../audit/knex-connect.js';
import { migrationState } from '../../audit/migration-plan.js';
import { NODE_SCHEMA } from '../../node/migrations.js';

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  return { io: { stdout: (s: string) => void out.push(s), stderr: (s: string) => void err.push(s) }, out, err };
}

const dir = mkdtempSync(join(tmpdir(), 'node-cli-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const configFile = join(dir, 'node.json');
writeFileSync(configFile, JSON.stringify({ nodeId: '430100', dataDir: join(dir, 'data'), listen: { host: '127.0.0.1', port: 0 } }));

t.test('node token prints only a JWT with the requested claims, signed with the node secret', async (t) => {
  const c = capture();
  const code = await main(['node', 'token', '--config', configFile, '--user', 'alice', '--role', 'officer', '--clearance', 'restricted', '--ttl', '30m'], c.io);
  t.equal(code, 0);
  const out = c.out.join('');
  t.match(out, /^[\w-]+\.[\w-]+\.[\w-]+\n$/, 'one token line on stdout');
  const { payload, protectedHeader } = await jwtVerify(out.trim(), loadConfig(configFile).jwtSecret, { issuer: '430100' });
  t.equal(protectedHeader.alg, 'HS256');
  t.equal(payload.sub, 'alice');
  t.equal(payload.role, 'officer');
  t.equal(payload.clearance, 'restricted');
  t.equal(payload.exp! - payload.iat!, 1800);
});

t.test('node token refuses bad options with ERR_USAGE (exit 2) and a bad config with ERR_CONFIG_INVALID (exit 1)', async (t) => {
  const base = ['node', 'token', '--config', configFile, '--user', 'bob'];
  const cases: [string[], number, RegExp][] = [
    [[...base, '--role', 'king', '--clearance', 'public'], 2, /ERR_USAGE.*--role/],
    [[...base, '--role', 'query', '--clearance', 'secret'], 2, /ERR_USAGE.*--clearance/],
    [[...base, '--role', 'query', '--clearance', 'public', '--ttl', '90d'], 2, /ERR_USAGE.*--ttl/],
    [['node', 'token', '--config', configFile, '--user', 'a b', '--role', 'query', '--clearance', 'public'], 2, /ERR_USAGE.*--user/],
    [['node', 'token', '--config', configFile, '--role', 'query', '--clearance', 'public'], 2, /ERR_USAGE.*--user/],
    [['node', 'token', '--config', join(dir, 'missing.json'), '--user', 'a', '--role', 'query', '--clearance', 'public'], 1, /ERR_CONFIG_INVALID/],
  ];
  for (const [argv, exit, re] of cases) {
    const c = capture();
    t.equal(await main(argv, c.io), exit, argv.slice(4).join(' '));
    t.match(c.err.join(''), re);
    t.equal(c.out.join(''), '', 'nothing on stdout');
  }
});

t.test('node token is audited even before the node has run: it creates and migrates the store first', async (t) => {
  const fresh = mkdtempSync(join(tmpdir(), 'node-cli-token-'));
  t.teardown(() => rmSync(fresh, { recursive: true, force: true }));
  const file = join(fresh, 'node.json');
  writeFileSync(file, JSON.stringify({ nodeId: '430100', dataDir: join(fresh, 'data'), listen: { host: '127.0.0.1', port: 0 } }));
  const target = loadConfig(file).databaseTarget;
  t.notOk(existsSync(target), 'no store yet');
  const c = capture();
  t.equal(await main(['node', 'token', '--config', file, '--user', 'import-robot', '--role', 'submitter', '--clearance', 'internal'], c.io), 0);
  t.equal(c.err.join(''), '', 'no "not audited" note');
  const db = await connect(target);
  t.teardown(() => db.destroy());
  const rows = await db('audit_log').where({ action: 'user.token.mint' });
  t.equal(rows.length, 1, 'the minting is in the new store\'s audit log');
  t.match(rows[0], { object: 'user:import-robot', outcome: 'success', actor_node: '430100' });
  t.match(rows[0].reason, /id=[0-9a-f]{16} role=submitter clearance=internal ttl=28800s src=/);
  t.same((await migrationState(db, NODE_SCHEMA)).pending, [], 'the whole node schema, as start-up would migrate it');
});

t.test('parseTtl', async (t) => {
  t.equal(parseTtl('8h'), 28800);
  t.equal(parseTtl('900'), 900);
  t.equal(parseTtl('7d'), 604800);
  t.throws(() => parseTtl('0s'), { code: 'ERR_USAGE' });
  t.throws(() => parseTtl('1y'), { code: 'ERR_USAGE' });
});

t.test('node start with a bad config fails fast naming the key', async (t) => {
  const bad = join(dir, 'bad.json');
  writeFileSync(bad, JSON.stringify({ nodeId: '430100', dataDir: join(dir, 'data'), listen: { port: 'eighty' } }));
  const c = capture();
  t.equal(await main(['node', 'start', '--config', bad], c.io), 1);
  t.match(c.err.join(''), /error ERR_CONFIG_INVALID: config key listen\.port/);
});

t.test('real process: node start serves /healthz and /readyz, and stops on SIGTERM with exit 0', async (t) => {
  const node = await startNodeProcess(configFile);
  t.match(node.url, /^http:\/\/127\.0\.0\.1:\d+$/);
  const health = await request(`${node.url}/healthz`);
  t.equal(health.statusCode, 200);
  t.same(await health.body.json(), { status: 'ok', nodeId: '430100' });
  const ready = await request(`${node.url}/readyz`);
  t.equal(ready.statusCode, 200);
  await ready.body.dump();
  t.equal(await node.stop(), 0, 'graceful exit');
});
