/**
 * `credit hub …` as the operator runs it: real processes (node bin/credit.js) for start, token,
 * nodes and revoke against one SQLite hub database, a node enrolling with the printed token over
 * real TLS, and revocation from another process refusing the node's next request on the same
 * connection. Usage errors and --help in-process.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import t from 'tap';
import { Agent, request } from 'undici';
import { initCaDir } from '../../certs/ca-dir.js';
import { createNodeKeys } from '../../certs/node-keys.js';
import { tlsClientOptions } from '../../certs/tls.js';
import { main } from '../../scripts/cli.js';

const dir = mkdtempSync(join(tmpdir(), 'hub-cli-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const caDir = join(dir, 'ca');
const { certPem: caCertPem } = await initCaDir(caDir, { cn: 'Test Provincial Credit CA (hub cli)' });
const configFile = join(dir, 'hub.json');
writeFileSync(configFile, JSON.stringify({ dataDir: join(dir, 'data'), caDir: 'ca', listen: { host: '127.0.0.1', port: 0 }, rateLimit: { enabled: false } }));
const env = { ...process.env, DATABASE_URL: '', CREDIT_LOG_LEVEL: 'info' };

function run(args: string[]): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['bin/credit.js', ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString('utf8')));
    child.stderr.on('data', (d: Buffer) => (err += d.toString('utf8')));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, out, err }));
  });
}

async function startHubProcess() {
  const child = spawn(process.execPath, ['bin/credit.js', 'hub', 'start', '--config', configFile], { env, stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = once(child, 'exit') as Promise<[number | null]>;
  const lines = createInterface({ input: child.stdout! });
  const logs: Record<string, unknown>[] = [];
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('hub did not report listening within 60 s')), 60_000);
    child.once('exit', (code) => reject(new Error(`hub exited with ${code} before listening`)));
    lines.on('line', (l) => {
      try {
        const j = JSON.parse(l) as { url?: string };
        logs.push(j);
        if (j.url) {
          clearTimeout(timer);
          resolve(j.url);
        }
      } catch {
        /* not a log line */
      }
    });
  });
  return {
    url,
    logs,
    async stop(): Promise<number | null> {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      return (await exited)[0];
    },
  };
}

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  return { io: { stdout: (s: string) => void out.push(s), stderr: (s: string) => void err.push(s) }, out, err };
}

t.test('operator workflow with real processes: start → token → enrol → nodes → revoke', async (t) => {
  const hub = await startHubProcess(); // admin commands never create the hub store: the hub does, at its first start
  t.teardown(() => hub.stop());
  t.match(hub.url, /^https:\/\/127\.0\.0\.1:\d+$/);

  const tok = await run(['hub', 'token', '--config', configFile, '--node', '430100', '--grade', '2', '--name', '长沙市', '--ttl', '2h']);
  t.equal(tok.code, 0, tok.err);
  t.match(tok.out, /^cf1_[A-Za-z0-9_-]{43}\n$/, 'the token alone on stdout');
  t.match(tok.err, /single use, expires/);

  const anon = new Agent({ connect: { ca: [caCertPem] } });
  t.teardown(() => anon.close());
  const { keyPem, csrPem } = createNodeKeys('430100');
  const enrolled = await request(`${hub.url}/v1/enroll`, { method: 'POST', dispatcher: anon, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token: tok.out.trim(), csrPem }) });
  t.equal(enrolled.statusCode, 200);
  const res = (await enrolled.body.json()) as { certPem: string; serial: string; grade: number };
  t.equal(res.grade, 2);

  const agent = new Agent({ connect: tlsClientOptions({ caCertPem, certPem: res.certPem, keyPem, expectNodeId: '430000' }) });
  t.teardown(() => agent.close());
  const ok = await request(`${hub.url}/v1/distributions?after=0`, { dispatcher: agent });
  t.equal(ok.statusCode, 200);
  await ok.body.dump();

  const json = await run(['hub', 'nodes', '--config', configFile, '--json']);
  t.equal(json.code, 0, json.err);
  const list = JSON.parse(json.out) as { nodeId: string; name: string; grade: number; status: string; certNotAfter: string; lastSeenAt: string | null }[];
  t.equal(list.length, 1);
  t.match(list[0], { nodeId: '430100', name: '长沙市', grade: 2, status: 'active' });
  t.ok(Date.parse(list[0]!.certNotAfter) > Date.now(), 'certificate expiry shown');
  t.ok(list[0]!.lastSeenAt, 'last seen recorded');

  const rev = await run(['hub', 'revoke', '--config', configFile, '--node', '430100', '--reason', 'cessationOfOperation']);
  t.equal(rev.code, 0, rev.err);
  t.equal(rev.out, `revoked ${res.serial} (cessationOfOperation)\n`);
  const refused = await request(`${hub.url}/v1/distributions?after=0`, { dispatcher: agent });
  t.equal(refused.statusCode, 403);
  t.equal(((await refused.body.json()) as { code: string }).code, 'ERR_CERT_REVOKED', 'refused on the next request, same agent');

  const table = await run(['hub', 'nodes', '--config', configFile]);
  t.equal(table.code, 0);
  const [head, row] = table.out.trimEnd().split('\n');
  t.match(head, /^NODE\s+NAME\s+GRADE\s+STATUS\s+CERT EXPIRES\s+LAST SEEN\s+BATCHES IN\s+RECORDS IN\s+RECORDS OUT\s+QUERIES$/);
  t.match(row, /^430100\s+长沙市\s+2\s+revoked\s+-\s+\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ\s+0\s+0\s+0\s+0$/);

  t.equal(await hub.stop(), 0, 'SIGTERM: graceful exit 0');
  t.ok(hub.logs.some((l) => l.msg === 'issued a new hub certificate'), 'the hub issued its own certificate at first start');
});

