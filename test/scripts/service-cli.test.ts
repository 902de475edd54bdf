/**
 * `credit node|hub install-service` (issue 17 item 3): the unit it writes, checked by
 * `systemd-analyze verify` where the machine has it; and SIGTERM to the process the unit runs
 * (`node bin/credit.js … start`) shuts the server down gracefully: exit 0, store closed, lock
 * released, port free.
 */
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../../scripts/cli.js';
import { CREDIT_BIN, startServer } from '../../scripts/demo/processes.js';
import { DATADIR_LOCK } from '../../audit/store-files.js';

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  return { io: { stdout: (s: string) => void out.push(s), stderr: (s: string) => void err.push(s) }, out, err };
}

const dir = mkdtempSync(join(tmpdir(), 'service-cli-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const nodeConfig = join(dir, 'node.json');
writeFileSync(nodeConfig, JSON.stringify({ nodeId: '430100', dataDir: join(dir, 'node-data'), listen: { host: '127.0.0.1', port: 0 } }));
const hasSystemdAnalyze = spawnSync('systemd-analyze', ['--version']).status === 0;

function unitLines(text: string): Map<string, string> {
  return new Map(text.split('\n').filter((l) => /^\w+=/.test(l)).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
}

t.test('node install-service writes a hardened unit that runs node bin/credit.js directly', async (t) => {
  const out = join(dir, 'units', 'credit-node.service');
  const c = capture();
  t.equal(await main(['node', 'install-service', '--config', nodeConfig, '--out', out, '--user', 'credit-node'], c.io), 0, c.err.join(''));
  const unit = unitLines(readFileSync(out, 'utf8'));
  t.equal(unit.get('ExecStart'), `${process.execPath} ${CREDIT_BIN} node start --config ${nodeConfig}`, 'absolute node and entry, no npx');
  t.equal(unit.get('User'), 'credit-node');
  t.equal(unit.get('ProtectSystem'), 'strict');
  t.equal(unit.get('ReadWritePaths'), join(dir, 'node-data'));
  t.equal(unit.get('NoNewPrivileges'), 'true');
  t.equal(unit.get('Restart'), 'on-failure');
  t.equal(unit.get('KillSignal'), 'SIGTERM');
  t.match(c.out.join(''), /systemctl enable --now credit-node/, 'prints how to enable it');
  t.match(c.out.join(''), /useradd --system .* credit-node/);
  if (hasSystemdAnalyze) {
    const v = spawnSync('systemd-analyze', ['verify', out], { encoding: 'utf8' });
    t.equal(v.status, 0, `systemd-analyze verify: ${v.stderr}`);
  } else t.comment('systemd-analyze is not installed: unit not verified');
});

t.test('hub install-service lets the hub write its data directory and its caDir only', async (t) => {
  const hubConfig = join(dir, 'hub.json');
  writeFileSync(hubConfig, JSON.stringify({ dataDir: join(dir, 'hub-data'), caDir: join(dir, 'ca'), listen: { host: '127.0.0.1', port: 0 }, hosts: ['127.0.0.1'] }));
  t.equal(await main(['ca', 'init', '--dir', join(dir, 'ca')], capture().io), 0);
  const out = join(dir, 'units', 'credit-hub.service');
  const c = capture();
  t.equal(await main(['hub', 'install-service', '--config', hubConfig, '--out', out], c.io), 0, c.err.join(''));
  const unit = unitLines(readFileSync(out, 'utf8'));
  t.equal(unit.get('ExecStart'), `${process.execPath} ${CREDIT_BIN} hub start --config ${hubConfig}`);
  t.equal(unit.get('ReadWritePaths'), `${join(dir, 'hub-data')} ${join(dir, 'ca')}`);
  t.equal(unit.get('User'), 'credit');
  if (hasSystemdAnalyze) t.equal(spawnSync('systemd-analyze', ['verify', out]).status, 0);
});

t.test('install-service refuses paths systemd would split, and bad user names (ERR_USAGE)', async (t) => {
  const spaced = join(dir, 'with space');
  const cfg = join(dir, 'spaced.json');
  writeFileSync(cfg, JSON.stringify({ nodeId: '430100', dataDir: spaced, listen: { host: '127.0.0.1', port: 0 } }));
  let c = capture();
  t.equal(await main(['node', 'install-service', '--config', cfg, '--out', join(dir, 'x.service')], c.io), 2);
  t.match(c.err.join(''), /ERR_USAGE.*without spaces/);
  c = capture();
  t.equal(await main(['node', 'install-service', '--config', nodeConfig, '--out', join(dir, 'x.service'), '--user', 'Root;rm'], c.io), 2);
  t.match(c.err.join(''), /ERR_USAGE.*--user/);
  t.notOk(existsSync(join(dir, 'x.service')), 'nothing written');
});

t.test('SIGTERM to the process the unit runs shuts the node down gracefully', async (t) => {
  const logFile = join(dir, 'node.log');
  const server = await startServer('node', ['node', 'start', '--config', nodeConfig], { logFile });
  const port = Number(new URL(server.url).port);
  const health = await fetch(`${server.url}/healthz`);
  t.equal(health.status, 200);
  t.ok(existsSync(join(dir, 'node-data', DATADIR_LOCK)), 'the data directory is locked while it runs');
  t.equal(await server.stop(), 0, 'exit code 0');
  const log = readFileSync(logFile, 'utf8');
  t.match(log, /"signal":"SIGTERM".*shutting down/);
  t.notMatch(log, /shutdown failed|timed out/);
  t.notOk(existsSync(join(dir, 'node-data', DATADIR_LOCK)), 'the data-directory lock is released');
  t.notOk(existsSync(join(dir, 'node-data', 'node.sqlite-wal')), 'SQLite closed cleanly (its WAL checkpointed and removed)');
  const probe = createServer();
  probe.listen(port, '127.0.0.1');
  await once(probe, 'listening');
  t.pass(`port ${port} is free again`);
  probe.close();
});
