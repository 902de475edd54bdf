/**
 * Encryption at rest at a running node (issue 21 item 5, done-when): after records of a natural
 * person are written, corrected and looked up through the API, neither the raw SQLite file and its
 * WAL nor the `sqlite3` CLI nor a raw SELECT on PostgreSQL shows the resident ID or a person's name.
 * A start without the key file (or with another store's) refuses with its code and changes nothing
 * on disk; a backup holds the store sealed and not the key file.
 */
import t from 'tap';
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Knex } from 'knex';
import { makeResidentId } from '../../protocol/identifiers.js';
import { buildConfig } from '../../node/config.js';
import { startNode } from '../../node/server.js';
import { backupNode } from '../../node/backup.js';
import { createKeyFile, fileKeyWrapper } from '../../server/at-rest-keys.js';
import { engines } from '../helpers/db.js';
import { connect } from '../../audit/knex-connect.js';
import { main } from '../../scripts/cli.js';
import { nodeFixture, record } from './app-fixture.js';

const PERSON_ID = makeResidentId({ division: '430102', birth: '1985-06-01', seq: 123 });
const NAME = '张三丰';
const REP = '李四光';
const person = (decisionNo: string, extra: Record<string, unknown> = {}) => record('CF', { decisionNo, subjectCategory: '自然人', subjectName: NAME, uscc: undefined, legalRep: undefined, idType: '身份证', idNumber: PERSON_ID, ...extra });
const SECRETS = [PERSON_ID, NAME, REP];

function leaks(bytes: Buffer): string[] {
  return SECRETS.filter((s) => bytes.includes(Buffer.from(s, 'utf8')));
}

async function allTables(db: Knex): Promise<string> {
  const rows = (await db.raw("select table_name from information_schema.tables where table_schema = current_schema() and table_type = 'BASE TABLE'")) as { rows: { table_name: string }[] };
  const out: unknown[] = [];
  for (const r of rows.rows) out.push(await db(r.table_name).select('*'));
  return JSON.stringify(out);
}

for (const engine of await engines()) {
  t.test(`no resident ID or person's name in clear in the store (${engine.name})`, async (t) => {
    const f = await nodeFixture(t, { engine });
    const submitter = await f.auth('submitter', 'shared');
    const created = await f.app.inject({ method: 'POST', url: '/v1/records', headers: submitter, payload: [person('AR-1'), person('AR-2'), record('CF', { decisionNo: 'AR-3', legalRep: REP })] });
    t.equal(created.statusCode, 201);
    const corrected = await f.app.inject({ method: 'POST', url: '/v1/records', headers: submitter, payload: person('AR-1', { content: `${NAME}（身份证号 ${PERSON_ID}）未按规定经营` }) });
    t.equal(corrected.json().versions, 1, 'a correction: versions kept');
    const found = await f.app.inject({ method: 'GET', url: `/v1/subjects/${PERSON_ID}`, headers: await f.auth('query', 'shared') });
    t.equal(found.json().records.length, 2, 'the subject lookup finds the person\'s records (blind index)');
    t.equal(found.json().records.find((r: { fields: { content: string } }) => r.fields.content.includes('未按规定')).fields.subjectName, NAME, 'opened for the caller');

    if (engine.name === 'sqlite') {
      const file = (f.db.client as { config: { connection: { filename: string } } }).config.connection.filename;
      const raw = Buffer.concat([readFileSync(file), existsSync(`${file}-wal`) ? readFileSync(`${file}-wal`) : Buffer.alloc(0)]);
      t.ok(raw.length > 0);
      t.same(leaks(raw), [], 'raw bytes of the file and its WAL');
      const dump = execFileSync('sqlite3', [file, '.dump'], { encoding: 'utf8' });
      t.ok(dump.includes('CFE1.k1.'), 'sqlite3 shows sealed values');
      t.same(leaks(Buffer.from(dump)), [], 'sqlite3 .dump');
    } else {
      t.same(leaks(Buffer.from(await allTables(f.db))), [], 'raw SELECT * of every table');
    }
  });
}

function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of readdirSync(dir, { recursive: true }) as string[]) {
    const p = join(dir, name);
    if (statSync(p).isFile()) out[name] = createHash('sha256').update(readFileSync(p)).digest('hex');
  }
  return out;
}

t.test('start without the key file, or with another one: refused with the code, nothing changed on disk; backups leave the key out', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'at-rest-start-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const dataDir = join(dir, 'data');
  const config = () => buildConfig({ nodeId: '430100', dataDir, listen: { host: '127.0.0.1', port: 0 }, logLevel: 'silent', disclosureJob: { intervalMinutes: 0 } }, {});
  const first = await startNode({ config: config() });
  const keyFile = join(dataDir, 'data.key');
  t.equal(statSync(keyFile).mode & 0o777, 0o600, 'key file created at first start, 0600');
  const sub = await first.app.inject({ method: 'GET', url: '/healthz' });
  t.equal(sub.statusCode, 200, 'runs');
  await first.close();

  const out = join(dir, 'backup');
  await backupNode(config(), out);
  t.notOk(existsSync(join(out, 'data', 'data.key')), 'the backup has no key file');
  t.ok(existsSync(join(out, 'data', 'subject.key')), 'it has the other data-directory files');

  renameSync(keyFile, join(dir, 'data.key.saved'));
  const before = snapshot(dataDir);
  const missing = await startNode({ config: config() }).then(() => 'started', (e: { code: string }) => e.code);
  t.equal(missing, 'ERR_DATA_KEY_MISSING');
  t.same(snapshot(dataDir), before, 'nothing changed on disk (no new key file, store untouched)');

  await createKeyFile(keyFile, fileKeyWrapper);
  const before2 = snapshot(dataDir);
  t.equal(await startNode({ config: config() }).then(() => 'started', (e: { code: string }) => e.code), 'ERR_DATA_KEY_WRONG', 'another key file');
  t.same(snapshot(dataDir), before2, 'nothing changed on disk');

  copyFileSync(join(dir, 'data.key.saved'), keyFile);
  const again = await startNode({ config: config() });
  await again.close();
  t.pass('its own key file: starts');

  // `credit node rekey`: a new generation, every row re-sealed, audited; the node starts on it
  const configFile = join(dir, 'node.json');
  writeFileSync(configFile, JSON.stringify({ nodeId: '430100', dataDir, listen: { host: '127.0.0.1', port: 0 }, logLevel: 'silent', disclosureJob: { intervalMinutes: 0 } }));
  const said: string[] = [];
  const err: string[] = [];
  t.equal(await main(['node', 'rekey', '--config', configFile], { stdout: (x: string) => void said.push(x), stderr: (x: string) => void err.push(x) }), 0, err.join(''));
  t.match(said.join(''), /rotated to key k2/);
  t.equal(JSON.parse(readFileSync(keyFile, 'utf8')).current, 'k2', 'the key file names k2');
  t.equal(statSync(keyFile).mode & 0o777, 0o600, 'still 0600');
  const db = await connect(join(dataDir, 'node.sqlite'));
  try {
    const audited = (await db('audit_log').where({ action: 'store.rekey' }).orderBy('seq')) as { reason: string; object: string }[];
    t.match(audited.map((a) => a.reason), [/^start from=k1 to=k2/, /^done from=k1 to=k2 rows=0/], 'audited, start and done');
  } finally {
    await db.destroy();
  }
  const rotated = await startNode({ config: config() });
  await rotated.close();
  t.pass('starts on k2');
});
