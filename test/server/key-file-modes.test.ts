/**
 * Secret key files that the group or others may read refuse the start (review of issue 18):
 * ERR_CONFIG_INVALID naming the file and the fix (chmod 600) — the node's jwt.secret, subject.key
 * and totp.key, and the hub's totp.key. Each file is made here with a wrong mode.
 */
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { initCaDir } from '../../certs/ca-dir.js';
import { buildHub } from '../../hub/app.js';
import { buildHubConfig } from '../../hub/config.js';
import { buildConfig, readConfig } from '../../node/config.js';
import { sqliteEngine } from '../helpers/db.js';

const secret = `${'k'.repeat(43)}\n`;

for (const file of ['jwt.secret', 'subject.key', 'totp.key']) {
  for (const mode of [0o640, 0o604, 0o644]) {
    t.test(`node: ${file} mode ${mode.toString(8)} refuses the start`, async (t) => {
      const dir = mkdtempSync(join(tmpdir(), 'node-keymode-'));
      t.teardown(() => rmSync(dir, { recursive: true, force: true }));
      const raw = { nodeId: '430100', dataDir: join(dir, 'data'), listen: { host: '127.0.0.1', port: 0 } };
      buildConfig(raw, {}); // the data directory and its key files, 0600
      const path = join(dir, 'data', file);
      writeFileSync(path, secret);
      chmodSync(path, mode);
      let err: { code?: string; message?: string } = {};
      try {
        readConfig(raw, {});
      } catch (e) {
        err = e as typeof err;
      }
      t.equal(err.code, 'ERR_CONFIG_INVALID');
      t.match(err.message, path, 'names the file');
      t.match(err.message, /chmod 600/, 'says the fix');
      chmodSync(path, 0o600);
      t.doesNotThrow(() => readConfig(raw, {}), '0600 is accepted');
    });
  }
}

t.test('hub: totp.key mode 0640 refuses the start', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'hub-keymode-'));
  const store = await sqliteEngine.open();
  t.teardown(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const caDir = join(dir, 'ca');
  await initCaDir(caDir, { cn: 'Test Provincial Credit CA (key modes)' });
  const dataDir = join(dir, 'data');
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const path = join(dataDir, 'totp.key');
  writeFileSync(path, secret);
  chmodSync(path, 0o640);
  const config = buildHubConfig({ dataDir, caDir, listen: { host: '127.0.0.1', port: 0 }, rateLimit: { enabled: false }, logLevel: 'silent' }, {});
  const err = await buildHub({ config, db: store.db }).then(async (app) => {
    await app.close();
    return {} as { code?: string; message?: string };
  }, (e: { code?: string; message?: string }) => e);
  t.equal(err.code, 'ERR_CONFIG_INVALID');
  t.match(err.message, path, 'names the file');
  t.match(err.message, /chmod 600/, 'says the fix');
});
