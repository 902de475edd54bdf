/**
 * Outstanding enrolment tokens (issue 13, item 15): revoking a node cancels them, so a token made
 * before the revoke cannot re-admit it (ERR_TOKEN_CANCELLED); `credit hub tokens` lists tokens and
 * `credit hub tokens cancel --node ID` cancels a node's unused ones.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { initCaDir } from '../../certs/ca-dir.js';
import { enrol } from '../../certs/issue.js';
import { createNodeKeys } from '../../certs/node-keys.js';
import { connect } from '../../audit/knex-connect.js';
import { openHubCa } from '../../hub/ca-store.js';
import { revokeNode } from '../../hub/enrolment-service.js';
import { migrateHub } from '../../hub/migrations.js';
import { main } from '../../scripts/cli.js';
import { engines } from '../helpers/db.js';
import { hubFixture } from './fixture.js';

for (const engine of await engines()) {
  t.test(`revoking a node cancels its outstanding tokens (${engine.name})`, async (t) => {
    const f = await hubFixture(t, { engine });
    const ctx = f.hub.app.hubCtx;
    await f.enrol('430100', 3);
    const spare = await f.token('430100', 3);
    await revokeNode(ctx.db, ctx.ca, { nodeId: '430100', reason: 'keyCompromise' });
    const again = await f.call(f.anonymous, 'POST', '/v1/enroll', { token: spare, csrPem: createNodeKeys('430100').csrPem });
    t.equal(again.status, 401);
    t.equal(again.json.code, 'ERR_TOKEN_CANCELLED', 'a token made before the revoke does not re-admit the node');
    const fresh = await f.token('430100', 3);
    const back = await f.call(f.anonymous, 'POST', '/v1/enroll', { token: fresh, csrPem: createNodeKeys('430100').csrPem });
    t.equal(back.status, 200, 'a token made after the revoke does');
  });
}

t.test('credit hub tokens: list, cancel, --help', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'hub-tokens-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  await initCaDir(join(dir, 'ca'), { cn: 'Test Provincial Credit CA (tokens)' });
  const configFile = join(dir, 'hub.json');
  writeFileSync(configFile, JSON.stringify({ dataDir: join(dir, 'data'), caDir: 'ca', listen: { host: '127.0.0.1', port: 0 } }));
  const saved = process.env['DATABASE_URL'];
  delete process.env['DATABASE_URL'];
  t.teardown(() => void (saved === undefined ? undefined : (process.env['DATABASE_URL'] = saved)));
  const cli = async (args: string[]) => {
    let out = '';
    let err = '';
    const code = await main(['hub', ...args], { stdout: (s) => void (out += s), stderr: (s) => void (err += s) });
    return { code, out, err };
  };

  // admin commands never create a hub store (issue 13 item 18): make it as the hub does at its first start
  mkdirSync(join(dir, 'data'), { recursive: true });
  const made = await connect(join(dir, 'data', 'hub.sqlite'));
  await migrateHub(made);
  await made.destroy();
  const a = (await cli(['token', '--config', configFile, '--node', '430700', '--grade', '2'])).out.trim();
  const b = (await cli(['token', '--config', configFile, '--node', '430700', '--grade', '2'])).out.trim();
  const c = (await cli(['token', '--config', configFile, '--node', '430181', '--grade', '3'])).out.trim();
  t.match(a, /^cf1_/);

  const listed = await cli(['tokens', '--config', configFile]);
  t.equal(listed.code, 0, listed.err);
  t.match(listed.out, /NODE\s+GRADE\s+STATUS/);
  t.equal(listed.out.split('\n').filter((l) => /^430700 .*outstanding/.test(l)).length, 2);
  t.notMatch(listed.out, /cf1_/, 'tokens themselves are never shown');

  const cancelled = await cli(['tokens', 'cancel', '--config', configFile, '--node', '430700']);
  t.equal(cancelled.code, 0, cancelled.err);
  t.match(cancelled.out, /cancelled 2 enrolment tokens? of node 430700/);
  const json = JSON.parse((await cli(['tokens', '--config', configFile, '--json'])).out) as { nodeId: string; status: string }[];
  t.same(json.map((r) => `${r.nodeId} ${r.status}`).sort(), ['430181 outstanding', '430700 cancelled', '430700 cancelled']);

  const db = await connect(join(dir, 'data', 'hub.sqlite'));
  t.teardown(() => db.destroy());
  const ca = openHubCa(db, join(dir, 'ca'));
  for (const token of [a, b]) await t.rejects(enrol(ca, { token, csrPem: createNodeKeys('430700').csrPem }), { code: 'ERR_TOKEN_CANCELLED' });
  t.equal((await enrol(ca, { token: c, csrPem: createNodeKeys('430181').csrPem })).nodeId, '430181', "another node's token is untouched");

  const help = await cli(['tokens', '--help']);
  t.equal(help.code, 0);
  t.match(help.out, /credit hub tokens \[cancel\]/);
  t.match(help.out, /--node ID/);
  t.equal((await cli(['tokens', 'cancel', '--config', configFile])).code, 2, 'cancel needs --node');
  t.equal((await cli(['tokens', 'purge', '--config', configFile])).code, 2, 'unknown action');
});
