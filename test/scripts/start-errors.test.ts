/**
 * Start-up failures (issue 17 item 7): one line with a code and the fix, no stack trace, and
 * nothing changed on disk before the start fails — the hub no longer issues its certificate and
 * creates its store before finding its port taken.
 */
import t, { type Test } from 'tap';
import { once } from 'node:events';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../../scripts/cli.js';
import { credit } from '../../scripts/demo/processes.js';

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  return { io: { stdout: (s: string) => void out.push(s), stderr: (s: string) => void err.push(s) }, out, err };
}

const dir = mkdtempSync(join(tmpdir(), 'start-errors-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

async function occupiedPort(t: Test): Promise<number> {
  const server: Server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.teardown(() => new Promise<void>((r) => server.close(() => r())));
  return (server.address() as { port: number }).port;
}

function oneLine(t: Test, err: string, code: RegExp): void {
  t.match(err, code);
  t.equal(err.trim().split('\n').length, 1, 'one line');
  t.notMatch(err, /\n\s+at /, 'no stack trace');
}

t.test('node start on a busy port: ERR_PORT_IN_USE, no store created', async (t) => {
  const port = await occupiedPort(t);
  const dataDir = join(dir, 'node-busy');
  const configFile = join(dir, 'node-busy.json');
  writeFileSync(configFile, JSON.stringify({ nodeId: '430100', dataDir, listen: { host: '127.0.0.1', port } }));
  const c = capture();
  t.equal(await main(['node', 'start', '--config', configFile], c.io), 1);
  oneLine(t, c.err.join(''), new RegExp(`^error ERR_PORT_IN_USE: 127\\.0\\.0\\.1:${port} is already in use by another process: stop it .* or set listen\\.port`));
  t.notOk(existsSync(join(dataDir, 'node.sqlite')), 'no store created');
  t.notOk(existsSync(join(dataDir, '.datadir.lock')), 'no lock left');
});

t.test('hub start on a busy port: ERR_PORT_IN_USE before any certificate is issued or store made', async (t) => {
  const caDir = join(dir, 'ca');
  t.equal(await main(['ca', 'init', '--dir', caDir], capture().io), 0);
  const port = await occupiedPort(t);
  const dataDir = join(dir, 'hub-busy');
  const configFile = join(dir, 'hub-busy.json');
  writeFileSync(configFile, JSON.stringify({ dataDir, caDir, listen: { host: '127.0.0.1', port }, hosts: ['127.0.0.1'] }));
  const c = capture();
  t.equal(await main(['hub', 'start', '--config', configFile], c.io), 1);
  oneLine(t, c.err.join(''), /^error ERR_PORT_IN_USE: /);
  t.notOk(existsSync(join(dataDir, 'hub.pem')), 'no hub certificate issued');
  t.notOk(existsSync(join(dataDir, 'hub.sqlite')), 'no hub store created');
});

t.test('node start on a file that is not a database: ERR_DATABASE_UNREACHABLE, the file untouched', async (t) => {
  const dataDir = join(dir, 'node-notadb');
  const configFile = join(dir, 'node-notadb.json');
  writeFileSync(configFile, JSON.stringify({ nodeId: '430100', dataDir, listen: { host: '127.0.0.1', port: 0 } }));
  t.equal(await main(['node', 'migrate', '--config', configFile, '--dry-run'], capture().io), 0); // creates dataDir only
  const junk = 'this is a spreadsheet, not a database\n'.repeat(200);
  writeFileSync(join(dataDir, 'node.sqlite'), junk);
  const c = capture();
  t.equal(await main(['node', 'start', '--config', configFile], c.io), 1);
  oneLine(t, c.err.join(''), /^error ERR_DATABASE_UNREACHABLE: cannot open the store .*node\.sqlite \(SQLITE_NOTADB\): the file is not a SQLite database/);
  t.equal(readFileSync(join(dataDir, 'node.sqlite'), 'utf8'), junk, 'the file is unchanged');
});

t.test('a PostgreSQL that refuses: ERR_DATABASE_UNREACHABLE without the password, from the real process', async (t) => {
  const configFile = join(dir, 'node-pg.json');
  writeFileSync(configFile, JSON.stringify({ nodeId: '430100', dataDir: join(dir, 'node-pg'), listen: { host: '127.0.0.1', port: 0 }, databaseUrl: 'postgres://postgres:s3cret@127.0.0.1:1/test' }));
  const r = await credit(['node', 'start', '--config', configFile]);
  t.equal(r.code, 1);
  oneLine(t, r.stderr, /^error ERR_DATABASE_UNREACHABLE: cannot open the store postgres:\/\/postgres:\*\*\*@127\.0\.0\.1:1\/test \(ECONNREFUSED\): check that PostgreSQL is running/);
  t.notMatch(r.stderr, /s3cret/);
});

/** Every file under `root` (relative path → contents), or null when `root` is absent. */
function snapshot(root: string): Record<string, string> | null {
  if (!existsSync(root)) return null;
  const out: Record<string, string> = {};
  const walk = (rel: string): void => {
    for (const e of readdirSync(join(root, rel), { withFileTypes: true })) {
      const p = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) {
        out[`${p}/`] = '';
        walk(p);
      } else out[p] = readFileSync(join(root, p)).toString('base64');
    }
  };
  walk('');
  return out;
}

const REFUSING_PG = 'postgres://postgres@127.0.0.1:1/test';

for (const what of ['node', 'hub'] as const) {
  for (const failure of ['ERR_PORT_IN_USE', 'ERR_DATABASE_UNREACHABLE'] as const) {
    t.test(`${what} start failing with ${failure} leaves the data directory as it was`, async (t) => {
      const caDir = join(dir, `ca-${what}-${failure}`);
      if (what === 'hub') t.equal(await main(['ca', 'init', '--dir', caDir], capture().io), 0);
      const port = failure === 'ERR_PORT_IN_USE' ? await occupiedPort(t) : 0;
      const base = { listen: { host: '127.0.0.1', port }, ...(failure === 'ERR_DATABASE_UNREACHABLE' ? { databaseUrl: REFUSING_PG } : {}) };
      const config = (dataDir: string) => (what === 'node' ? { nodeId: '430100', dataDir, ...base } : { dataDir, caDir, hosts: ['127.0.0.1'], ...base });
      const refused = async (dataDir: string): Promise<void> => {
        const configFile = join(dir, `${what}-${failure}-${Math.random().toString(36).slice(2)}.json`);
        writeFileSync(configFile, JSON.stringify(config(dataDir)));
        const c = capture();
        t.equal(await main([what, 'start', '--config', configFile], c.io), 1);
        t.match(c.err.join(''), new RegExp(`^error ${failure}: `));
      };

      const absent = join(dir, `${what}-${failure}-absent`, 'data');
      await refused(absent);
      t.equal(snapshot(join(dir, `${what}-${failure}-absent`)), null, 'an absent data directory (and its parent) stays absent');

      const existing = join(dir, `${what}-${failure}-existing`);
      mkdirSync(existing, { mode: 0o755 });
      writeFileSync(join(existing, 'notes.txt'), 'kept as it is\n');
      const before = snapshot(existing);
      await refused(existing);
      t.same(snapshot(existing), before, 'an existing data directory has the same files with the same contents');
    });
  }
}
