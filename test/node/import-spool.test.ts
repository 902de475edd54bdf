/**
 * The XLSX import's spool (node/import-spool.ts): worksheets waiting on disk are ciphertext under a
 * key only the process holds, and a node starting removes what a crashed one left — its own user's
 * directories of processes that no longer run, nothing else.
 */
import t from 'tap';
import { privateTmp } from '../helpers/private-tmp.js';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import ExcelJS from 'exceljs';
import { openSpool, sweepSpools } from '../../node/import-spool.js';
import { xlsxRowGroups } from '../../node/import-xlsx.js';
import { buildConfig } from '../../node/config.js';
import { startNode } from '../../node/server.js';

const root = privateTmp(t, 'credit-test-spool-');

const SECRET = '张三丰 430102198506010123';

/** Every file under the spool root, its bytes. */
function onDisk(): Buffer[] {
  const out: Buffer[] = [];
  for (const name of readdirSync(root, { recursive: true }) as string[]) {
    const p = join(root, name);
    if (statSync(p).isFile()) out.push(readFileSync(p));
  }
  return out;
}

t.test('a spooled file is ciphertext on disk (0600 in a 0700 directory) and reads back as written', async (t) => {
  const spool = await openSpool();
  const text = `<row>${SECRET}</row>`.repeat(5000);
  await spool.put('0.xml', Readable.from([Buffer.from(text)]));
  const [dir] = readdirSync(root);
  t.match(dir, new RegExp(`^credit-xlsx-${process.pid}-${Math.round(performance.timeOrigin)}-`), 'named for the process and its start');
  t.equal(statSync(join(root, dir!)).mode & 0o777, 0o700);
  t.equal(statSync(join(root, dir!, '0.xml')).mode & 0o777, 0o600);
  const raw = onDisk();
  t.equal(raw.length, 1);
  t.equal(raw[0]!.length, Buffer.byteLength(text), 'CTR: as long as the text');
  t.notOk(raw[0]!.includes(Buffer.from('张三丰')) || raw[0]!.includes(Buffer.from('<row>')), 'no plaintext on disk');
  const back: Buffer[] = [];
  for await (const c of spool.get('0.xml')) back.push(c as Buffer);
  t.equal(Buffer.concat(back).toString(), text);
  const again = await openSpool();
  await again.put('0.xml', Readable.from([Buffer.from(text)]));
  const two = onDisk();
  t.notSame(two[0], two[1], 'each file has its own key and counter');
  await again.remove();
  await spool.drop('0.xml');
  t.throws(() => spool.get('0.xml'), /no spooled file/);
  await spool.remove();
  t.same(readdirSync(root), []);
});

t.test('while an import reads the first sheet, the later one waits on disk in ciphertext', async (t) => {
  const wb = new ExcelJS.Workbook();
  for (const name of ['第一页', '第二页']) {
    const ws = wb.addWorksheet(name);
    for (let i = 0; i < 300; i++) ws.addRow([`${name}${SECRET}`, i]);
  }
  const buf = Buffer.from(await wb.xlsx.writeBuffer()); // exceljs's order: worksheets before the shared strings, so both are spooled
  const gen = xlsxRowGroups(Readable.from([buf]));
  const first = await gen.next();
  t.equal((first.value as { fields: string[] }[])[0]!.fields[0], `第一页${SECRET}`);
  const raw = onDisk();
  t.ok(raw.length >= 1, `${raw.length} file(s) spooled`);
  for (const b of raw) t.notOk(b.includes(Buffer.from('第二页')) || b.includes(Buffer.from('<row')), 'no worksheet XML in clear');
  await gen.return(undefined);
  t.same(readdirSync(root), [], 'removed when the read ends');
});

/** The pid of a process that has ended. */
function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  return Number(r.stdout);
}

t.test("sweepSpools: the directories of processes that ended go, a live process's and anything else stay", async (t) => {
  const dead = deadPid();
  const make = (name: string) => {
    mkdirSync(join(root, name));
    writeFileSync(join(root, name, '0.xml'), 'ciphertext');
  };
  make(`credit-xlsx-${dead}-aaaaaa`);
  const started = Math.round(performance.timeOrigin);
  make(`credit-xlsx-${process.pid}-${started}-bbbbbb`); // this process: an import under way
  make(`credit-xlsx-${process.pid}-${started - 60_000}-gggggg`); // an earlier process of the same pid (a container's pid 1)
  make('credit-xlsx-1-cccccc'); // pid 1 runs
  make('credit-xlsx-dddddd'); // no pid: not ours to judge
  make(`other-${dead}-eeeeee`);
  writeFileSync(join(root, `credit-xlsx-${dead}-file`), 'not a directory');
  const r = await sweepSpools();
  t.same(r, { removed: 2, failed: [] });
  t.same(readdirSync(root).sort(), [`credit-xlsx-${process.pid}-${started}-bbbbbb`, `credit-xlsx-${dead}-file`, 'credit-xlsx-1-cccccc', 'credit-xlsx-dddddd', `other-${dead}-eeeeee`].sort());
  for (const name of readdirSync(root)) rmSync(join(root, name), { recursive: true, force: true });
});

t.test('a node starting sweeps what a crashed node left', async (t) => {
  const dead = deadPid();
  mkdirSync(join(root, `credit-xlsx-${dead}-ffffff`));
  const dir = mkdtempSync(join(root, 'node-'));
  const node = await startNode({ config: buildConfig({ nodeId: '430100', dataDir: join(dir, 'data'), listen: { host: '127.0.0.1', port: 0 }, logLevel: 'silent', disclosureJob: { intervalMinutes: 0 } }, {}) });
  t.teardown(() => node.close());
  t.same(readdirSync(root), [dir.slice(root.length + 1)], 'the dead process\'s spool is gone');
});
