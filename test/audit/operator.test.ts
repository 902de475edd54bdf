/**
 * Issue 16 item 6: operator actions land in the store's audit log with actor cli:<user>@<host>
 * and the source address (src=): `credit hub token`, `credit hub revoke`, `credit audit export`,
 * and auditOperatorAction (the helper catalog publication calls).
 */
import t from 'tap';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../../scripts/cli.js';
import { connect } from '../../audit/knex-connect.js';
import { migrateAudit } from '../../audit/index.js';
import { auditOperatorAction, cliSource } from '../../audit/operator.js';
import { initCaDir } from '../../certs/ca-dir.js';
import { migrateHub } from '../../hub/migrations.js';

const dir = mkdtempSync(join(tmpdir(), 'operator-audit-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

async function cli(...argv: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(argv, { stdout: (s) => void out.push(s), stderr: (s) => void err.push(s) });
  return { code, out: out.join(''), err: err.join('') };
}

async function entries(file: string) {
  const db = await connect(file);
  try {
    return (await db('audit_log').orderBy('seq')) as { action: string; actor: string; object: string | null; reason: string | null; actor_node: string | null }[];
  } finally {
    await db.destroy();
  }
}

t.test('the source address: the SSH client when there is one, else local', async (t) => {
  t.equal(cliSource({ SSH_CLIENT: '10.1.2.3 51234 22' }), 'src=10.1.2.3');
  t.equal(cliSource({ SSH_CONNECTION: '2001:db8::7 51234 2001:db8::1 22' }), 'src=2001:db8::7');
  t.equal(cliSource({}), 'src=local');
  t.equal(cliSource({ SSH_CLIENT: '$(rm -rf) 1 2' }), 'src=local', 'anything but an address is not trusted');
});

t.test('credit hub token / revoke and audit export are audited with actor and source', async (t) => {
  await initCaDir(join(dir, 'ca'), { cn: 'Test CA (operator audit)' });
  mkdirSync(join(dir, 'data'));
  const configFile = join(dir, 'hub.json');
  writeFileSync(configFile, JSON.stringify({ dataDir: join(dir, 'data'), caDir: 'ca', listen: { host: '127.0.0.1', port: 0 } }));
  const hubDb = join(dir, 'data', 'hub.sqlite');
  const db = await connect(hubDb);
  await migrateAudit(db);
  await migrateHub(db);
  await db.destroy();
  process.env.SSH_CLIENT = '10.9.8.7 40000 22';
  t.teardown(() => void delete process.env.SSH_CLIENT);
  const tok = await cli('hub', 'token', '--config', configFile, '--node', '430100', '--grade', '2');
  t.equal(tok.code, 0, tok.err);
  const rv = await cli('hub', 'revoke', '--config', configFile, '--node', '430100', '--reason', 'cessationOfOperation');
  t.equal(rv.code, 0, rv.err);
  const ex = await cli('audit', 'export', '--db', hubDb, '--out', join(dir, 'hub.ndjson'), '--key', join(dir, 'data', 'none.key'), '--cert', join(dir, 'data', 'none.pem'));
  t.equal(ex.code, 2, 'no key: usage error, nothing exported');
  const log = await entries(hubDb);
  t.match(log.find((e) => e.action === 'token.mint'), { actor: /^cli:.+@.+/, actor_node: '430000', object: 'node:430100', reason: /^grade=2 expires=\S+ src=10\.9\.8\.7$/ });
  t.match(log.find((e) => e.action === 'node.revoke'), { actor: /^cli:.+@.+/, object: 'node:430100', reason: /^cessationOfOperation .* src=10\.9\.8\.7$/ });
  t.notOk(log.some((e) => e.action === 'audit.export'), 'a refused export is not an export');
});

t.test('audit export and auditOperatorAction (catalog publication) write their entries', async (t) => {
  const file = join(dir, 'node.sqlite');
  const db = await connect(file);
  await migrateAudit(db);
  const seq = await auditOperatorAction(db, { action: 'catalog.publish', actorNode: '430000', object: 'catalog:2026.2', outcome: 'success', reason: 'types=42' });
  t.equal(seq, 1);
  await db.destroy();
  t.match((await entries(file))[0], { action: 'catalog.publish', actor: /^cli:/, reason: /^types=42 src=/ });
});
