/**
 * hub/config.ts (defaults, every bad key named, env, frozen) and the hub's own certificate
 * (issued at first start, kept across restarts, re-issued for a new host or a foreign file).
 */
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { initCaDir } from '../../certs/ca-dir.js';
import { certInfo } from '../../certs/pki-crypto.js';
import { certFromPem } from '../../protocol/crypto.js';
import { openHubCa } from '../../hub/ca-store.js';
import { buildHubConfig, loadHubConfig } from '../../hub/config.js';
import { ensureHubIdentity } from '../../hub/identity.js';
import { migrateHub, rollbackHub } from '../../hub/migrations.js';
import { connect } from '../../audit/knex-connect.js';
import { engines, sqliteEngine } from '../helpers/db.js';
import { issue, makeCa } from '../helpers/pki.js';

const dir = mkdtempSync(join(tmpdir(), 'hub-config-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const caDir = join(dir, 'ca');
await initCaDir(caDir, { cn: 'Test Provincial Credit CA (config)' });
const base = { dataDir: join(dir, 'data'), caDir };

t.test('defaults are filled in and the result is frozen', async (t) => {
  const c = buildHubConfig(base, {});
  t.match(c, {
    dataDir: join(dir, 'data'), caDir, databaseTarget: join(dir, 'data', 'hub.sqlite'), listen: { host: '127.0.0.1', port: 8443 }, hosts: [],
    nodeCertDays: 365, windowMs: 300_000, maxEnvelopeBytes: 16 * 1024 * 1024, bodyLimitBytes: 1024 * 1024,
    rateLimit: { enabled: true, max: 3000, timeWindowMs: 60_000 }, logLevel: 'info', shutdownTimeoutMs: 15_000,
  });
  t.ok(Object.isFrozen(c) && Object.isFrozen(c.listen) && Object.isFrozen(c.hosts));
  const env = buildHubConfig(base, { DATABASE_URL: 'postgres://u@db.example/hub', CREDIT_LOG_LEVEL: 'warn' });
  t.equal(env.databaseTarget, 'postgres://u@db.example/hub', 'DATABASE_URL wins');
  t.equal(env.logLevel, 'warn');
  const rel = join(dir, 'rel.json');
  writeFileSync(rel, JSON.stringify({ dataDir: 'data2', caDir: 'ca', hosts: ['hub.credit.example.cn', '10.0.0.5'] }));
  const c2 = loadHubConfig(rel, {});
  t.equal(c2.dataDir, join(dir, 'data2'), 'relative to the config file');
  t.same(c2.hosts, ['hub.credit.example.cn', '10.0.0.5']);
});

t.test('ERR_CONFIG_INVALID names the bad key', async (t) => {
  const cases: [unknown, string][] = [
    [{ ...base, listen: { port: 70000 } }, 'listen.port'],
    [{ ...base, windowMs: 'five minutes' }, 'windowMs'],
    [{ ...base, colour: 'red' }, 'colour'],
    [{ caDir }, 'dataDir'],
    [{ ...base, caDir: join(dir, 'nowhere') }, 'caDir'],
    [{ ...base, hosts: 'hub.example.cn' }, 'hosts'],
    [{ ...base, hosts: [''] }, 'hosts[0]'],
    [{ ...base, hosts: ['bad host!'] }, 'hosts'],
    [{ ...base, databaseUrl: 'mysql://x' }, 'databaseUrl'],
    [{ ...base, rateLimit: { max: 0 } }, 'rateLimit.max'],
    [[], '(root)'],
  ];
  for (const [raw, key] of cases) t.throws(() => buildHubConfig(raw, {}), { code: 'ERR_CONFIG_INVALID', details: { key } }, key);
  t.throws(() => loadHubConfig(join(dir, 'missing.json'), {}), { code: 'ERR_CONFIG_INVALID', details: { key: '(file)' } });
  writeFileSync(join(dir, 'broken.json'), '{');
  t.throws(() => loadHubConfig(join(dir, 'broken.json'), {}), { code: 'ERR_CONFIG_INVALID', details: { key: '(file)' } });
});

t.test('the hub certificate: issued once, kept, re-issued when it no longer fits', async (t) => {
  const store = await sqliteEngine.open();
  t.teardown(() => store.close());
  await migrateHub(store.db);
  const ca = openHubCa(store.db, caDir);
  const dataDir = join(dir, 'identity');
  const now = new Date();
  const first = await ensureHubIdentity(store.db, ca, { dataDir, hosts: [], days: 30, now });
  t.equal(first.issued, 'no hub certificate yet');
  t.equal(certInfo(first.certPem).cn, '430000');
  t.equal(statSync(join(dataDir, 'hub.key')).mode & 0o777, 0o600, 'hub.key is 0600');
  const again = await ensureHubIdentity(store.db, ca, { dataDir, hosts: [], days: 30, now });
  t.equal(again.issued, null, 'kept across restarts');
  t.equal(again.certPem, first.certPem);
  const host = await ensureHubIdentity(store.db, ca, { dataDir, hosts: ['hub.credit.example.cn'], days: 30, now });
  t.match(host.issued, /does not name hub\.credit\.example\.cn/);
  const late = await ensureHubIdentity(store.db, ca, { dataDir, hosts: ['hub.credit.example.cn'], days: 30, now: new Date(now.getTime() + 25 * 86_400_000) });
  t.match(late.issued, /third of its lifetime/);
  const rogue = issue(makeCa('Rogue'), '430000');
  writeFileSync(join(dataDir, 'hub.pem'), rogue.certPem);
  writeFileSync(join(dataDir, 'hub.key'), rogue.keyPem);
  const kept = await ensureHubIdentity(store.db, ca, { dataDir, hosts: [], days: 30, now });
  t.equal(kept.issued, null, 'the store holds the identity: rogue files in DATADIR are replaced by it');
  t.equal(kept.certPem, late.certPem);
  t.equal(readFileSync(join(dataDir, 'hub.pem'), 'utf8'), late.certPem, 'hub.pem rewritten from the store');
  t.equal((await ca.certs.listIssued()).filter((c) => c.nodeId === '430000').length, 3, 'every hub certificate is in the register');

  // a store from before issue 22 (no stored identity): the files are used when they fit, stored, and kept
  const older = await sqliteEngine.open();
  t.teardown(() => older.close());
  await migrateHub(older.db);
  const oca = openHubCa(older.db, caDir);
  writeFileSync(join(dataDir, 'hub.pem'), rogue.certPem);
  writeFileSync(join(dataDir, 'hub.key'), rogue.keyPem);
  const fixed = await ensureHubIdentity(older.db, oca, { dataDir, hosts: [], days: 30, now });
  t.equal(fixed.issued, 'the certificate is not from this CA');
  const adopted = await ensureHubIdentity(older.db, oca, { dataDir, hosts: [], days: 30, now });
  t.equal(adopted.issued, null);
  t.equal(adopted.certPem, fixed.certPem);

  // the stored key under another CA key (or altered) does not open: a new identity is issued
  const value = JSON.parse(String((await older.db('hub_settings').where({ name: 'hub_identity' }).first()).value)) as { certPem: string; key: string };
  const parts = value.key.split('.');
  parts[3] = Buffer.from(Buffer.from(parts[3]!, 'base64').map((b, i) => (i === 0 ? b ^ 1 : b))).toString('base64');
  await older.db('hub_settings').where({ name: 'hub_identity' }).update({ value: JSON.stringify({ ...value, key: parts.join('.') }) });
  const reissued = await ensureHubIdentity(older.db, oca, { dataDir, hosts: [], days: 30, now });
  t.equal(reissued.issued, 'the stored hub key does not open with this CA key');
  await rollbackHub(store.db);
  t.notOk(await store.db.schema.hasTable('hub_nodes'), 'migrations roll back');
});

for (const engine of (await engines()).filter((e) => e.name === 'pg')) {
  t.test('two hub processes starting at once on one PostgreSQL issue ONE hub certificate and both use it', async (t) => {
    const { db, target, schema, close } = await engine.open();
    t.teardown(close);
    await migrateHub(db);
    const other = await connect(target, { schema: schema!, poolMax: 2 });
    t.teardown(() => other.destroy());
    const now = new Date();
    const [a, b] = await Promise.all([
      ensureHubIdentity(db, openHubCa(db, caDir), { dataDir: join(dir, 'pg-a'), hosts: [], days: 30, now }),
      ensureHubIdentity(other, openHubCa(other, caDir), { dataDir: join(dir, 'pg-b'), hosts: [], days: 30, now }),
    ]);
    t.equal(a.certPem, b.certPem, 'the same certificate');
    t.equal(a.keyPem, b.keyPem, 'the same key');
    t.same([a.issued, b.issued].sort(), ['no hub certificate yet', null].sort(), 'issued by one of them');
    t.equal((await db('hub_certs').where({ node_id: '430000' })).length, 1, 'one hub certificate in the register');
    t.equal(readFileSync(join(dir, 'pg-b', 'hub.pem'), 'utf8'), a.certPem, "each process's DATADIR copy");
    t.notMatch(String((await db('hub_settings').where({ name: 'hub_identity' }).first()).value), /PRIVATE KEY/, 'the key is stored encrypted');
  });
}

t.test('the hub EC P-256 identity (issue 23): issued once beside the RSA one, kept, stored encrypted', async (t) => {
  const store = await sqliteEngine.open();
  t.teardown(() => store.close());
  await migrateHub(store.db);
  const ca = openHubCa(store.db, caDir);
  const dataDir = join(dir, 'identity-ec');
  const now = new Date();
  const rsa = await ensureHubIdentity(store.db, ca, { dataDir, hosts: [], days: 30, now });
  const ec = await ensureHubIdentity(store.db, ca, { dataDir, hosts: [], days: 30, now, algorithm: 'p256' });
  t.equal(ec.issued, 'no hub certificate yet');
  t.equal(certFromPem(ec.certPem).keyKind, 'ec-p256');
  t.equal(certInfo(ec.certPem).cn, '430000');
  t.not(ec.certPem, rsa.certPem);
  t.equal(statSync(join(dataDir, 'hub-ec.key')).mode & 0o777, 0o600, 'hub-ec.key is 0600');
  t.equal(readFileSync(join(dataDir, 'hub.pem'), 'utf8'), rsa.certPem, 'the RSA files are left alone');
  const again = await ensureHubIdentity(store.db, ca, { dataDir, hosts: [], days: 30, now, algorithm: 'p256' });
  t.same([again.issued, again.certPem], [null, ec.certPem], 'kept across restarts');
  t.equal((await ensureHubIdentity(store.db, ca, { dataDir, hosts: [], days: 30, now })).certPem, rsa.certPem, 'the RSA identity is kept too');
  // an RSA identity stored where the EC one belongs does not pass for it
  const stored = await store.db('hub_settings').where({ name: 'hub_identity' }).first();
  await store.db('hub_settings').where({ name: 'hub_identity_ec' }).update({ value: stored.value });
  t.match((await ensureHubIdentity(store.db, ca, { dataDir, hosts: [], days: 30, now, algorithm: 'p256' })).issued, /the key is not EC P-256/);
  t.notMatch(String((await store.db('hub_settings').where({ name: 'hub_identity_ec' }).first()).value), /PRIVATE KEY/, 'the key is stored encrypted');
});

for (const engine of (await engines()).filter((e) => e.name === 'pg')) {
  t.test('two hub processes starting at once on one PostgreSQL issue ONE hub EC certificate and both use it', async (t) => {
    const { db, target, schema, close } = await engine.open();
    t.teardown(close);
    await migrateHub(db);
    const other = await connect(target, { schema: schema!, poolMax: 2 });
    t.teardown(() => other.destroy());
    const now = new Date();
    const [a, b] = await Promise.all([
      ensureHubIdentity(db, openHubCa(db, caDir), { dataDir: join(dir, 'pg-ec-a'), hosts: [], days: 30, now, algorithm: 'p256' }),
      ensureHubIdentity(other, openHubCa(other, caDir), { dataDir: join(dir, 'pg-ec-b'), hosts: [], days: 30, now, algorithm: 'p256' }),
    ]);
    t.same([a.certPem, a.keyPem], [b.certPem, b.keyPem], 'the same certificate and key');
    t.same([a.issued, b.issued].sort(), ['no hub certificate yet', null].sort(), 'issued by one of them');
    t.equal((await db('hub_certs').where({ node_id: '430000' })).length, 1, 'one hub certificate in the register');
  });
}
