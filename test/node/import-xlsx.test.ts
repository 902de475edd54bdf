/**
 * The XLSX reader's temporary files. A workbook whose worksheets come before its shared strings in
 * the zip (Excel's and exceljs's own order) has each worksheet copied to a temporary file, read back
 * once the zip is through. Whatever way a read ends (the sheet found early, a sheet skipped, the
 * reader abandoned mid-sheet, a broken zip), nothing may stay behind: no file (it holds personal
 * data), no open descriptor (a long-running node would run out), no uncaught error.
 */
import t, { type Test } from 'tap';
import { privateTmp } from '../helpers/private-tmp.js';
import { readdirSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import ExcelJS from 'exceljs';
import { createRequire } from 'node:module';
import { Readable } from 'node:stream';
import { MAX_WORKSHEETS, xlsxRowGroups } from '../../node/import-xlsx.js';
import { MAX_ROW_CHARS, rowBounded } from '../../node/import-xlsx-cells.js';
import { serviceError } from '../../protocol/service-errors.js';
import type { TableRow } from '../../node/import-table.js';

const spoolRoot = privateTmp(t, 'credit-test-xlsx-');

/** Descriptors open on files under the spool root (the only files the reader opens; others come and go with the test runner). */
const openFds = (): number =>
  readdirSync('/proc/self/fd').filter((fd) => {
    try {
      return readlinkSync(`/proc/self/fd/${fd}`).startsWith(spoolRoot);
    } catch {
      return false; // closed meanwhile
    }
  }).length;

/** Waits for queued closes and unlinks (event-driven: setImmediate rounds, never a timer). */
async function settle(): Promise<void> {
  for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
}

async function workbook(sheets: Record<string, number>): Promise<Buffer> {
  const wb = new ExcelJS.Workbook();
  for (const [name, rows] of Object.entries(sheets)) {
    const ws = wb.addWorksheet(name);
    ws.addRow(['名称', '文号']);
    for (let i = 1; i <= rows; i++) ws.addRow([`${name}示例${i}`, `${name}-${i}`]);
  }
  return Buffer.from(await wb.xlsx.writeBuffer());
}

/** The upload in 4 KiB chunks, each after a turn of the event loop (as a socket delivers them). */
async function* body(buf: Buffer, size = 4096): AsyncGenerator<Buffer> {
  for (let i = 0; i < buf.length; i += size) {
    await new Promise((r) => setImmediate(r));
    yield buf.subarray(i, i + size);
  }
}

const cell = (r: TableRow, i: number): string | undefined => ('fields' in r ? r.fields[i] : `error: ${r.error}`);

const rowsOf = (buf: Buffer, sheet?: string): Promise<TableRow[]> => rowsOf2(body(buf), sheet);

const uncaught: Error[] = [];
const onUncaught = (e: Error): void => void uncaught.push(e);
process.on('uncaughtException', onUncaught);
t.teardown(() => void process.off('uncaughtException', onUncaught));

t.beforeEach(async () => {
  await settle();
});

async function leftovers(t: Test, fdsBefore: number): Promise<void> {
  await settle();
  t.same(readdirSync(spoolRoot), [], 'no temporary file or directory left');
  // a stream destroyed while its file was still opening closes it once the open completes: wait
  // for that (event-driven rounds; the test's own timeout is the bound)
  while (openFds() > fdsBefore) await new Promise((r) => setTimeout(r, 5));
  t.equal(openFds(), fdsBefore, 'no descriptor left open');
  t.same(uncaught.map((e) => e.message), [], 'no uncaught error');
}

t.test('the first sheet of three, read whole: rows right, nothing left', async (t) => {
  const buf = await workbook({ 第一页: 3, 第二页: 2, 第三页: 1 });
  const fds = openFds();
  const rows = await rowsOf(buf);
  t.same(rows.map((r) => cell(r, 1)), ['文号', '第一页-1', '第一页-2', '第一页-3']);
  t.same(rows.map((r) => r.line), [1, 2, 3, 4]);
  await leftovers(t, fds);
});

t.test('a later sheet by name and by number: the sheets before it are skipped, nothing left', async (t) => {
  const buf = await workbook({ 第一页: 400, 第二页: 2, 第三页: 1 });
  const fds = openFds();
  for (let i = 0; i < 5; i++) {
    t.same((await rowsOf(buf, '第二页')).map((r) => cell(r, 1)), ['文号', '第二页-1', '第二页-2']);
    t.same((await rowsOf(buf, '3')).map((r) => cell(r, 1)), ['文号', '第三页-1']);
  }
  await leftovers(t, fds);
});

t.test('no such sheet: ERR_IMPORT_FORMAT, every sheet skipped, nothing left', async (t) => {
  const buf = await workbook({ 第一页: 2, 第二页: 2 });
  const fds = openFds();
  await t.rejects(rowsOf(buf, '第九页'), { code: 'ERR_IMPORT_FORMAT', details: { sheet: '第九页' } });
  await leftovers(t, fds);
});

t.test('the reader abandoned after its first group of rows: nothing left', async (t) => {
  const buf = await workbook({ 第一页: 1000, 第二页: 1000 });
  const fds = openFds();
  const gen = xlsxRowGroups(body(buf));
  const first = await gen.next();
  t.equal((first.value as TableRow[]).length, 256);
  await gen.return(undefined);
  await leftovers(t, fds);
});

t.test('a zip cut short after its worksheets: ERR_IMPORT_FORMAT, nothing left', async (t) => {
  const buf = await workbook({ 第一页: 2000, 第二页: 2000 });
  const at = buf.indexOf('xl/sharedStrings.xml');
  t.ok(at > buf.indexOf('xl/worksheets/sheet2.xml'), 'the worksheets come first, so they are spooled');
  const fds = openFds();
  await t.rejects(rowsOf(buf.subarray(0, at + 200)), { code: 'ERR_IMPORT_FORMAT' });
  await leftovers(t, fds);
});

t.test('the upload fails mid-zip (too large, cut off): its own error, nothing left, the process alive', async (t) => {
  const buf = await workbook({ 第一页: 3000, 第二页: 3000 });
  const fds = openFds();
  for (const cut of [5000, buf.indexOf('xl/worksheets/sheet2.xml') + 100, buf.length - 300]) {
    async function* failing(): AsyncGenerator<Buffer> {
      yield* body(buf.subarray(0, cut));
      throw serviceError('ERR_BODY_TOO_LARGE', '上传超过限额');
    }
    await t.rejects(
      (async () => {
        for await (const g of xlsxRowGroups(failing())) void g;
      })(),
      { code: 'ERR_BODY_TOO_LARGE' },
      `cut at byte ${cut}`,
    );
  }
  await leftovers(t, fds);
});

t.test('the temporary directory unusable: the file system error itself, not ERR_IMPORT_FORMAT', async (t) => {
  const buf = await workbook({ 第一页: 2 });
  process.env.TMPDIR = join(spoolRoot, 'missing');
  t.teardown(() => void (process.env.TMPDIR = spoolRoot));
  const fds = openFds();
  await t.rejects(rowsOf(buf), { code: 'ENOENT', syscall: 'mkdtemp' }, 'the node log and a 500 ERR_INTERNAL, not a clerk told the file is bad');
  process.env.TMPDIR = spoolRoot;
  await leftovers(t, fds);
});

type Zip = { file(name: string): { async(t: 'nodebuffer'): Promise<Buffer> } | null; file(name: string, data: Buffer): void; generateAsync(o: { type: 'nodebuffer'; compression: 'DEFLATE' }): Promise<Buffer> };
const JSZip = createRequire(createRequire(import.meta.url).resolve('exceljs'))('jszip') as { new (): Zip; loadAsync(b: Buffer): Promise<Zip> };

/** The same workbook with its zip entries stored in another order. */
async function reordered(buf: Buffer, order: string[]): Promise<Buffer> {
  const from = await JSZip.loadAsync(buf);
  const to = new JSZip();
  for (const name of order) to.file(name, await from.file(name)!.async('nodebuffer'));
  return to.generateAsync({ type: 'nodebuffer', compression: 'DEFLATE' });
}

t.test('every order of the zip entries reads the same: Excel’s, the workbook part last after the shared strings, everything before the sheets', async (t) => {
  const buf = await workbook({ 数据: 3, 填写说明: 1 });
  const sheets = ['xl/worksheets/sheet1.xml', 'xl/worksheets/sheet2.xml'];
  const orders: Record<string, string[]> = {
    excel: ['[Content_Types].xml', '_rels/.rels', 'xl/workbook.xml', 'xl/_rels/workbook.xml.rels', ...sheets, 'xl/theme/theme1.xml', 'xl/styles.xml', 'xl/sharedStrings.xml', 'docProps/core.xml', 'docProps/app.xml'],
    'workbook part last, shared strings first': ['[Content_Types].xml', '_rels/.rels', 'docProps/app.xml', 'docProps/core.xml', 'xl/_rels/workbook.xml.rels', 'xl/sharedStrings.xml', ...sheets, 'xl/theme/theme1.xml', 'xl/styles.xml', 'xl/workbook.xml'],
    'all before the sheets': ['[Content_Types].xml', '_rels/.rels', 'xl/workbook.xml', 'xl/_rels/workbook.xml.rels', 'xl/sharedStrings.xml', 'xl/styles.xml', ...sheets, 'xl/theme/theme1.xml', 'docProps/core.xml', 'docProps/app.xml'],
  };
  const fds = openFds();
  for (const [label, order] of Object.entries(orders)) {
    const zip = await reordered(buf, order);
    t.same((await rowsOf(zip)).map((r) => cell(r, 1)), ['文号', '数据-1', '数据-2', '数据-3'], `${label}: the first sheet`);
    t.same((await rowsOf(zip, '填写说明')).map((r) => cell(r, 0)), ['名称', '填写说明示例1'], `${label}: a sheet by name`);
    t.same((await rowsOf(zip, '2')).map((r) => cell(r, 0)), ['名称', '填写说明示例1'], `${label}: a sheet by number`);
  }
  await leftovers(t, fds);
});

/** The workbook with `count` bytes at `at` within the stored data of entry `name` overwritten. */
function damaged(buf: Buffer, name: string, at: number, count = 64): Buffer {
  const header = buf.indexOf(Buffer.from(name));
  const copy = Buffer.from(buf);
  const start = header + Buffer.byteLength(name) + copy.readUInt16LE(header - 2) + at; // name, then the extra field
  copy.fill(0xa5, start, start + count);
  return copy;
}

t.test('damaged compressed data, in a spooled worksheet or the shared strings: ERR_IMPORT_FORMAT, no hang, nothing left', { timeout: 120_000 }, async (t) => {
  const buf = await workbook({ 第一页: 3000, 第二页: 3000 });
  const fds = openFds();
  for (const [name, sheet] of [['xl/worksheets/sheet1.xml', '1'], ['xl/worksheets/sheet2.xml', '2'], ['xl/sharedStrings.xml', '1']] as const) {
    for (const size of [4096, 65536]) {
      await t.rejects(rowsOf2(body(damaged(buf, name, 2000), size), sheet), { code: 'ERR_IMPORT_FORMAT' }, `${name}, sheet ${sheet} read, ${size}-byte chunks`);
    }
  }
  await leftovers(t, fds);
});

t.test('an upload cut off or over the limit while a worksheet is being spooled: its error, no hang, nothing left', { timeout: 120_000 }, async (t) => {
  const buf = await workbook({ 第一页: 5000, 第二页: 10 });
  const fds = openFds();
  const inSheet = buf.indexOf('xl/worksheets/sheet1.xml') + 20_000;
  async function* failing(): AsyncGenerator<Buffer> {
    yield* body(buf.subarray(0, inSheet));
    await new Promise((r) => setImmediate(r));
    throw serviceError('ERR_BODY_TOO_LARGE', '上传超过限额');
  }
  await t.rejects(rowsOf2(failing()), { code: 'ERR_BODY_TOO_LARGE' });
  await leftovers(t, fds);
});

async function rowsOf2(input: AsyncIterable<Buffer>, sheet?: string, limits?: Parameters<typeof xlsxRowGroups>[2]): Promise<TableRow[]> {
  const out: TableRow[] = [];
  for await (const g of xlsxRowGroups(input, sheet, limits)) out.push(...g);
  return out;
}

t.test('exceljs order (the workbook part last), read many times: the workbook part is never lost', async (t) => {
  const buf = await workbook({ 甲: 2, 乙: 2, 丙: 2 });
  let wrong = 0;
  for (let i = 0; i < 1000; i++) {
    const rows = await rowsOf2(Readable.from([buf]), '乙').catch((e: Error) => [{ line: 0, error: e.message }] as TableRow[]);
    if (rows.length < 2 || cell(rows[1]!, 1) !== '乙-1') wrong++;
  }
  t.equal(wrong, 0, 'every read found sheet 乙 by name (the zip entries after the last worksheet were read)');
});

t.test('a decompression bomb in spooled worksheets: stopped at unpackLimitBytes (413 ERR_BODY_TOO_LARGE), nothing left', { timeout: 120_000 }, async (t) => {
  const wb = new ExcelJS.Workbook();
  const ws = wb.addWorksheet('炸弹');
  const zeros = new Array<number>(200).fill(0);
  for (let i = 0; i < 2000; i++) ws.addRow(zeros); // ≈ 10 MB of worksheet XML, a few hundred KB zipped
  const buf = Buffer.from(await wb.xlsx.writeBuffer());
  t.ok(buf.length < 2 * 1024 * 1024, `${buf.length} bytes zipped`);
  const fds = openFds();
  await t.rejects(rowsOf2(body(buf), undefined, { unpackLimitBytes: 4 * 1024 * 1024 }), { code: 'ERR_BODY_TOO_LARGE', details: { unpackLimitBytes: 4 * 1024 * 1024 } });
  t.equal((await rowsOf2(body(buf), undefined, { unpackLimitBytes: 64 * 1024 * 1024 })).length, 2000, 'under a larger limit it reads');
  await leftovers(t, fds);
});

t.test('more worksheets than a workbook may have: ERR_IMPORT_FORMAT before the disk fills with files', { timeout: 120_000 }, async (t) => {
  const one = await workbook({ 第一页: 1 });
  const from = await JSZip.loadAsync(one);
  const sheet = await from.file('xl/worksheets/sheet1.xml')!.async('nodebuffer');
  const to = new JSZip();
  for (const name of ['[Content_Types].xml', '_rels/.rels', 'xl/_rels/workbook.xml.rels']) to.file(name, await from.file(name)!.async('nodebuffer'));
  for (let i = 1; i <= MAX_WORKSHEETS + 1; i++) to.file(`xl/worksheets/sheet${i}.xml`, sheet);
  const buf = await to.generateAsync({ type: 'nodebuffer', compression: 'DEFLATE' });
  const fds = openFds();
  await t.rejects(rowsOf2(body(buf)), { code: 'ERR_IMPORT_FORMAT', details: { maxWorksheets: MAX_WORKSHEETS } });
  await leftovers(t, fds);
});

/** A workbook written by hand, its parts in the order given (name → XML text). */
async function handmade(parts: Part[]): Promise<Buffer> {
  const z = new JSZip();
  for (const [name, xml] of parts) z.file(name, Buffer.from(xml));
  return z.generateAsync({ type: 'nodebuffer', compression: 'DEFLATE' });
}
const NS = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"';
const REL = 'http://schemas.openxmlformats.org/officeDocument/2006/relationships';
type Part = [name: string, xml: string];
const PARTS = {
  types: ['[Content_Types].xml', '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/></Types>'] as Part,
  rels: ['_rels/.rels', `<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="${REL}/officeDocument" Target="xl/workbook.xml"/></Relationships>`] as Part,
  workbook: ['xl/workbook.xml', `<?xml version="1.0" encoding="UTF-8"?><workbook ${NS} xmlns:r="${REL}"><sheets><sheet name="数据" sheetId="1" r:id="rId1"/></sheets></workbook>`] as Part,
  workbookRels: ['xl/_rels/workbook.xml.rels', `<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="${REL}/worksheet" Target="worksheets/sheet1.xml"/><Relationship Id="rId2" Type="${REL}/sharedStrings" Target="sharedStrings.xml"/></Relationships>`] as Part,
  shared: (strings: string) => ['xl/sharedStrings.xml', `<?xml version="1.0" encoding="UTF-8"?><sst ${NS}>${strings}</sst>`] as Part,
  sheet: (rows: string) => ['xl/worksheets/sheet1.xml', `<?xml version="1.0" encoding="UTF-8"?><worksheet ${NS}><sheetData>${rows}</sheetData></worksheet>`] as Part,
};
/** The usual parts in Excel's order but with the shared strings before the sheet (so it is read in place). */
const plain = (shared: Part, sheet: Part): Promise<Buffer> => handmade([PARTS.types, PARTS.rels, PARTS.workbook, PARTS.workbookRels, shared, sheet]);
const cellRow = (r: number) => `<row r="${r}"><c r="A${r}" t="s"><v>0</v></c><c r="B${r}"><v>1</v></c></row>`;

t.test('every entry counts towards unpackLimitBytes: sheets read in place, parts nobody reads, bytes after the workbook root', { timeout: 120_000 }, async (t) => {
  const limits = { unpackLimitBytes: 4 * 1024 * 1024 };
  const rows = Array.from({ length: 200_000 }, (_, i) => cellRow(i + 1)).join('');
  const inPlace = await plain(PARTS.shared('<si><t>名称</t></si>'), PARTS.sheet(rows));
  const ignored = await handmade([PARTS.types, PARTS.rels, ['docProps/app.xml', ' '.repeat(8 * 1024 * 1024)], PARTS.workbook, PARTS.workbookRels, PARTS.shared('<si><t>名称</t></si>'), PARTS.sheet(cellRow(1))]);
  const [name, xml] = PARTS.workbook;
  const afterRoot = await handmade([PARTS.types, PARTS.rels, [name, xml + ' '.repeat(8 * 1024 * 1024)], PARTS.workbookRels, PARTS.shared('<si><t>名称</t></si>'), PARTS.sheet(cellRow(1))]);
  const fds = openFds();
  for (const [label, zip] of [['a worksheet read in place', inPlace], ['docProps/app.xml', ignored], ['spaces after </workbook>', afterRoot]] as const) {
    t.ok(zip.length < limits.unpackLimitBytes / 2, `${label}: ${zip.length} bytes zipped`);
    await t.rejects(rowsOf2(body(zip), undefined, limits), { code: 'ERR_BODY_TOO_LARGE', details: limits }, label);
  }
  t.equal((await rowsOf2(body(inPlace), undefined, { unpackLimitBytes: 64 * 1024 * 1024 })).length, 200_000, 'under a larger limit the sheet reads');
  await leftovers(t, fds);
});

t.test('shared strings past their cap: ERR_IMPORT_FORMAT (they are held in memory)', async (t) => {
  const zip = await plain(PARTS.shared('<si/>'.repeat(400_000)), PARTS.sheet(cellRow(1)));
  const fds = openFds();
  await t.rejects(rowsOf2(body(zip), undefined, { unpackLimitBytes: 1 << 30, sharedStringsLimitBytes: 1024 * 1024 }), { code: 'ERR_IMPORT_FORMAT', details: { sharedStringsLimitBytes: 1024 * 1024 } });
  t.equal((await rowsOf2(body(zip), undefined, { unpackLimitBytes: 1 << 30 })).length, 1, 'under the default cap it reads');
  const runs = await plain(PARTS.shared(`<si>${'<r/>'.repeat(200_000)}</si>`), PARTS.sheet(cellRow(1)));
  await t.rejects(rowsOf2(body(runs), undefined, { unpackLimitBytes: 1 << 30, sharedStringsLimitBytes: 4 * 1024 * 1024 }), { code: 'ERR_IMPORT_FORMAT', details: { sharedStringsLimitBytes: 4 * 1024 * 1024 } }, '800 KB of empty runs: each is an object in memory, counted as such');
  await leftovers(t, fds);
});

t.test('a row longer than MAX_ROW_CHARS: ERR_IMPORT_LINE_MALFORMED before its cells fill the memory', async (t) => {
  const huge = `<row r="2"><c r="A2" t="inlineStr"><is><t>${'长'.repeat(MAX_ROW_CHARS / 4)}</t></is></c><c r="B2" t="inlineStr"><is><t>${'长'.repeat(MAX_ROW_CHARS)}</t></is></c></row>`;
  const zip = await plain(PARTS.shared('<si><t>名称</t></si>'), PARTS.sheet(cellRow(1) + huge + cellRow(3)));
  const fds = openFds();
  await t.rejects(rowsOf2(body(zip), undefined, { unpackLimitBytes: 1 << 30 }), { code: 'ERR_IMPORT_LINE_MALFORMED', details: { maxRowChars: MAX_ROW_CHARS } });
  const justUnder = `<row r="2"><c r="A2" t="inlineStr"><is><t>${'长'.repeat(MAX_ROW_CHARS - 200)}</t></is></c></row>`;
  const ok = await plain(PARTS.shared('<si><t>名称</t></si>'), PARTS.sheet(cellRow(1) + justUnder + cellRow(3)));
  t.equal((await rowsOf2(body(ok), undefined, { unpackLimitBytes: 1 << 30 })).length, 3, 'a row just under the cap reads');
  const merged = Array.from({ length: 60_000 }, (_, i) => `<mergeCell ref="C${i + 1}:D${i + 1}"/>`).join('');
  const [name, xml] = PARTS.sheet(cellRow(1) + cellRow(2));
  const afterRows = await plain(PARTS.shared('<si><t>名称</t></si>'), [name, xml.replace('</worksheet>', `<mergeCells count="60000">${merged}</mergeCells></worksheet>`)]);
  t.equal((await rowsOf2(body(afterRows), undefined, { unpackLimitBytes: 1 << 30 })).length, 2, 'over 1 MiB of merged cells after the rows is not a row');
  await leftovers(t, fds);
});

t.test("Node's own error codes from a damaged zip are the file's fault: ERR_IMPORT_FORMAT (422), not passed on as a 500", async (t) => {
  const buf = await workbook({ 第一页: 2 });
  const copy = Buffer.from(buf);
  const name = Buffer.from('xl/worksheets/sheet1.xml');
  const header = copy.indexOf(name) - 30;
  copy.writeUInt32LE(0xffffffff, header + 18); // compressed size: zip64's marker, without a zip64 extra field
  await t.rejects(rowsOf2(body(copy)), { code: 'ERR_IMPORT_FORMAT' });
});

t.test("Excel's self-closing rows (formatted, empty) are rows: a template with 60,000 of them reads", async (t) => {
  const formatted = Array.from({ length: 60_000 }, (_, i) => `<row r="${i + 3}" spans="1:16" s="215" customFormat="1"/>`).join('');
  const zip = await plain(PARTS.shared('<si><t>名称</t></si>'), PARTS.sheet(cellRow(1) + cellRow(2) + formatted));
  const rows = await rowsOf2(body(zip), undefined, { unpackLimitBytes: 1 << 30 });
  t.same(rows.slice(0, 2).map((r) => cell(r, 0)), ['名称', '名称']);
});

t.test('comments, processing instructions, CDATA in a worksheet: ERR_IMPORT_FORMAT (they could hide a fake </sheetData> from the row bound)', async (t) => {
  for (const markup of ['<!--</sheetData>-->', '<?x </sheetData>?>', '<![CDATA[x]]>']) {
    const [name, xml] = PARTS.sheet(cellRow(1));
    const zip = await plain(PARTS.shared('<si><t>名称</t></si>'), [name, xml.replace('<sheetData>', `<sheetData>${markup}`)]);
    await t.rejects(rowsOf2(body(zip), undefined, { unpackLimitBytes: 1 << 30 }), { code: 'ERR_IMPORT_FORMAT', details: { reason: 'markup' } }, markup);
  }
  const [name, xml] = PARTS.sheet(cellRow(1));
  const declared = await plain(PARTS.shared('<si><t>名称</t></si>'), [name, '\uFEFF' + xml.replace('<?xml version="1.0" encoding="UTF-8"?>', '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\r\n')]);
  t.equal((await rowsOf2(body(declared), undefined, { unpackLimitBytes: 1 << 30 })).length, 1, 'the XML declaration (after a BOM) is no processing instruction to refuse');
});

t.test('the row bound: only a real <row tag starts a row, and the last row before </sheetData> is counted', async (t) => {
  const long = (n: number, column = 'A') => `<c r="${column}1" t="str"><v>${'x'.repeat(n)}</v></c>`;
  const bypass = `<row r="1">${['A', 'B', 'C', 'D'].map((c) => long(MAX_ROW_CHARS - 1000, c)).join('<rowx/>')}</row>`;
  const zip = await plain(PARTS.shared('<si><t>名称</t></si>'), PARTS.sheet(bypass));
  await t.rejects(rowsOf2(body(zip), undefined, { unpackLimitBytes: 1 << 30 }), { code: 'ERR_IMPORT_LINE_MALFORMED' }, '<rowx/> between cells ends no row');
  async function* once(...parts: string[]): AsyncGenerator<string> {
    yield* parts;
  }
  const drain = async (g: AsyncGenerator<string>) => {
    for await (const c of g) void c;
  };
  await t.rejects(drain(rowBounded(once('<worksheet><sheetData><row r="1">', long(MAX_ROW_CHARS + 10) + '</row></sheetData></worksheet>'))), { code: 'ERR_IMPORT_LINE_MALFORMED' }, 'a long row arriving with </sheetData> in one chunk');
  let done = false;
  async function* parsedUpTo(): AsyncGenerator<string> {
    yield* ['<?xml version="1.0"?>', '<worksheet><sheetData><row r="1"/>', '</sheetData><rowBreaks/>'];
    done = true; // what the parser says once it has read that chunk
    yield* ['x'.repeat(MAX_ROW_CHARS + 10), '</worksheet>'];
  }
  await drain(rowBounded(parsedUpTo(), () => done));
  t.pass('after the parser has read </sheetData> nothing is a row');
  await t.rejects(drain(rowBounded(once('<worksheet><sheetData><row r="1">', '<x><sheetData></sheetData></x>', 'x'.repeat(MAX_ROW_CHARS + 10)))), { code: 'ERR_IMPORT_LINE_MALFORMED' }, 'a </sheetData> in the text proves nothing');
  await t.rejects(drain(rowBounded(once('<x:worksheet><x:sheetData><x:row r="1">', 'x'.repeat(MAX_ROW_CHARS + 10)))), { code: 'ERR_IMPORT_LINE_MALFORMED' }, 'prefixed rows are bounded');
  const prefixedRows = Array.from({ length: 20_000 }, (_, i) => `<x:row r="${i + 1}"><x:c r="A${i + 1}"><x:v>${i}</x:v></x:c></x:row>`);
  await drain(rowBounded(once('<x:worksheet><x:sheetData>', ...prefixedRows, '</x:sheetData></x:worksheet>')));
  t.pass('and a prefixed sheet of 2.5 MB in rows of 50 characters reads (each <x:row is a boundary)');
});

t.test('Excel-like shared strings (a phonetic property each) are charged per element start, not per tag', async (t) => {
  const strings = Array.from({ length: 10_000 }, (_, i) => `<si><t>长沙示例${i}</t><phoneticPr fontId="1" type="noConversion"/></si>`).join('');
  const zip = await plain(PARTS.shared(strings), PARTS.sheet(cellRow(1)));
  t.equal((await rowsOf2(body(zip), undefined, { unpackLimitBytes: 1 << 30, sharedStringsLimitBytes: 10_000 * 330 })).length, 1, '10,000 strings of ≈ 80 bytes and 3 element starts fit in 3.3 MB');
});
