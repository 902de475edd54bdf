/**
 * One certificate register, one hub store (issue 13 items 16 and 18), through `credit …` in-process:
 * - a hub's caDir refuses `credit ca issue|token|revoke|crl|list` (ERR_CA_HUB_REGISTER, naming the
 *   `credit hub …` command), and `credit hub crl` writes the CRL of the hub's own register, which
 *   the real `openssl verify -crl_check` uses to refuse a node revoked with `credit hub revoke`;
 * - hub admin commands never create a hub store (ERR_HUB_STORE_NOT_FOUND), and take `databaseUrl`
 *   from the config file (env DATABASE_URL still overrides), checked on PostgreSQL.
 */
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { connect } from '../../audit/knex-connect.js';
import { migrateAudit } from '../../audit/index.js';
import { initCaDir } from '../../certs/ca-dir.js';
import { createNodeKeys } from '../../certs/node-keys.js';
import { buildHub } from '../../hub/app.js';
import { loadHubConfig } from '../../hub/config.js';
import { migrateHub } from '../../hub/migrations.js';
import { main } from '../../scripts/cli.js';
import { PG_URL, pgReady } from '../helpers/db.js';

const root = mkdtempSync(join(tmpdir(), 'hub-register-'));
t.teardown(() => rmSync(root, { recursive: true, force: true }));
const savedDatabaseUrl = process.env.DATABASE_URL;
delete process.env.DATABASE_URL; // the operator's shell: nothing exported
t.teardown(() => {
  if (savedDatabaseUrl !== undefined) process.env.DATABASE_URL = savedDatabaseUrl;
});

async function cli(...argv: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(argv, { stdout: (s) => void out.push(s), stderr: (s) => void err.push(s) });
  return { code, out: out.join(''), err: err.join('') };
}

/** The ERR_ code a failing call printed (or "exit 0"). */
async function failCode(...argv: string[]): Promise<string> {
  const r = await cli(...argv);
  return r.code === 0 ? 'exit 0' : (/^error (ERR_[A-Z_]+):/m.exec(r.err)?.[1] ?? `exit ${r.code}: ${r.err}`);
}

