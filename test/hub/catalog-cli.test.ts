/**
 * `credit hub catalog publish|show` against a hub's own store (DATADIR/hub.sqlite, the hub running
 * in process): the README's commands as written, the serial they print, what GET /v1/catalog then
 * serves, and hostile draft files refused with their codes and nothing stored.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { Agent, request } from 'undici';
import { initCaDir } from '../../certs/ca-dir.js';
import { loadHubConfig } from '../../hub/config.js';
import { openExistingHubStore } from '../../hub/admin-store.js';
import { startHub } from '../../hub/server.js';
import { installProvinceCatalog } from '../../protocol/catalog-registry.js';
import { main } from '../../scripts/cli.js';

const dir = mkdtempSync(join(tmpdir(), 'hub-catalog-cli-'));
const configFile = join(dir, 'hub.json');
writeFileSync(configFile, JSON.stringify({ dataDir: join(dir, 'data'), caDir: 'ca', listen: { host: '127.0.0.1', port: 0 }, rateLimit: { enabled: false }, logLevel: 'silent' }));

async function run(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(args, { stdout: (s) => void out.push(s), stderr: (s) => void err.push(s) });
  return { code, out: out.join(''), err: err.join('') };
}

t.test('publish and show a province catalog from the command line', async (t) => {
  const { certPem: caCertPem } = await initCaDir(join(dir, 'ca'), { cn: 'Test Provincial Credit CA (catalog cli)' });
  const hub = await startHub({ config: loadHubConfig(configFile) });
  const agent = new Agent({ connect: { ca: [caCertPem] } });
  t.teardown(async () => {
    await agent.close();
    await hub.close();
    installProvinceCatalog(null);
    rmSync(dir, { recursive: true, force: true });
  });
  const none = await run(['hub', 'catalog', 'show', '--config', configFile]);
  t.equal(none.code, 1);
  t.match(none.err, /no province catalog published yet/);

  const pub = await run(['hub', 'catalog', 'publish', '--config', configFile, '--file', 'docs/examples/province-catalog.json']);
  t.equal(pub.code, 0, pub.err);
  t.match(pub.out, /^published province catalog serial 1 \(\S+Z\): 2 type\(s\) XZQZ, JYYC\nsha256 [0-9a-f]{64}\n$/);
  const shown = await run(['hub', 'catalog', 'show', '--config', configFile]);
  t.equal(JSON.parse(shown.out).body.serial, 1);
  const res = await request(`${hub.url}/v1/catalog`, { dispatcher: agent });
  t.equal(res.statusCode, 200);
  t.equal(await res.body.text(), shown.out.trimEnd(), 'the running hub serves what was published');

  const redefine = join(dir, 'redefine.json');
  const example = JSON.parse(readFileSync('docs/examples/province-catalog.json', 'utf8')) as { types: { code: string }[] };
  example.types[0]!.code = 'XK';
  writeFileSync(redefine, JSON.stringify(example));
  const r1 = await run(['hub', 'catalog', 'publish', '--config', configFile, '--file', redefine]);
  t.equal(r1.code, 1);
  t.match(r1.err, /ERR_CATALOG_TYPE_REDEFINED/, 'XK is a national type');
  const dup = join(dir, 'dup.json');
  writeFileSync(dup, '{"title":"一","title":"二","types":[]}');
  t.match((await run(['hub', 'catalog', 'publish', '--config', configFile, '--file', dup])).err, /ERR_CATALOG_INVALID/, 'a member name twice');
  const big = join(dir, 'big.json');
  writeFileSync(big, JSON.stringify({ title: 'x'.repeat(1024 * 1024 + 1), types: [] }));
  t.match((await run(['hub', 'catalog', 'publish', '--config', configFile, '--file', big])).err, /ERR_CATALOG_TOO_LARGE/);
  t.equal(JSON.parse((await run(['hub', 'catalog', 'show', '--config', configFile])).out).body.serial, 1, 'nothing else stored');

  // issue 16 item 6: the publication and each refused draft are operator actions in the hub's log
  const db = await openExistingHubStore(loadHubConfig(configFile));
  const log = (await db('audit_log').where({ action: 'catalog.publish' }).orderBy('seq')) as { actor: string; object: string; outcome: string; reason: string }[];
  await db.destroy();
  t.match(log.map((e) => [e.outcome, e.object, e.reason]), [
    ['success', 'catalog:1', /^types=XZQZ,JYYC sha256=[0-9a-f]{64} src=/],
    ['failure', 'file:redefine.json', /^ERR_CATALOG_TYPE_REDEFINED src=/],
    ['failure', 'file:dup.json', /^ERR_CATALOG_INVALID src=/],
    ['failure', 'file:big.json', /^ERR_CATALOG_TOO_LARGE src=/],
  ]);
  t.ok(log.every((e) => /^cli:.+@/.test(e.actor)), 'by the command-line operator');
});
