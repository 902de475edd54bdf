/**
 * Transport (issue 18 item 6): a node listening beyond loopback without TLS refuses to start
 * (ERR_PLAINTEXT_LISTEN) unless listen.allowPlaintext is true, and then warns at every start;
 * loopback stays allowed.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import t from 'tap';
import { buildConfig } from '../../node/config.js';
import { isLoopback, startNode } from '../../node/server.js';

const config = (dir: string, listen: Record<string, unknown>) =>
  buildConfig({ nodeId: '430100', dataDir: join(dir, 'data'), listen: { port: 0, ...listen }, logLevel: 'warn', disclosureJob: { intervalMinutes: 0 } }, {});

t.test('loopback addresses', async (t) => {
  for (const h of ['127.0.0.1', '127.8.9.10', '::1', '[::1]', 'localhost', 'LOCALHOST']) t.ok(isLoopback(h), h);
  for (const h of ['0.0.0.0', '::', '10.0.0.7', '192.168.1.2', 'node.example', '128.0.0.1', '127.0.0.1.example']) t.notOk(isLoopback(h), h);
});

t.test('plain HTTP beyond loopback is refused before anything is written', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'node-plain-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  for (const host of ['0.0.0.0', '::']) {
    await t.rejects(startNode({ config: config(dir, { host }) }), { code: 'ERR_PLAINTEXT_LISTEN', details: { key: 'listen', host } }, host);
  }
  t.notOk(existsSync(join(dir, 'data', 'node.sqlite')), 'no store was created');
});

t.test('listen.allowPlaintext: it starts, and warns at every start', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'node-plain-ok-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  for (let i = 0; i < 2; i++) {
    const lines: string[] = [];
    const logStream = new Writable({ write: (c, _e, cb) => (lines.push(String(c)), cb()) });
    const node = await startNode({ config: config(dir, { host: '0.0.0.0', allowPlaintext: true }), logStream });
    await node.close();
    t.ok(lines.some((l) => /"level":40/.test(l) && l.includes('listen.allowPlaintext')), `start ${i + 1}: warned`);
  }
});

t.test('loopback without TLS starts without a warning', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'node-loop-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const lines: string[] = [];
  const logStream = new Writable({ write: (c, _e, cb) => (lines.push(String(c)), cb()) });
  const node = await startNode({ config: config(dir, { host: '127.0.0.1' }), logStream });
  await node.close();
  t.notOk(lines.some((l) => l.includes('allowPlaintext')), 'no plaintext warning');
});

t.test('the web console: refused beyond loopback without TLS; on loopback it starts beside the API and stops with it', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'node-console-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const withConsole = (listen: Record<string, unknown>) =>
    buildConfig({ nodeId: '430100', dataDir: join(dir, 'data'), listen: { host: '127.0.0.1', port: 0 }, console: { listen: { port: 0, ...listen } }, logLevel: 'info', disclosureJob: { intervalMinutes: 0 } }, {});
  await t.rejects(startNode({ config: withConsole({ host: '0.0.0.0' }) }), { code: 'ERR_PLAINTEXT_LISTEN', details: { key: 'console.listen', host: '0.0.0.0' } });
  t.notOk(existsSync(join(dir, 'data', 'node.sqlite')), 'no store was created');
  const lines: string[] = [];
  const logStream = new Writable({ write: (c, _e, cb) => (lines.push(String(c)), cb()) });
  const node = await startNode({ config: withConsole({ host: '127.0.0.1' }), logStream });
  t.match(node.consoleUrl, /^http:\/\/127\.0\.0\.1:\d+$/);
  const listening = lines.map((l) => JSON.parse(l) as { msg: string; url?: string; consoleUrl?: string }).find((l) => l.msg === 'city node listening');
  t.equal(listening?.consoleUrl, node.consoleUrl, 'the listening line names the console');
  const login = await fetch(`${node.consoleUrl!}/login`);
  t.equal(login.status, 200);
  t.match(await login.text(), /动态口令/);
  await node.close();
  await t.rejects(fetch(`${node.consoleUrl!}/login`), new TypeError('fetch failed'), 'the console stopped with the node');
});
