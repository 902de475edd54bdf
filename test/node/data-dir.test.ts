/**
 * Issue 13 item 6, with real processes (`node bin/credit.js … start`): the data directory is 0700
 * and the SQLite files 0600, also when they were left 0755/0644; a second `credit node start` (and
 * `credit hub start`) on a data directory in use exits at once with ERR_DATADIR_LOCKED naming the
 * holder's pid while the first keeps writing; after a SIGKILL the stale lock does not block the
 * restart.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import t from 'tap';
import { request } from 'undici';
import { initCaDir } from '../../certs/ca-dir.js';
import { loadConfig } from '../../node/config.js';
import { mintServiceTokenFor } from '../../node/service-tokens.js';
import { record } from './app-fixture.js';

const env: NodeJS.ProcessEnv = { ...process.env, CREDIT_LOG_LEVEL: 'info' };
delete env.DATABASE_URL;

interface Started {
  child: ChildProcess;
  url: string;
  exited: Promise<unknown>;
}

/** Starts `credit <what> start --config F` and waits for its "listening" log line. */
function start(what: 'node' | 'hub', configFile: string): Promise<Started> {
  const child = spawn(process.execPath, ['bin/credit.js', what, 'start', '--config', configFile], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = once(child, 'exit');
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString('utf8')));
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`${what} exited with ${code} before listening: ${err}`)));
    createInterface({ input: child.stdout! }).on('line', (l) => {
      try {
        const j = JSON.parse(l) as { url?: string };
        if (j.url) resolve({ child, url: j.url, exited });
      } catch {
        /* not a log line */
      }
    });
  });
}

/** Runs `credit <what> start` expecting it to exit by itself (if it starts listening instead, it is stopped); its exit code and stderr. */
function startRefused(what: 'node' | 'hub', configFile: string): Promise<{ code: number | null; err: string; out: string }> {
  const child = spawn(process.execPath, ['bin/credit.js', what, 'start', '--config', configFile], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  let out = '';
  child.stdout.on('data', (d: Buffer) => {
    out += d.toString('utf8');
    if (out.includes('"url":')) child.kill('SIGTERM');
  });
  child.stderr.on('data', (d: Buffer) => (err += d.toString('utf8')));
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, err, out })));
}

const mode = (p: string) => statSync(p).mode & 0o777;

t.test('node: 0700 / 0600 at rest, one process per data directory, a SIGKILLed holder does not block', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'node-datadir-'));
  const children: ChildProcess[] = [];
  t.teardown(async () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });
  const dataDir = join(dir, 'data');
  mkdirSync(dataDir, { mode: 0o755 });
  chmodSync(dataDir, 0o755);
  writeFileSync(join(dataDir, 'node.sqlite'), '', { mode: 0o644 });
  chmodSync(join(dataDir, 'node.sqlite'), 0o644);
  const configFile = join(dir, 'node.json');
  writeFileSync(configFile, JSON.stringify({ nodeId: '430100', dataDir: 'data', listen: { host: '127.0.0.1', port: 0 } }));

  const first = await start('node', configFile);
  children.push(first.child);
  const token = (await mintServiceTokenFor(loadConfig(configFile, {}), { user: 'x', role: 'submitter', clearance: 'public', ttlSeconds: 600 })).token;
  const write = async (n: number) => {
    const res = await request(`${first.url}/v1/records`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(record('CF', { decisionNo: `DD-${n}` })) });
    await res.body.dump();
    return res.statusCode;
  };
  t.equal(await write(1), 201);
  t.equal(mode(dataDir), 0o700, 'dataDir 0700 (was 0755)');
  for (const f of ['node.sqlite', 'node.sqlite-wal', 'node.sqlite-shm', 'jwt.secret']) t.equal(mode(join(dataDir, f)), 0o600, `${f} 0600`);

  const second = await startRefused('node', configFile);
  t.equal(second.code, 1, 'the second process exits at once');
  t.match(second.err, /^error ERR_DATADIR_LOCKED: /, 'with ERR_DATADIR_LOCKED');
  t.match(second.err, new RegExp(`process ${first.child.pid}\\b`), "naming the holder's pid");
  t.equal(await write(2), 201, 'the first still writes');
  t.equal(await write(3), 201);

  first.child.kill('SIGKILL');
  await first.exited;
  t.ok(existsSync(join(dataDir, '.datadir.lock')), 'the SIGKILLed holder left its lock');
  for (const f of ['node.sqlite', 'node.sqlite-wal', 'node.sqlite-shm']) if (existsSync(join(dataDir, f))) chmodSync(join(dataDir, f), 0o644);
  chmodSync(dataDir, 0o755);
  const again = await start('node', configFile);
  children.push(again.child);
  t.equal(mode(dataDir), 0o700, 'dataDir set back to 0700 at start');
  for (const f of ['node.sqlite', 'node.sqlite-wal', 'node.sqlite-shm']) if (existsSync(join(dataDir, f))) t.equal(mode(join(dataDir, f)), 0o600, `${f} set back to 0600 at start`);
  const res = await request(`${again.url}/v1/records`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(record('CF', { decisionNo: 'DD-4' })) });
  t.equal(res.statusCode, 201, 'the restarted node writes');
  await res.body.dump();
  again.child.kill('SIGTERM');
  await again.exited;
  t.notOk(existsSync(join(dataDir, '.datadir.lock')), 'a graceful stop removes the lock');
});

t.test('hub: a second `credit hub start` on the same data directory exits with ERR_DATADIR_LOCKED', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'hub-datadir-'));
  const children: ChildProcess[] = [];
  t.teardown(async () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });
  await initCaDir(join(dir, 'ca'), { cn: 'Test Provincial Credit CA (datadir)' });
  const configFile = join(dir, 'hub.json');
  writeFileSync(configFile, JSON.stringify({ dataDir: 'data', caDir: 'ca', listen: { host: '127.0.0.1', port: 0 } }));
  const first = await start('hub', configFile);
  children.push(first.child);
  const second = await startRefused('hub', configFile);
  t.equal(second.code, 1);
  t.match(second.err, /^error ERR_DATADIR_LOCKED: /);
  t.match(second.err, new RegExp(`process ${first.child.pid}\\b`));
  t.equal(mode(join(dir, 'data')), 0o700);
  t.equal(mode(join(dir, 'data', 'hub.sqlite')), 0o600);
  t.equal(first.child.exitCode, null, 'the first hub still runs');
});
