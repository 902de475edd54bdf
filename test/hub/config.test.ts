/**
 * hub/config.ts (defaults, every bad key named, env, frozen) and the hub's own certificate
 * (issued at first start, kept across restarts, re-issued for a new host or a foreign file).
 */
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { initCaDir } from '../../certs/ca-dir.js';
import { certInfo } from '../../certs/pki-crypto.js';
import { openHubCa } from '../../hub/ca-store.js';
import { buildHubConfig, loadHubConfig } from '../../hub/config.js';
import { ensureHubIdentity } from '../../hub/identity.js';
import { migrateHub, rollbackHub } from '../../hub/migrations.js';
import { sqliteEngine } from '../helpers/db.js';
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
  const first = await ensureHubIdentity(ca, { dataDir, hosts: [], days: 30, now });
  t.equal(first.issued, 'no hub certificate yet');
  t.equal(certInfo(first.certPem).cn, '430000');
  t.equal(statSync(join(dataDir, 'hub.key')).mode & 0o777, 0o600, 'hub.key is 0600');
  const again = await ensureHubIdentity(ca, { dataDir, hosts: [], days: 30, now });
  t.equal(again.issued, null, 'kept across restarts');
  t.equal(again.certPem, first.certPem);
  const host = await ensureHubIdentity(ca, { dataDir, hosts: ['hub.credit.example.cn'], days: 30, now });
  t.match(host.issued, /does not name hub\.credit\.example\.cn/);
  const late = await ensureHubIdentity(ca, { dataDir, hosts: ['hub.credit.example.cn'], days: 30, now: new Date(now.getTime() + 25 * 86_400_000) });
  t.match(late.issued, /third of its lifetime/);
  const rogue = issue(makeCa('Rogue'), '430000');
  writeFileSync(join(dataDir, 'hub.pem'), rogue.certPem);
  writeFileSync(join(dataDir, 'hub.key'), rogue.keyPem);
  const fixed = await ensureHubIdentity(ca, { dataDir, hosts: [], days: 30, now });
  t.equal(fixed.issued, 'the certificate is not from this CA');
  t.equal((await ca.certs.listIssued()).filter((c) => c.nodeId === '430000').length, 4, 'every hub certificate is in the register');
  await rollbackHub(store.db);
  t.notOk(await store.db.schema.hasTable('hub_nodes'), 'migrations roll back');
});
