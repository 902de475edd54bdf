import t from 'tap';
import { mkdtempSync, rmSync, statSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildConfig, loadConfig } from '../../node/config.js';

const dir = mkdtempSync(join(tmpdir(), 'node-config-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

function codeAndKey(fn: () => unknown): { code?: string; key?: string } {
  try {
    fn();
  } catch (e) {
    const err = e as { code?: string; details?: { key?: string } };
    return { code: err.code, key: err.details?.key };
  }
  return {};
}

t.test('the smallest config starts with every default filled in, frozen', async (t) => {
  const c = buildConfig({ nodeId: '430100', dataDir: join(dir, 'a'), listen: { host: '127.0.0.1', port: 0 } }, {});
  t.equal(c.nodeId, '430100');
  t.equal(c.databaseTarget, join(dir, 'a', 'node.sqlite'));
  t.equal(c.listen.port, 0);
  t.equal(c.bodyLimitBytes, 1048576);
  t.equal(c.importBatchSize, 1000);
  t.same(c.rateLimit, { enabled: true, max: 1200, timeWindowMs: 60000 });
  t.equal(c.disclosureJob.intervalMinutes, 60);
  t.ok(Object.isFrozen(c) && Object.isFrozen(c.listen), 'frozen');
  t.throws(() => ((c as { nodeId: string }).nodeId = 'x'));
  t.equal(statSync(c.jwtSecretFile).mode & 0o777, 0o600, 'jwt secret is 0600');
  t.ok(c.jwtSecret.length >= 32);
  const again = buildConfig({ nodeId: '430100', dataDir: join(dir, 'a') }, {});
  t.same(again.jwtSecret, c.jwtSecret, 'the secret persists across starts');
  t.equal(again.listen.host, '127.0.0.1', 'loopback by default');
});

t.test('no console unless the config asks for one (the schema default once started one on 8481 in every node)', async (t) => {
  t.equal(buildConfig({ nodeId: '430100', dataDir: join(dir, 'c0'), listen: { host: '127.0.0.1', port: 0 } }, {}).console, undefined);
  const c = buildConfig({ nodeId: '430100', dataDir: join(dir, 'c1'), listen: { host: '127.0.0.1', port: 0 }, console: { listen: { host: '127.0.0.1' } } }, {});
  t.equal(c.console?.listen.port, 8481, 'asked for: its default port');
});

t.test('DATABASE_URL and CREDIT_LOG_LEVEL come from the environment through the same schema', async (t) => {
  const c = buildConfig({ nodeId: '430100', dataDir: join(dir, 'b') }, { DATABASE_URL: 'postgres://u@h/db', CREDIT_LOG_LEVEL: 'warn' });
  t.equal(c.databaseTarget, 'postgres://u@h/db');
  t.equal(c.logLevel, 'warn');
  t.same(codeAndKey(() => buildConfig({ nodeId: '430100', dataDir: join(dir, 'b') }, { DATABASE_URL: 'mysql://x' })), { code: 'ERR_CONFIG_INVALID', key: 'databaseUrl' });
  t.same(codeAndKey(() => buildConfig({ nodeId: '430100', dataDir: join(dir, 'b') }, { CREDIT_LOG_LEVEL: 'loud' })), { code: 'ERR_CONFIG_INVALID', key: 'logLevel' });
});

t.test('ERR_CONFIG_INVALID names the bad key', async (t) => {
  const base = { nodeId: '430100', dataDir: join(dir, 'c') };
  const cases: [unknown, string][] = [
    [{ dataDir: join(dir, 'c') }, 'nodeId'],
    [{ ...base, nodeId: '43010' }, 'nodeId'],
    [{ ...base, nodeId: '990100' }, 'nodeId'],
    [{ nodeId: '430100' }, 'dataDir'],
    [{ ...base, listen: { port: 70000 } }, 'listen.port'],
    [{ ...base, listen: { port: '8080' } }, 'listen.port'],
    [{ ...base, listen: { host: '' } }, 'listen.host'],
    [{ ...base, listen: { tls: { certFile: 'a.pem' } } }, 'listen.tls.keyFile'],
    [{ ...base, colour: 'red' }, 'colour'],
    [{ ...base, rateLimit: { max: 0 } }, 'rateLimit.max'],
    [{ ...base, rateLimit: { enabled: 'yes' } }, 'rateLimit.enabled'],
    [{ ...base, disclosureJob: { intervalMinutes: -1 } }, 'disclosureJob.intervalMinutes'],
    [[1, 2], '(root)'],
  ];
  for (const [raw, key] of cases) t.same(codeAndKey(() => buildConfig(raw, {})), { code: 'ERR_CONFIG_INVALID', key }, `${JSON.stringify(raw).slice(0, 70)} → ${key}`);
});

t.test('a short jwt secret file is refused', async (t) => {
  const f = join(dir, 'short.secret');
  writeFileSync(f, 'abc', { mode: 0o600 });
  t.same(codeAndKey(() => buildConfig({ nodeId: '430100', dataDir: join(dir, 'd'), jwtSecretFile: f }, {})), { code: 'ERR_CONFIG_INVALID', key: 'jwtSecretFile' });
});

t.test('loadConfig: file missing, not JSON, relative dataDir resolved against the file', async (t) => {
  t.same(codeAndKey(() => loadConfig(join(dir, 'nope.json'), {})), { code: 'ERR_CONFIG_INVALID', key: '(file)' });
  writeFileSync(join(dir, 'bad.json'), '{nodeId:');
  t.same(codeAndKey(() => loadConfig(join(dir, 'bad.json'), {})), { code: 'ERR_CONFIG_INVALID', key: '(file)' });
  writeFileSync(join(dir, 'ok.json'), JSON.stringify({ nodeId: '430181', dataDir: 'data-rel' }));
  const c = loadConfig(join(dir, 'ok.json'), {});
  t.equal(c.dataDir, join(dir, 'data-rel'));
  t.ok(readFileSync(join(dir, 'data-rel', 'jwt.secret'), 'utf8').length > 40);
});

t.test('severityDefaults: a map of type or type/category to a severity (issue 14 item 2)', async (t) => {
  const base = { nodeId: '430100', dataDir: join(dir, 'sev') };
  t.same(buildConfig(base, {}).severityDefaults, {}, 'empty by default');
  t.same(buildConfig({ ...base, severityDefaults: { CF: 'ordinary', 'CF/警告': 'minor' } }, {}).severityDefaults, { CF: 'ordinary', 'CF/警告': 'minor' });
  t.throws(() => buildConfig({ ...base, severityDefaults: { CF: '严重' } }, {}), { code: 'ERR_CONFIG_INVALID', details: { key: 'severityDefaults.CF' } });
});