t.test('usage errors, bad values and --help (in-process)', async (t) => {
  const cases: [string[], number, RegExp][] = [
    [['hub', 'token', '--config', configFile, '--node', '430100', '--grade', '5'], 1, /ERR_GRADE_INVALID/],
    [['hub', 'token', '--config', configFile, '--node', '430100', '--grade', '2', '--ttl', '90d'], 2, /ERR_USAGE.*--ttl/],
    [['hub', 'token', '--config', configFile, '--node', '430000', '--grade', '2'], 1, /ERR_INVALID_NODE_ID/],
    [['hub', 'token', '--config', configFile, '--grade', '2'], 2, /ERR_USAGE.*--node/],
    [['hub', 'revoke', '--config', configFile, '--node', '430200'], 1, /ERR_NODE_UNKNOWN/],
    [['hub', 'revoke', '--config', configFile, '--node', '430100', '--reason', 'bored'], 1, /ERR_REVOCATION_REASON/],
    [['hub', 'nodes', '--config', join(dir, 'missing.json')], 1, /ERR_CONFIG_INVALID/],
    [['hub', 'nodes', '--config', configFile, '--color'], 2, /ERR_USAGE/],
  ];
  for (const [argv, exit, re] of cases) {
    const c = capture();
    t.equal(await main(argv, c.io), exit, argv.slice(1).join(' '));
    t.match(c.err.join(''), re);
    t.equal(c.out.join(''), '', 'nothing on stdout');
  }
  for (const cmd of ['start', 'token', 'nodes', 'revoke']) {
    const c = capture();
    t.equal(await main(['hub', cmd, '--help'], c.io), 0);
    t.match(c.out.join(''), new RegExp(`^Usage: credit hub ${cmd} --config FILE`));
  }
  const g = capture();
  t.equal(await main(['hub', '--help'], g.io), 0);
  t.match(g.out.join(''), /start[\s\S]*token[\s\S]*nodes[\s\S]*revoke/);
});

t.test('a bad config fails fast naming the key', async (t) => {
  const bad = join(dir, 'bad.json');
  writeFileSync(bad, JSON.stringify({ dataDir: join(dir, 'data'), caDir: 'ca', listen: { port: 'eighty' } }));
  const c = capture();
  t.equal(await main(['hub', 'start', '--config', bad], c.io), 1);
  t.match(c.err.join(''), /error ERR_CONFIG_INVALID: config key listen\.port/);
});
