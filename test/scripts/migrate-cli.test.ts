/**
 * `credit node migrate` / `credit hub migrate` (issue 17 item 5): --dry-run lists and changes
 * nothing, migrate applies; a store migrated by a newer version is refused with ERR_SCHEMA_TOO_NEW
 * by migrate and by start-up, before anything is changed on disk.
 */
import t from 'tap';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../../scripts/cli.js';
import { connect } from '../../audit/knex-connect.js';
import { NODE_MIGRATIONS_TABLE } from '../../node/migrations.js';
import { HUB_MIGRATIONS_TABLE } from '../../hub/migrations.js';

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  return { io: { stdout: (s: string) => void out.push(s), stderr: (s: string) => void err.push(s) }, out, err, text: () => out.join('') + err.join('') };
}

const dir = mkdtempSync(join(tmpdir(), 'migrate-cli-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

/** name → contents (base64) of the files in `dir`. */
function filesIn(dir: string): Record<string, string> {
  return Object.fromEntries(readdirSync(dir).sort().map((n) => [n, readFileSync(join(dir, n)).toString('base64')]));
}

async function addFutureMigration(file: string, table: string): Promise<void> {
  const db = await connect(file);
  try {
    await db(table).insert({ name: '999_from_a_newer_version', batch: 99, migration_time: new Date() });
  } finally {
    await db.destroy();
  }
}

t.test('node migrate: --dry-run lists every pending migration and creates nothing; migrate applies them', async (t) => {
  const configFile = join(dir, 'node.json');
  const dataDir = join(dir, 'node-data');
  writeFileSync(configFile, JSON.stringify({ nodeId: '430100', dataDir, listen: { host: '127.0.0.1', port: 0 } }));
  let c = capture();
  t.equal(await main(['node', 'migrate', '--config', configFile, '--dry-run'], c.io), 0, c.text());
  t.match(c.text(), /not created yet[\s\S]*pending: \d+\n  audit 001_audit_log[\s\S]*  node 001_records[\s\S]*dry run: nothing changed/);
  t.notOk(existsSync(join(dataDir, 'node.sqlite')), 'no store created by a dry run');
  c = capture();
  t.equal(await main(['node', 'migrate', '--config', configFile], c.io), 0, c.text());
  t.match(c.text(), /applied \d+ migrations/);
  c = capture();
  t.equal(await main(['node', 'migrate', '--config', configFile, '--dry-run'], c.io), 0);
  t.match(c.text(), /pending: none/);
  c = capture();
  t.equal(await main(['node', 'migrate', '--config', configFile], c.io), 0);
  t.match(c.text(), /nothing to apply/);

  await addFutureMigration(join(dataDir, 'node.sqlite'), NODE_MIGRATIONS_TABLE);
  const before = filesIn(dataDir);
  for (const args of [['node', 'migrate', '--config', configFile], ['node', 'migrate', '--config', configFile, '--dry-run'], ['node', 'start', '--config', configFile]]) {
    c = capture();
    t.equal(await main(args, c.io), 1, args.join(' '));
    t.match(c.err.join(''), /^error ERR_SCHEMA_TOO_NEW: the store .*node\.sqlite was migrated by a newer version \(node 999_from_a_newer_version\)/, `${args.join(' ')}: one line with the code`);
    t.equal(c.err.join('').trim().split('\n').length, 1, 'no stack trace');
  }
  t.same(filesIn(dataDir), before, 'the refused start left the data directory as it was (same files, same bytes)');
});

t.test('hub migrate and hub start refuse a newer store; start changes nothing on disk first', async (t) => {
  const caDir = join(dir, 'ca');
  t.equal(await main(['ca', 'init', '--dir', caDir], capture().io), 0);
  const dataDir = join(dir, 'hub-data');
  const configFile = join(dir, 'hub.json');
  writeFileSync(configFile, JSON.stringify({ dataDir, caDir, listen: { host: '127.0.0.1', port: 0 }, hosts: ['127.0.0.1'] }));
  let c = capture();
  t.equal(await main(['hub', 'migrate', '--config', configFile], c.io), 0, c.text());
  t.match(c.text(), /hub 001_[\s\S]*applied \d+ migrations/);
  t.notOk(existsSync(join(dataDir, 'hub.pem')), 'migrate issues no certificate');
  await addFutureMigration(join(dataDir, 'hub.sqlite'), HUB_MIGRATIONS_TABLE);
  for (const args of [['hub', 'migrate', '--config', configFile], ['hub', 'start', '--config', configFile], ['hub', 'nodes', '--config', configFile]]) {
    c = capture();
    t.equal(await main(args, c.io), 1, args.join(' '));
    t.match(c.err.join(''), /^error ERR_SCHEMA_TOO_NEW: .*hub 999_from_a_newer_version/, args.join(' '));
  }
  t.notOk(existsSync(join(dataDir, 'hub.pem')), 'the refused start issued no hub certificate');
});
