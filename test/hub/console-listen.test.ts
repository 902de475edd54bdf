/**
 * `console.listen` in the hub config (issue 20 item 1): absent → no console; present → defaults
 * filled, relative TLS paths resolved; `credit hub start` serves the console on its own listener
 * (HTTPS with the hub's certificate unless console.listen.tls names another; plain HTTP only with
 * allowPlaintext, warned), logs its URL as `consoleUrl` and stops it with the hub.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import t from 'tap';
import { Agent, request } from 'undici';
import { initCaDir } from '../../certs/ca-dir.js';
import { buildHubConfig, loadHubConfig } from '../../hub/config.js';
import { startHub } from '../../hub/server.js';

const dir = mkdtempSync(join(tmpdir(), 'hub-console-listen-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const caDir = join(dir, 'ca');
await initCaDir(caDir, { cn: 'Test Provincial Credit CA (console listen)' });
const insecure = new Agent({ connect: { rejectUnauthorized: false } });
t.teardown(() => insecure.close());

t.test('config: no console unless asked for; defaults; relative TLS paths', async (t) => {
  t.equal(buildHubConfig({ dataDir: join(dir, 'd0'), caDir }, {}).console, undefined, 'absent: no console listener');
  const c = buildHubConfig({ dataDir: join(dir, 'd0'), caDir, console: {} }, {});
  t.same(c.console, { listen: { host: '127.0.0.1', port: 8444, allowPlaintext: false } });
  t.ok(Object.isFrozen(c.console!.listen));
  const file = join(dir, 'hub.json');
  writeFileSync(file, JSON.stringify({ dataDir: 'd1', caDir: 'ca', console: { listen: { host: '0.0.0.0', port: 9444, tls: { certFile: 'tls/c.pem', keyFile: 'tls/c.key' } } } }));
  t.same(loadHubConfig(file, {}).console, { listen: { host: '0.0.0.0', port: 9444, allowPlaintext: false, tls: { certFile: join(dir, 'tls/c.pem'), keyFile: join(dir, 'tls/c.key') } } });
  t.throws(() => buildHubConfig({ dataDir: join(dir, 'd0'), caDir, console: { listen: { port: 'x' } } }, {}), { code: 'ERR_CONFIG_INVALID', message: /console\.listen\.port/ });
});

const logs = () => {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({ write(chunk, _e, cb) { for (const l of String(chunk).split('\n')) if (l) lines.push(JSON.parse(l) as Record<string, unknown>); cb(); } });
  return { lines, stream };
};

t.test('start: the console on its own listener with the hub certificate, its URL logged, stopped with the hub', async (t) => {
  const config = buildHubConfig({ dataDir: join(dir, 'd2'), caDir, listen: { host: '127.0.0.1', port: 0 }, console: { listen: { host: '127.0.0.1', port: 0 } }, rateLimit: { enabled: false } }, {});
  const log = logs();
  const hub = await startHub({ config, logStream: log.stream });
  t.match(hub.consoleUrl, /^https:\/\/127\.0\.0\.1:\d+$/);
  t.not(hub.consoleUrl, hub.url);
  const line = log.lines.find((l) => l.msg === 'provincial hub listening');
  t.equal(line?.consoleUrl, hub.consoleUrl, 'consoleUrl in the listening line');
  const page = await request(`${hub.consoleUrl}/login`, { dispatcher: insecure });
  t.equal(page.statusCode, 200);
  t.match(await page.body.text(), /运维控制台/);
  const api = await request(`${hub.url}/v1/operator/nodes`, { dispatcher: insecure });
  t.equal(api.statusCode, 401, 'the API stays on its own port');
  await api.body.dump();
  const consoleUrl = hub.consoleUrl!;
  await hub.close();
  await t.rejects(request(`${consoleUrl}/login`, { dispatcher: insecure }), 'stopped with the hub');
});

t.test('allowPlaintext without tls: plain HTTP, warned', async (t) => {
  const config = buildHubConfig({ dataDir: join(dir, 'd3'), caDir, listen: { host: '127.0.0.1', port: 0 }, console: { listen: { host: '127.0.0.1', port: 0, allowPlaintext: true } }, rateLimit: { enabled: false } }, {});
  const log = logs();
  const hub = await startHub({ config, logStream: log.stream });
  t.teardown(() => hub.close());
  t.match(hub.consoleUrl, /^http:\/\/127\.0\.0\.1:\d+$/);
  const page = await request(`${hub.consoleUrl}/login`);
  t.equal(page.statusCode, 200);
  await page.body.dump();
  t.ok(log.lines.some((l) => l.key === 'console.listen.allowPlaintext' && l.level === 40), 'a warning at start');
});
