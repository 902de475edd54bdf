/**
 * `credit node check` / `credit hub check` (issue 17 item 6): a checklist, exit 0 when nothing
 * failed and 1 when something did — a certificate expiring within 7 days, one on the CRL, a config
 * that does not load — with the hub's reachability and clock read from a (fake) hub over mTLS; the
 * SM2 CRL of a node enrolled with an SM2 key (not fetched, stale: warn; not the SM2 root's: FAIL).
 */
import t, { type Test } from 'tap';
import { once } from 'node:events';
import { createServer } from 'node:https';
import { appendFileSync, chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../../scripts/cli.js';
import { registerJournal } from '../../hub/register-journal.js';
import { signCrl } from '../../certs/crl.js';
import { buildSm2Crl, createSm2Ca } from '../../certs/sm2-x509.js';
import { tlsServerOptions } from '../../certs/tls.js';
import { issue, makeCa } from '../helpers/pki.js';
import { urlWithSchema } from '../../scripts/bench/bench-pg.js';
import { PG_URL, pgEngine, pgReady } from '../helpers/db.js';

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  return { io: { stdout: (s: string) => void out.push(s), stderr: (s: string) => void err.push(s) }, out, err, text: () => out.join('') + err.join('') };
}

const dir = mkdtempSync(join(tmpdir(), 'check-cli-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const ca = makeCa();
const DAY = 86_400_000;

async function fakeHub(t: Test): Promise<string> {
  const hub = issue(ca, '430000', { hosts: ['127.0.0.1'] });
  const server = createServer({ ...tlsServerOptions({ caCertPem: ca.certPem, certPem: hub.certPem, keyPem: hub.keyPem, requestCert: true }) }, (_req, res) => res.end('{"status":"ok","nodeId":"430000"}'));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.teardown(() => new Promise<void>((r) => server.close(() => r())));
  return `https://127.0.0.1:${(server.address() as { port: number }).port}`;
}

/** A node "enrolled" with certificates from the test CA (exchange/ as `credit node init` leaves it). */
function enrolledNode(name: string, hubUrl: string, cert: { notAfter: Date }, crl?: string): { configFile: string; serial: string } {
  const dataDir = join(dir, name);
  const ex = join(dataDir, 'exchange');
  mkdirSync(ex, { recursive: true, mode: 0o700 });
  const id = issue(ca, '430100', { notAfter: cert.notAfter });
  writeFileSync(join(ex, 'node.pem'), id.certPem);
  writeFileSync(join(ex, 'node.key'), id.keyPem, { mode: 0o600 });
  writeFileSync(join(ex, 'ca.pem'), ca.certPem);
  if (crl !== undefined) writeFileSync(join(ex, 'crl.pem'), crl);
  const configFile = join(dir, `${name}.json`);
  writeFileSync(configFile, JSON.stringify({ nodeId: '430100', dataDir, listen: { host: '127.0.0.1', port: 0 }, hub: { url: hubUrl } }));
  return { configFile, serial: id.serial };
}

t.test('a standalone node that was never started passes, with a warning for the store', async (t) => {
  const configFile = join(dir, 'plain.json');
  writeFileSync(configFile, JSON.stringify({ nodeId: '430100', dataDir: join(dir, 'plain'), listen: { host: '127.0.0.1', port: 0 } }));
  const c = capture();
  t.equal(await main(['node', 'check', '--config', configFile], c.io), 0, c.text());
  t.match(c.text(), /^ok\s+config .*node 430100/m);
  t.match(c.text(), /^ok\s+data dir/m);
  t.match(c.text(), /^ok\s+disk space .* GiB free/m);
  t.match(c.text(), /^warn\s+store .*does not exist yet/m);
  t.match(c.text(), /all checks passed \(1 warning/);
});

t.test('a config that does not load fails the check', async (t) => {
  const configFile = join(dir, 'broken.json');
  writeFileSync(configFile, '{ "nodeId": "430100", ');
  const c = capture();
  t.equal(await main(['node', 'check', '--config', configFile], c.io), 1);
  t.match(c.text(), /^FAIL\s+config\s+ERR_CONFIG_INVALID: config file .* is not JSON/m);
});

t.test('an enrolled node: certificate days, CRL, hub reachable and the clock compared with the hub', async (t) => {
  const hubUrl = await fakeHub(t);
  const now = new Date();
  const crl = await signCrl({ caCertPem: ca.certPem, caKeyPem: ca.keyPem, thisUpdate: now, nextUpdate: new Date(now.getTime() + 7 * DAY), entries: [] });
  const { configFile } = enrolledNode('good', hubUrl, { notAfter: new Date(Date.now() + 300 * DAY) }, crl);
  const c = capture();
  t.equal(await main(['node', 'check', '--config', configFile], c.io), 0, c.text());
  t.match(c.text(), /^ok\s+certificate .*(299|300) days left/m);
  t.match(c.text(), /^ok\s+CRL\s+not revoked/m);
  t.match(c.text(), /^ok\s+hub\s+https:\/\/127\.0\.0\.1:\d+ answers HTTP 200/m);
  t.match(c.text(), /^ok\s+clock skew\s+this clock is -?\d+ s (ahead of|behind) the hub's$/m);
  t.notMatch(c.text(), /seq refusals/, 'nothing about seq refusals by default');
  const raw = JSON.parse(readFileSync(configFile, 'utf8')) as { hub: Record<string, unknown> };
  writeFileSync(configFile, JSON.stringify({ ...raw, hub: { ...raw.hub, unsignedSeqRefusals: true } }));
  const legacy = capture();
  t.equal(await main(['node', 'check', '--config', configFile], legacy.io), 0, legacy.text());
  t.match(legacy.text(), /^warn\s+seq refusals\s+hub\.unsignedSeqRefusals is set: .*remove the key once the hub runs protocol 1\.2$/m, 'a node that takes unsigned seq refusals is warned about');
});

t.test('a certificate expiring within 7 days fails; a revoked one fails', async (t) => {
  let c = capture();
  const soon = enrolledNode('soon', 'https://127.0.0.1:1', { notAfter: new Date(Date.now() + 3 * DAY) });
  t.equal(await main(['node', 'check', '--config', soon.configFile, '--offline'], c.io), 1, c.text());
  t.match(c.text(), /^FAIL\s+certificate .*expires in [23] day\(s\)/m);
  t.match(c.text(), /^warn\s+CRL .*not fetched yet/m);

  const revokedSerialHolder = enrolledNode('revoked', 'https://127.0.0.1:1', { notAfter: new Date(Date.now() + 300 * DAY) });
  const now = new Date();
  const crl = await signCrl({ caCertPem: ca.certPem, caKeyPem: ca.keyPem, thisUpdate: now, nextUpdate: new Date(now.getTime() + 7 * DAY), entries: [{ serial: revokedSerialHolder.serial, revokedAt: now, reason: 'keyCompromise' }] });
  writeFileSync(join(dir, 'revoked', 'exchange', 'crl.pem'), crl);
  c = capture();
  t.equal(await main(['node', 'check', '--config', revokedSerialHolder.configFile], c.io), 1, c.text());
  t.match(c.text(), /^FAIL\s+revocation .*is on the hub's CRL/m);
  t.match(c.text(), /^FAIL\s+hub .*cannot be reached: ECONNREFUSED/m);
});

t.test('hub check: a fresh hub with its CA passes (certificate not issued yet is a warning)', async (t) => {
  const caDir = join(dir, 'hub-ca');
  t.equal(await main(['ca', 'init', '--dir', caDir], capture().io), 0);
  const configFile = join(dir, 'hub.json');
  writeFileSync(configFile, JSON.stringify({ dataDir: join(dir, 'hub-data'), caDir, listen: { host: '127.0.0.1', port: 0 }, hosts: ['127.0.0.1'] }));
  const c = capture();
  t.equal(await main(['hub', 'check', '--config', configFile], c.io), 0, c.text());
  t.match(c.text(), /^ok\s+CA\s+.*ca\.pem: serial \w+, \d+ days left/m);
  t.match(c.text(), /^warn\s+certificate .*`credit hub start` issues it/m);
  t.match(c.text(), /^ok\s+journal\s+.*register-journal\.ndjson does not exist yet; `credit hub start` creates it/m);

  // the register journal: facts counted; malformed lines a warning; one that cannot be read a failure (the hub would not start)
  const journal = registerJournal(caDir, readFileSync(join(caDir, 'ca.pem'), 'utf8'));
  journal.append([{ kind: 'node.revoked', nodeId: '430100', at: new Date().toISOString() }]);
  let r = capture();
  t.equal(await main(['hub', 'check', '--config', configFile], r.io), 0, r.text());
  t.match(r.text(), /^ok\s+journal\s+.*register-journal\.ndjson: 1 fact\(s\) of this CA, appendable/m);
  appendFileSync(journal.file, 'not json\n');
  r = capture();
  t.equal(await main(['hub', 'check', '--config', configFile], r.io), 0);
  t.match(r.text(), /^warn\s+journal\s+.*1 fact\(s\) of this CA; 1 malformed line\(s\), 0 of another CA/m);
  chmodSync(journal.file, 0o620);
  r = capture();
  t.equal(await main(['hub', 'check', '--config', configFile], r.io), 1, 'a journal others may append to fails the check');
  t.match(r.text(), /^FAIL\s+journal\s+ERR_REGISTER_JOURNAL: .* is writable by its group or others \(mode 620\).*chmod 600/m);
  rmSync(journal.file);
  mkdirSync(journal.file);
  r = capture();
  t.equal(await main(['hub', 'check', '--config', configFile], r.io), 1, 'a journal the hub cannot read fails the check');
  t.match(r.text(), /^FAIL\s+journal\s+ERR_REGISTER_JOURNAL: cannot read the register journal/m);
  rmSync(journal.file, { recursive: true });
});

t.test('hostile review L1: a node enrolled with an SM2 key: its SM2 CRL fetched, the SM2 root\'s, current — else a warning or a failure', async (t) => {
  const sm2Root = createSm2Ca({ cn: 'Test SM2 root (check)' });
  const other = createSm2Ca({ cn: 'Test SM2 root (check)' });
  const now = new Date();
  const { configFile } = enrolledNode('sm2', 'https://127.0.0.1:1', { notAfter: new Date(Date.now() + 300 * DAY) }, await signCrl({ caCertPem: ca.certPem, caKeyPem: ca.keyPem, thisUpdate: now, nextUpdate: new Date(now.getTime() + 7 * DAY), entries: [] }));
  const ex = join(dir, 'sm2', 'exchange');
  writeFileSync(join(ex, 'node-sm2.pem'), sm2Root.certPem); // only its presence says "enrolled with an SM2 key" here
  writeFileSync(join(ex, 'sm2-ca.pem'), sm2Root.certPem);
  const run = async () => {
    const c = capture();
    const code = await main(['node', 'check', '--config', configFile, '--offline'], c.io);
    return { code, text: c.text() };
  };
  let r = await run();
  t.match(r.text, /^warn\s+SM2 CRL .*sm2-crl\.pem not fetched yet/m);
  writeFileSync(join(ex, 'sm2-crl.pem'), buildSm2Crl(sm2Root.issuer, [], { number: 1n, now: new Date(now.getTime() - 10 * DAY), nextUpdateDays: 7 }));
  r = await run();
  t.match(r.text, /^warn\s+SM2 CRL .*nextUpdate .* has passed/m);
  writeFileSync(join(ex, 'sm2-crl.pem'), buildSm2Crl(other.issuer, [], { number: 2n }));
  r = await run();
  t.equal(r.code, 1);
  t.match(r.text, /^FAIL\s+SM2 CRL\s+ERR_CRL_INVALID/m);
  writeFileSync(join(ex, 'sm2-crl.pem'), buildSm2Crl(sm2Root.issuer, [], { number: 3n }));
  r = await run();
  t.match(r.text, /^ok\s+SM2 CRL\s+the SM2 root's, fresh until/m);
});

t.test('hub check and node check on PostgreSQL: autovacuum as the server has it (off: a warning naming the fix)', async (t) => {
  if (!(await pgReady(t))) return;
  const { db: admin, schema: s, close } = await pgEngine.open(); // a schema of its own, dropped after
  const schema = s!;
  t.teardown(close);
  const setting = ((await admin.raw('show autovacuum')) as { rows: { autovacuum: string }[] }).rows[0]!.autovacuum;
  const caDir = join(dir, 'hub-pg-ca');
  t.equal(await main(['ca', 'init', '--dir', caDir], capture().io), 0);
  const configFile = join(dir, 'hub-pg.json');
  writeFileSync(configFile, JSON.stringify({ dataDir: join(dir, 'hub-pg-data'), caDir, listen: { host: '127.0.0.1', port: 0 }, hosts: ['127.0.0.1'], databaseUrl: urlWithSchema(PG_URL, schema) }));
  const c = capture();
  t.equal(await main(['hub', 'check', '--config', configFile], c.io), 0, c.text());
  t.match(c.text(), /^warn\s+store\s+.*migration\(s\) pending/m, 'a new schema: migrations pending');
  if (setting === 'on') t.match(c.text(), /^ok\s+autovacuum\s+on/m);
  else t.match(c.text(), /^warn\s+autovacuum\s+off on this PostgreSQL server: the hub refreshes the statistics of its bulk tables itself.*set autovacuum = on/m);

  // a node on PostgreSQL: the same line, and no statistics refresh of its own to mention
  const nodeConfig = join(dir, 'node-pg.json');
  writeFileSync(nodeConfig, JSON.stringify({ nodeId: '430100', dataDir: join(dir, 'node-pg'), listen: { host: '127.0.0.1', port: 0 }, databaseUrl: urlWithSchema(PG_URL, schema) }));
  const n = capture();
  t.equal(await main(['node', 'check', '--config', nodeConfig], n.io), 0, n.text());
  if (setting === 'on') t.match(n.text(), /^ok\s+autovacuum\s+on/m);
  else t.match(n.text(), /^warn\s+autovacuum\s+off on this PostgreSQL server: the node refreshes the statistics of its bulk tables itself \(node\/planner-stats\.ts\), but nothing reclaims dead rows; set autovacuum = on/m);
});
