/**
 * `credit hub quality` and `credit node quality` in-process: JSON, CSV (the ranking with --ranking),
 * XLSX with both sheets, --node and --month; `credit hub quality register --set/--reset` replaces
 * the register of expected nodes (ERR_QUALITY_REGISTER_INVALID on a bad file), audited.
 */
import t from 'tap';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ExcelJS from 'exceljs';
import { exampleRecord } from '../../protocol/catalog.js';
import { uuidv7 } from '../../protocol/crypto.js';
import { initCaDir } from '../../certs/ca-dir.js';
import { buildHub } from '../../hub/app.js';
import { loadHubConfig } from '../../hub/config.js';
import { recordBatchQuality } from '../../hub/quality-intake.js';
import { main } from '../../scripts/cli.js';

const root = mkdtempSync(join(tmpdir(), 'quality-cli-'));
t.teardown(() => rmSync(root, { recursive: true, force: true }));
const savedDatabaseUrl = process.env.DATABASE_URL;
delete process.env.DATABASE_URL;
t.teardown(() => {
  if (savedDatabaseUrl !== undefined) process.env.DATABASE_URL = savedDatabaseUrl;
});

async function cli(...argv: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(argv, { stdout: (s) => void out.push(s), stderr: (s) => void err.push(s) });
  return { code, out: out.join(''), err: err.join('') };
}

t.test('credit hub quality', async (t) => {
  const caDir = join(root, 'ca');
  await initCaDir(caDir, { cn: 'Test Provincial Credit CA (quality)' });
  const configFile = join(root, 'hub.json');
  writeFileSync(configFile, JSON.stringify({ dataDir: 'data', caDir: 'ca', listen: { host: '127.0.0.1', port: 0 }, logLevel: 'silent' }));
  const app = await buildHub({ config: loadHubConfig(configFile) });
  const db = app.hubCtx.db;
  const fields = exampleRecord('CF').fields;
  const one = (node: string, ok: boolean) => ({ id: uuidv7(), type: 'CF', fields: { ...fields, decisionNo: uuidv7() }, first: true, ok, node });
  const items = [one('430100', true), one('430100', true), one('430100', false), one('430700', true)];
  for (const i of items) {
    await db.transaction((trx) => recordBatchQuality(trx, {
      node: i.node, batchId: uuidv7(), sentAt: '2026-10-12T01:59:59.000Z', receivedAt: '2026-10-12T02:00:00.000Z', ok: true,
      items: new Map([[i.id, { type: 'CF', fields: i.fields }]]), rejected: i.ok ? [] : [{ id: i.id, code: 'ERR_INVALID_USCC' }], accepted: i.ok ? [i] : [],
    }));
  }
  await app.close();

  const json = await cli('hub', 'quality', '--config', configFile, '--month', '2026-10');
  t.equal(json.code, 0, json.err);
  const rep = JSON.parse(json.out);
  t.equal(rep.totals.counters.submitted, 4);
  t.equal(rep.nodes.find((n: { node: string }) => n.node === '430100').indicators.complianceRate, 0.6667);
  t.same(rep.ranking.slice(0, 2).map((r: { city: string; name: string }) => [r.city, r.name]), [['430700', '常德市'], ['430100', '长沙市']]);

  const csv = await cli('hub', 'quality', '--config', configFile, '--csv', '--ranking');
  t.match(csv.out, /^\uFEFF排名,市州代码,市州/);
  t.match(csv.out, /\r\n1,430700,常德市,1,/);
  const units = await cli('hub', 'quality', '--config', configFile, '--csv', '--node', '430100');
  t.equal(units.out.trim().split('\r\n').length, 2, 'header + one unit × type row');
  t.equal((await cli('hub', 'quality', '--config', configFile, '--month', '2026-11')).code, 0);
  t.equal(JSON.parse((await cli('hub', 'quality', '--config', configFile, '--month', '2026-11')).out).totals.counters.submitted, 0);

  const xlsx = join(root, 'q.xlsx');
  t.equal((await cli('hub', 'quality', '--config', configFile, '--xlsx', '--out', xlsx)).code, 0);
  const wb = new ExcelJS.Workbook();
  await wb.xlsx.readFile(xlsx);
  t.same(wb.worksheets.map((w) => w.name), ['数据来源单位', '市州排名']);
  t.equal(wb.getWorksheet('市州排名')!.getRow(2).getCell(2).value, '430700');

  t.equal((await cli('hub', 'quality', '--config', configFile, '--month', '2026-13')).code, 2, 'ERR_USAGE');
  t.equal((await cli('hub', 'quality', '--config', configFile, '--xlsx')).code, 2, '--xlsx needs --out');

  const file = join(root, 'register.json');
  writeFileSync(file, JSON.stringify([{ code: '430100', name: '长沙市' }, { code: '430700', name: '常德市' }]));
  const set = await cli('hub', 'quality', 'register', '--config', configFile, '--set', file);
  t.equal(set.code, 0, set.err);
  t.equal(JSON.parse(set.out).length, 2);
  t.match(set.err, /the operator's register/);
  t.equal(JSON.parse((await cli('hub', 'quality', '--config', configFile)).out).interconnection.expected, 2);
  writeFileSync(file, JSON.stringify([{ code: '4301', name: '长沙市' }]));
  const bad = await cli('hub', 'quality', 'register', '--config', configFile, '--set', file);
  t.equal(bad.code, 1);
  t.match(bad.err, /ERR_QUALITY_REGISTER_INVALID/);
  const reset = await cli('hub', 'quality', 'register', '--config', configFile, '--reset');
  t.equal(JSON.parse(reset.out).length, 136);
});

t.test('credit node quality', async (t) => {
  const dir = join(root, 'node');
  mkdirSync(dir);
  const configFile = join(dir, 'node.json');
  writeFileSync(configFile, JSON.stringify({ nodeId: '430100', dataDir: 'data' }));
  const r = await cli('node', 'quality', '--config', configFile, '--month', '2026-11');
  t.equal(r.code, 0, r.err);
  const rep = JSON.parse(r.out);
  t.same([rep.scope, rep.issuer, rep.month, rep.totals.counters.submitted, rep.totals.indicators.complianceRate], ['node', '430100', '2026-11', 0, null]);
  t.equal(rep.ranking, undefined, 'no ranking in a node view');
  const out = join(dir, 'q.csv');
  t.equal((await cli('node', 'quality', '--config', configFile, '--csv', '--out', out)).code, 0);
  t.match(readFileSync(out, 'utf8'), /^\uFEFF节点,数据来源单位,信息类别/);
});