function openssl(...args: string[]) {
  const r = spawnSync('openssl', args, { encoding: 'utf8' });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

/** A hub directory: CA, config file, and the hub started once in-process (store created, migrated). */
async function hubDir(name: string, extra: Record<string, unknown> = {}, start = true) {
  const dir = join(root, name);
  const caDir = join(dir, 'ca');
  await initCaDir(caDir, { cn: `Test Provincial Credit CA (${name})` });
  const configFile = join(dir, 'hub.json');
  writeFileSync(configFile, JSON.stringify({ dataDir: 'data', caDir: 'ca', listen: { host: '127.0.0.1', port: 0 }, logLevel: 'silent', ...extra }));
  const app = start ? await buildHub({ config: loadHubConfig(configFile) }) : undefined;
  return { dir, caDir, configFile, dataDir: join(dir, 'data'), app };
}

t.test("a hub's caDir: the ca commands refuse it; credit hub crl publishes the hub's register", async (t) => {
  const h = await hubDir('register');
  const app = h.app!;
  const enrolled: Record<string, string> = {};
  for (const nodeId of ['430100', '430700']) {
    const tok = await cli('hub', 'token', '--config', h.configFile, '--node', nodeId, '--grade', '2');
    t.equal(tok.code, 0, tok.err);
    const keys = createNodeKeys(nodeId);
    const res = await app.inject({ method: 'POST', url: '/v1/enroll', payload: { token: tok.out.trim(), csrPem: keys.csrPem } });
    t.equal(res.statusCode, 200, res.body);
    enrolled[nodeId] = join(h.dir, `${nodeId}.pem`);
    writeFileSync(enrolled[nodeId]!, (res.json() as { certPem: string }).certPem);
  }
  await app.close();
  const rv = await cli('hub', 'revoke', '--config', h.configFile, '--node', '430100', '--reason', 'keyCompromise');
  t.equal(rv.code, 0, rv.err);
  const serial = /revoked ([0-9A-F]+)/.exec(rv.out)![1]!;

  // the CA directory's own state.json is not the register: every ca command that reads or writes it is refused
  const refusals: [string[], RegExp][] = [
    [['ca', 'crl', '--dir', h.caDir, '--out', join(h.dir, 'stale.pem')], /credit hub crl --config/],
    [['ca', 'list', '--dir', h.caDir], /credit hub nodes --config/],
    [['ca', 'revoke', '--dir', h.caDir, '--node', '430700', '--reason', 'keyCompromise'], /credit hub revoke --config/],
    [['ca', 'token', '--dir', h.caDir, '--node', '430181', '--grade', '2'], /credit hub token --config/],
    [['ca', 'issue', '--dir', h.caDir, '--csr', join(h.dir, 'none.csr'), '--out', join(h.dir, 'x.pem')], /credit hub token --config/],
  ];
  for (const [argv, hint] of refusals) {
    const r = await cli(...argv);
    t.equal(r.code, 1, argv.slice(0, 2).join(' '));
    t.match(r.err, /^error ERR_CA_HUB_REGISTER: /, `${argv.slice(0, 2).join(' ')}: the code`);
    t.match(r.err, hint, `${argv.slice(0, 2).join(' ')}: names the hub command`);
  }
  t.notOk(existsSync(join(h.dir, 'stale.pem')), 'no CRL was written from the unused register');

  const crlFile = join(h.dir, 'crl.pem');
  const crl = await cli('hub', 'crl', '--config', h.configFile, '--out', crlFile);
  t.equal(crl.code, 0, crl.err);
  t.match(crl.out, /1 revoked certificate/);
  const text = openssl('crl', '-in', crlFile, '-CAfile', join(h.caDir, 'ca.pem'), '-noout', '-text');
  t.equal(text.status, 0, text.out);
  t.match(text.out, /verify OK/i, 'openssl crl: signed by the CA');
  t.match(text.out, new RegExp(`Serial Number: ${serial}`, 'i'), 'openssl crl lists the revoked serial');
  t.match(text.out, /Key Compromise/);
  const revoked = openssl('verify', '-crl_check', '-CAfile', join(h.caDir, 'ca.pem'), '-CRLfile', crlFile, enrolled['430100']!);
  t.not(revoked.status, 0, 'openssl verify -crl_check refuses the revoked node');
  t.match(revoked.out, /certificate revoked/);
  const fine = openssl('verify', '-crl_check', '-CAfile', join(h.caDir, 'ca.pem'), '-CRLfile', crlFile, enrolled['430700']!);
  t.equal(fine.status, 0, fine.out);
  t.match(fine.out, /: OK/, 'the node still enrolled verifies');

  t.equal(await failCode('hub', 'crl', '--config', h.configFile), 'ERR_USAGE', '--out is required');
  const standalone = join(root, 'standalone-ca');
  t.equal((await cli('ca', 'init', '--dir', standalone)).code, 0);
  t.equal((await cli('ca', 'crl', '--dir', standalone, '--out', join(root, 'standalone-crl.pem'))).code, 0, 'a CA without a hub keeps its own register');
});

t.test('admin commands never create a hub store (SQLite)', async (t) => {
  const h = await hubDir('no-store', {}, false);
  for (const argv of [
    ['hub', 'token', '--config', h.configFile, '--node', '430100', '--grade', '2'],
    ['hub', 'nodes', '--config', h.configFile],
    ['hub', 'revoke', '--config', h.configFile, '--node', '430100'],
    ['hub', 'crl', '--config', h.configFile, '--out', join(h.dir, 'crl.pem')],
  ]) {
    const r = await cli(...argv);
    t.equal(r.code, 1, `${argv[1]}: exit 1`);
    t.match(r.err, /^error ERR_HUB_STORE_NOT_FOUND: .*hub\.sqlite.*databaseUrl/, `${argv[1]}: names the store and the fix`);
  }
  t.notOk(existsSync(join(h.dataDir, 'hub.sqlite')), 'no SQLite file was created');
  t.same(existsSync(h.dataDir) ? readdirSync(h.dataDir) : [], [], 'nothing in dataDir');
});

t.test('PostgreSQL hub: databaseUrl from the config file, never a stray SQLite store', async (t) => {
  if (!(await pgReady(t))) return;
  const schema = `t_${process.pid}_${randomBytes(4).toString('hex')}`;
  const empty = `${schema}_empty`;
  const admin = await connect(PG_URL, { poolMax: 1 });
  t.teardown(async () => {
    await admin.raw('DROP SCHEMA IF EXISTS ?? CASCADE', [schema]);
    await admin.raw('DROP SCHEMA IF EXISTS ?? CASCADE', [empty]);
    await admin.destroy();
  });
  await admin.raw('CREATE SCHEMA ??', [schema]);
  await admin.raw('CREATE SCHEMA ??', [empty]);
  const urlFor = (s: string) => `${PG_URL}?options=${encodeURIComponent(`-c search_path=${s}`)}`;
  // the hub as `credit hub start` leaves it: its tables in the schema
  {
    const db = await connect(urlFor(schema));
    await migrateAudit(db);
    await migrateHub(db);
    await db.destroy();
  }
  const h = await hubDir('pg', { databaseUrl: urlFor(schema) }, false);
  const tok = await cli('hub', 'token', '--config', h.configFile, '--node', '430100', '--grade', '3', '--name', '长沙市');
  t.equal(tok.code, 0, tok.err);
  t.equal(((await admin.withSchema(schema).from('hub_tokens').count({ n: '*' })) as { n: string }[])[0]!.n, '1', 'the token is in the PostgreSQL hub store');
  const nodes = await cli('hub', 'nodes', '--config', h.configFile, '--json');
  t.equal(nodes.code, 0, nodes.err);
  t.match(JSON.parse(nodes.out), [{ nodeId: '430100', name: '长沙市', status: 'pending' }]);
  const rv = await cli('hub', 'revoke', '--config', h.configFile, '--node', '430100');
  t.equal(rv.code, 0, rv.err);
  t.equal(((await admin.withSchema(schema).from('hub_nodes').where({ node_id: '430100' }).first('status')) as { status: string }).status, 'revoked');
  t.equal((await cli('hub', 'crl', '--config', h.configFile, '--out', join(h.dir, 'crl.pem'))).code, 0, 'hub crl reads the PostgreSQL register');
  t.notOk(existsSync(join(h.dataDir, 'hub.sqlite')), 'no SQLite file beside the PostgreSQL hub');

  // the same hub without databaseUrl in the file and nothing exported: refused, not a new SQLite store
  writeFileSync(h.configFile, JSON.stringify({ dataDir: 'data', caDir: 'ca', logLevel: 'silent' }));
  t.equal(await failCode('hub', 'token', '--config', h.configFile, '--node', '430100', '--grade', '3'), 'ERR_HUB_STORE_NOT_FOUND');
  t.notOk(existsSync(join(h.dataDir, 'hub.sqlite')), 'still no SQLite file');
  // env DATABASE_URL overrides the file (the hub's convention for every config key it maps)
  process.env.DATABASE_URL = urlFor(schema);
  try {
    t.equal((await cli('hub', 'nodes', '--config', h.configFile)).code, 0, 'env DATABASE_URL names the store');
  } finally {
    delete process.env.DATABASE_URL;
  }
  // a PostgreSQL schema without the hub's tables is not a hub store either, and stays empty
  writeFileSync(h.configFile, JSON.stringify({ dataDir: 'data', caDir: 'ca', databaseUrl: urlFor(empty), logLevel: 'silent' }));
  const r = await cli('hub', 'token', '--config', h.configFile, '--node', '430100', '--grade', '3');
  t.equal(r.code, 1);
  t.match(r.err, /^error ERR_HUB_STORE_NOT_FOUND: /);
  t.same(await admin.raw('select table_name from information_schema.tables where table_schema = ?', [empty]).then((x: { rows: unknown[] }) => x.rows), [], 'no table was created');
});
