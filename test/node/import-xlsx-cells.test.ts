/**
 * The cells of a worksheet and the shared strings, read by element position (node/import-xlsx-cells.ts).
 * Each "reads" case is a defect of exceljs 4.4's reader that the import had before (the value a clerk
 * saw was not the cell's); each refusal is a file Excel would call damaged.
 */
import t from 'tap';
import { createRequire } from 'node:module';
import { Readable } from 'node:stream';
import { MAX_DEPTH, sharedStrings, sheetRows, unescapeXstring } from '../../node/import-xlsx-cells.js';
import { xlsxRowGroups } from '../../node/import-xlsx.js';
import { MAX_ROW_BYTES } from '../../node/csv-rows.js';
import type { TableRow } from '../../node/import-table.js';

const NS = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"';
const sheet = (rows: string): string => `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<worksheet ${NS}><dimension ref="A1"/><sheetData>${rows}</sheetData><mergeCells count="0"/></worksheet>`;

/** The text in chunks of `size` characters (a character may be cut from its tag). */
async function* chunks(text: string, size = 7): AsyncGenerator<string> {
  for (let i = 0; i < text.length; i += size) yield text.slice(i, i + size);
}

async function rows(xml: string, shared?: string[]): Promise<[number, string[]][]> {
  const out: [number, string[]][] = [];
  for await (const g of sheetRows(chunks(xml), () => shared)) for (const r of g) out.push([r.line, 'fields' in r ? r.fields : []]);
  return out;
}

t.test('inline strings: every run, no phonetic run, no whitespace between elements, entities decoded once', async (t) => {
  t.same(await rows(sheet('<row r="1"><c r="A1" t="inlineStr"><is><r><t>长沙市</t></r><r><rPr><b/></rPr><t xml:space="preserve"> 市场监管局</t></r></is></c></row>')), [[1, ['长沙市 市场监管局']]], 'two runs joined (exceljs kept the last)');
  t.same(await rows(sheet('<row r="1"><c r="A1" t="inlineStr"><is><t>東京</t><rPh sb="0" eb="2"><t>トウキョウ</t></rPh><phoneticPr fontId="1"/></is></c></row>')), [[1, ['東京']]], 'the phonetic run left out (exceljs read トウキョウ)');
  t.same(await rows(sheet('<row r="1">\n  <c r="A1" t="inlineStr">\n    <is>\n      <t>甲</t>\n    </is>\n  </c>\n  <c r="B1">\n    <v>42</v>\n  </c>\n</row>')), [[1, ['甲', '42']]], 'pretty-printed: the indentation is no part of a value');
  t.same(await rows(sheet('<row r="1"><c r="A1" t="inlineStr"><is><t>&amp;lt;b&amp;gt; &amp;amp; A&lt;B</t></is></c></row>')), [[1, ['&lt;b&gt; &amp; A<B']]], 'decoded once (exceljs decoded twice: <b> & A<B)');
  t.same(await rows(sheet('<row r="1"><c r="A1" t="inlineStr"><is><t>第一行_x000D_\n第二行 _x005F_x000D_</t></is></c></row>')), [[1, ['第一行\r\n第二行 _x000D_']]], "ST_Xstring escapes decoded as Excel writes them");
});

t.test('shared strings: runs joined, phonetic runs and properties left out, empty and pretty-printed items', async (t) => {
  const xml = `<?xml version="1.0"?><sst ${NS} count="5" uniqueCount="5">
  <si><t>行政许可</t><phoneticPr fontId="1" type="noConversion"/></si>
  <si><r><rPr><sz val="11"/><rFont val="宋体"/></rPr><t>湖南省</t></r><r><t>长沙市</t></r></si>
  <si><t>東京</t><rPh sb="0" eb="2"><t>トウキョウ</t></rPh></si>
  <si/>
  <si>
    <t>带空白</t>
  </si>
  <si><t>回车_x000D_</t></si>
</sst>`;
  t.same(await sharedStrings(chunks(xml, 5)), ['行政许可', '湖南省长沙市', '東京', '', '带空白', '回车\r']);
});

t.test('numbers, booleans, errors, dates and formulas as a clerk sees them', async (t) => {
  const r = await rows(
    sheet(
      '<row r="2"><c r="A2"><v>43831</v></c><c r="B2" t="n"><v>1.23E+5</v></c><c r="C2" t="b"><v>1</v></c><c r="D2" t="b"><v>0</v></c>' +
        '<c r="E2" t="e"><v>#N/A</v></c><c r="F2" t="d"><v>2026-04-01T00:00:00</v></c><c r="G2"><f>SUM(A1:A2)</f></c>' +
        '<c r="H2" t="str"><f>A1&amp;"x"</f><v>甲x</v></c><c r="I2" t="b"><f>TRUE()</f><v>1</v></c><c r="J2" t="s"><v>1</v></c><c r="K2" s="3"/></row>',
    ),
    ['零', '一'],
  );
  t.same(r, [[2, ['43831', '123000', 'TRUE', 'FALSE', '#N/A', '2026-04-01T00:00:00', '', '甲x', 'TRUE', '一']]], 'a formula without a cached value is empty (exceljs: "[object Object]"); the empty last cell adds no column');
  t.same(await rows(sheet('<row r="1"><c r="A1" t="b"><v>true</v></c><c r="B1" t="b"><v>false</v></c><c r="C1" t="b"><v> 0 </v></c></row>')), [[1, ['TRUE', 'FALSE', 'FALSE']]], 'xsd:boolean as the Open XML SDK writes it');
});

t.test('rows and cells without references follow the one before; gaps are empty cells; empty rows are rows', async (t) => {
  t.same(await rows(sheet('<row><c><v>1</v></c><c><v>2</v></c><c r="E1"><v>5</v></c><c><v>6</v></c></row><row/><row r="7" spans="1:3" customFormat="1"/><row><c t="inlineStr"><is><t>八</t></is></c></row>')), [
    [1, ['1', '2', '', '', '5', '6']],
    [2, []],
    [7, []],
    [8, ['八']],
  ]);
});

t.test('SpreadsheetML under a prefix (<x:worksheet xmlns:x="…/main">) reads; elements of another namespace are not cells', async (t) => {
  const xml = '<x:worksheet xmlns:x="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:o="urn:other"><x:sheetData><x:row r="1"><x:c r="A1" t="inlineStr"><x:is><x:t>前缀</x:t></x:is></x:c><o:c r="B1"><x:v>9</x:v></o:c></x:row></x:sheetData></x:worksheet>';
  t.same(await rows(xml), [[1, ['前缀']]]);
  const shared = '<s:sst xmlns:s="http://purl.oclc.org/ooxml/spreadsheetml/main"><s:si><s:t>严格</s:t></s:si></s:sst>';
  t.same(await sharedStrings(chunks(shared)), ['严格'], 'the Strict namespace too');
});

t.test('refused as damaged: ERR_IMPORT_FORMAT with the reason', async (t) => {
  const cases: [string, string, string[] | undefined, Record<string, unknown>][] = [
    ['rows out of order', sheet('<row r="3"/><row r="2"/>'), undefined, { reason: 'row', row: '2', after: 3 }],
    ['a row number twice', sheet('<row r="3"/><row r="3"/>'), undefined, { reason: 'row' }],
    ['a row number that is not one', sheet('<row r="1e3"/>'), undefined, { reason: 'row', row: '1e3' }],
    ['past Excel\'s last row', sheet('<row r="1048577"/>'), undefined, { reason: 'row' }],
    ['cells out of order', sheet('<row r="1"><c r="B1"/><c r="A1"/></row>'), undefined, { reason: 'cell', cell: 'A1', row: 1 }],
    ['past column XFD', sheet('<row r="1"><c r="XFE1"/></row>'), undefined, { reason: 'cell', cell: 'XFE1' }],
    ['a reference that is not A1', sheet('<row r="1"><c r="R1C1"/></row>'), undefined, { reason: 'cell' }],
    ['a shared string that does not exist', sheet('<row r="1"><c r="A1" t="s"><v>2</v></c></row>'), ['零', '一'], { reason: 'sharedString', cell: 'A1' }],
    ['a shared string with no index', sheet('<row r="1"><c r="A1" t="s"><v/></c></row>'), ['零'], { reason: 'sharedString' }],
    ['a shared string index in another notation', sheet('<row r="1"><c r="A1" t="s"><v>0x1</v></c></row>'), ['零', '一'], { reason: 'sharedString' }],
    ['a shared string in a workbook without them', sheet('<row r="4"><c r="C4" t="s"><v>0</v></c></row>'), undefined, { reason: 'sharedString', cell: 'C4' }],
    ['an element in a value', sheet('<row r="1"><c r="A1"><v>1<row r="2"/></v></c></row>'), undefined, { reason: 'nested', cell: 'A1' }],
    ['an element in inline text', sheet('<row r="1"><c r="A1" t="inlineStr"><is><t>甲<b/></t></is></c></row>'), undefined, { reason: 'nested' }],
    ['cut off before </sheetData>', sheet('<row r="1"><c r="A1"><v>1</v></c></row>').split('</sheetData>')[0]!, undefined, { reason: 'truncated' }],
    ['no <sheetData>', `<worksheet ${NS}/>`, undefined, { reason: 'truncated' }],
    ['not well-formed', sheet('<row r="1"><c r="A1"><v>1</c></row>'), undefined, { reason: 'xml' }],
    ['an undefined entity', sheet('<row r="1"><c r="A1" t="inlineStr"><is><t>&nbsp;</t></is></c></row>'), undefined, { reason: 'xml' }],
    ['nested past MAX_DEPTH', sheet('<row r="1"/>').replace('<dimension ref="A1"/>', '<a>'.repeat(MAX_DEPTH) + '</a>'.repeat(MAX_DEPTH)), undefined, { reason: 'depth', maxDepth: MAX_DEPTH }],
  ];
  for (const [label, xml, shared, details] of cases) await t.rejects(rows(xml, shared), { code: 'ERR_IMPORT_FORMAT', details }, label);
  await t.rejects(sharedStrings(chunks(`<sst ${NS}><si><t>甲<r/></t></si></sst>`)), { code: 'ERR_IMPORT_FORMAT', details: { reason: 'nested' } }, 'an element in a shared string');
  await t.rejects(sharedStrings(chunks(`<sst ${NS}><si><t>甲</t>`)), { code: 'ERR_IMPORT_FORMAT', details: { reason: 'xml' } }, 'shared strings cut off');
  const e = await rows(sheet('<row r="1"><c r="A1"><v>1</c></row>')).catch((x: Error) => x);
  t.match((e as Error).message, /^工作表不是格式正确的 XML（.+）.*\[ERR_IMPORT_FORMAT\]$/, 'the message says what and carries the code');
});

t.test('the cell text of one row is bounded here too (ERR_IMPORT_LINE_MALFORMED), whatever the chunks', async (t) => {
  const half = 'x'.repeat(MAX_ROW_BYTES / 2 + 1);
  const xml = sheet(`<row r="1"><c r="A1" t="inlineStr"><is><t>${half}</t></is></c><c r="B1" t="str"><v>${half}</v></c></row>`);
  await t.rejects(rows(xml), { code: 'ERR_IMPORT_LINE_MALFORMED', details: { maxRowChars: MAX_ROW_BYTES } });
  const ok = sheet(`<row r="1"><c r="A1" t="inlineStr"><is><t>${half}</t></is></c></row><row r="2"><c r="A2" t="str"><v>${half}</v></c></row>`);
  t.equal((await rows(ok)).length, 2, 'the same text in two rows reads');
  const long = ['长'.repeat(100_000)];
  const named = Array.from({ length: 11 }, (_, i) => `<c r="${String.fromCharCode(65 + i)}1" t="s"><v>0</v></c>`).join('');
  await t.rejects(rows(sheet(`<row r="1">${named}</row>`), long), { code: 'ERR_IMPORT_LINE_MALFORMED' }, 'a shared string counts as long as it is: 11 cells naming one of 100,000 characters');
  t.equal((await rows(sheet(`<row r="1">${named.slice(0, named.indexOf('<c r="K1"'))}</row>`), long)).length, 1, 'ten of them fit');
});

t.test('unescapeXstring', async (t) => {
  t.equal(unescapeXstring('a_x0009_b_x000a_c'), 'a\tb\nc');
  t.equal(unescapeXstring('_xD83D__xDE00_'), '_xD83D__xDE00_', 'surrogate halves stay as written');
  t.equal(unescapeXstring('_x12_ _xZZZZ_ x000D_'), '_x12_ _xZZZZ_ x000D_', 'only _xHHHH_');
});

// --- whole workbooks: which sheet is read ------------------------------------------------------

type Zip = { file(name: string, data: Buffer): void; generateAsync(o: { type: 'nodebuffer'; compression: 'DEFLATE' }): Promise<Buffer> };
const JSZip = createRequire(createRequire(import.meta.url).resolve('exceljs'))('jszip') as { new (): Zip; loadAsync(b: Buffer): Promise<{ file(name: string): { async(t: 'string'): Promise<string> } | null }> };
const JSZipLoad = (b: Buffer) => JSZip.loadAsync(b);
const REL = 'http://schemas.openxmlformats.org/officeDocument/2006/relationships';

/** A workbook of three worksheets (sheetN.xml holds 第N页), its tabs listed in `tabs` order: [sheet number, name, state?]. */
async function tabbed(tabs: [number, string, string?][], targets: (n: number) => string = (n) => `worksheets/sheet${n}.xml`): Promise<Buffer> {
  const z = new JSZip();
  const put = (name: string, xml: string) => z.file(name, Buffer.from(xml));
  put('[Content_Types].xml', '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"/>');
  put('_rels/.rels', `<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="${REL}/officeDocument" Target="xl/workbook.xml"/></Relationships>`);
  put('xl/workbook.xml', `<workbook ${NS} xmlns:r="${REL}"><sheets>${tabs.map(([n, name, state], i) => `<sheet name="${name}" sheetId="${i + 1}" r:id="rId${n}"${state ? ` state="${state}"` : ''}/>`).join('')}</sheets></workbook>`);
  put('xl/_rels/workbook.xml.rels', `<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">${[1, 2, 3].map((n) => `<Relationship Id="rId${n}" Type="${REL}/worksheet" Target="${targets(n)}"/>`).join('')}</Relationships>`);
  for (const n of [1, 2, 3]) put(`xl/worksheets/sheet${n}.xml`, sheet(`<row r="1"><c r="A1" t="inlineStr"><is><t>第${n}页</t></is></c></row>`));
  return z.generateAsync({ type: 'nodebuffer', compression: 'DEFLATE' });
}

async function firstCell(zip: Buffer, sheetName?: string): Promise<string> {
  const out: TableRow[] = [];
  for await (const g of xlsxRowGroups((async function* () {
    yield zip;
  })(), sheetName)) out.push(...g);
  const r = out[0]!;
  return 'fields' in r ? r.fields[0]! : r.error;
}

t.test("the workbook's tab order decides, not the zip's: the first tab by default, ?sheet=N counts tabs", async (t) => {
  const moved = await tabbed([[3, '汇总'], [1, '明细'], [2, '附表']]);
  t.equal(await firstCell(moved), '第3页', 'the first tab (its sheet is sheet3.xml, last in the zip)');
  t.equal(await firstCell(moved, '2'), '第1页', 'sheet=2 is the second tab');
  t.equal(await firstCell(moved, '附表'), '第2页', 'by name');
  const hidden = await tabbed([[1, '字典', 'hidden'], [2, '数据'], [3, '说明', 'veryHidden']]);
  t.equal(await firstCell(hidden), '第2页', 'a hidden first tab is not what Excel shows first');
  t.equal(await firstCell(hidden, '1'), '第1页', 'but it can be asked for');
  const absolute = await tabbed([[2, '数据'], [1, '其他'], [3, '三']], (n) => `/xl/worksheets/sheet${n}.xml`);
  t.equal(await firstCell(absolute, '数据'), '第2页', 'absolute relationship targets (openpyxl writes them) find the name');
  t.equal(await firstCell(absolute), '第2页');
});

t.test('a workbook part no tab lists, or a path that only contains xl/worksheets/sheetN.xml, is never read', async (t) => {
  const z = new JSZip();
  const put = (name: string, xml: string) => z.file(name, Buffer.from(xml));
  const one = (s: string) => sheet(`<row r="1"><c r="A1" t="inlineStr"><is><t>${s}</t></is></c></row>`);
  put('backup/xl/worksheets/sheet2.xml', one('诱饵'));
  put('xl/workbook.xml', `<workbook ${NS} xmlns:r="${REL}"><sheets><sheet name="数据" sheetId="1" r:id="rId1"/></sheets></workbook>`);
  put('xl/_rels/workbook.xml.rels', `<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="${REL}/worksheet" Target="worksheets/sheet2.xml"/></Relationships>`);
  put('xl/worksheets/sheet1.xml', one('孤立'));
  put('xl/worksheets/sheet2.xml', one('数据'));
  const zip = await z.generateAsync({ type: 'nodebuffer', compression: 'DEFLATE' });
  t.equal(await firstCell(zip), '数据', 'the listed tab, not the orphan sheet1.xml nor the decoy');
  t.equal(await firstCell(zip, '1'), '数据');
  t.equal(await firstCell(zip, '数据'), '数据');
});

t.test('xl/workbook.xml under a prefix (the Open XML SDK): names, tab order and hidden tabs; the 1904 date system told', async (t) => {
  const M = 'http://schemas.openxmlformats.org/spreadsheetml/2006/main';
  const z = new JSZip();
  const put = (name: string, xml: string) => z.file(name, Buffer.from(xml));
  const one = (s: string) => `<x:worksheet xmlns:x="${M}"><x:sheetData><x:row r="1"><x:c r="A1" t="inlineStr"><x:is><x:t>${s}</x:t></x:is></x:c></x:row></x:sheetData></x:worksheet>`;
  put('xl/workbook.xml', `<x:workbook xmlns:rel="${REL}" xmlns:x="${M}"><x:workbookPr date1904="true"/><x:sheets><x:sheet name="字典" sheetId="1" state="hidden" rel:id="R1"/><x:sheet name="数据" sheetId="2" rel:id="R2"/></x:sheets></x:workbook>`);
  put('xl/_rels/workbook.xml.rels', `<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Type="${REL}/worksheet" Target="/xl/worksheets/sheet1.xml" Id="R1"/><Relationship Type="${REL}/worksheet" Target="/xl/worksheets/sheet2.xml" Id="R2"/></Relationships>`);
  put('xl/worksheets/sheet1.xml', one('字典'));
  put('xl/worksheets/sheet2.xml', one('数据'));
  const zip = await z.generateAsync({ type: 'nodebuffer', compression: 'DEFLATE' });
  t.equal(await firstCell(zip), '数据', 'the hidden first tab is skipped');
  t.equal(await firstCell(zip, '数据'), '数据', 'by name');
  t.equal(await firstCell(zip, '1'), '字典', 'by number');
  const info: { date1904?: boolean } = {};
  for await (const g of xlsxRowGroups((async function* () {
    yield zip;
  })(), undefined, undefined, info)) void g;
  t.equal(info.date1904, true, 'date1904="true" (exceljs read only "1")');
  const plainBook = await tabbed([[1, '甲']]);
  const info2: { date1904?: boolean } = {};
  for await (const g of xlsxRowGroups((async function* () {
    yield plainBook;
  })(), undefined, undefined, info2)) void g;
  t.equal(info2.date1904, false);
});

t.test('empty cells add no columns; the columns before a cell with text are filled and counted in the row', async (t) => {
  t.same(await rows(sheet('<row r="1"><c r="A1"><v>1</v></c><c r="XFD1" s="3"/></row>')), [[1, ['1']]], 'a formatted empty cell far right');
  const far = await rows(sheet('<row r="1"><c r="XFD1"><v>1</v></c></row>'));
  t.equal(far[0]![1].length, 16_384, 'a value at XFD: every column before it');
  const many = sheet('<row><c r="XFD1"><v>1</v></c></row>'.repeat(2_000));
  let groups = 0;
  let most = 0;
  for await (const g of sheetRows(chunks(many, 1 << 20), () => undefined)) {
    groups++;
    most = Math.max(most, g.reduce((n, r) => n + ('fields' in r ? r.fields.length : 0), 0));
  }
  t.ok(most <= 16_384 * 200, `rows are handed on in groups of bounded cells (the largest held ${most} cells; ${groups} groups)`);
});

t.test('the text shared strings expand to is charged (the import counts it towards what it may unpack)', async (t) => {
  const long = ['长'.repeat(500_000)];
  let charged = 0;
  const xml = sheet(Array.from({ length: 10 }, (_, i) => `<row r="${i + 1}"><c r="A${i + 1}" t="s"><v>0</v></c></row>`).join(''));
  for await (const g of sheetRows(chunks(xml), () => long, (n) => (charged += n))) void g;
  t.equal(charged, 5_000_000);
  const bomb = await tabbedShared(long[0]!, 20);
  await t.rejects(firstCellLimited(bomb, 4_000_000), { code: 'ERR_BODY_TOO_LARGE', details: { unpackLimitBytes: 4_000_000 } }, '20 rows naming one string of 500,000 characters: past a 4 MB unpack limit');
});

/** One tab whose 20 rows each name shared string 0 (`text`), the shared strings first in the zip. */
async function tabbedShared(text: string, n: number): Promise<Buffer> {
  const z = new JSZip();
  const put = (name: string, xml: string) => z.file(name, Buffer.from(xml));
  put('xl/workbook.xml', `<workbook ${NS} xmlns:r="${REL}"><sheets><sheet name="甲" sheetId="1" r:id="rId1"/></sheets></workbook>`);
  put('xl/_rels/workbook.xml.rels', `<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="${REL}/worksheet" Target="worksheets/sheet1.xml"/></Relationships>`);
  put('xl/sharedStrings.xml', `<sst ${NS}><si><t>${text}</t></si></sst>`);
  put('xl/worksheets/sheet1.xml', sheet(Array.from({ length: n }, (_, i) => `<row r="${i + 1}"><c r="A${i + 1}" t="s"><v>0</v></c></row>`).join('')));
  return z.generateAsync({ type: 'nodebuffer', compression: 'DEFLATE' });
}

async function firstCellLimited(zip: Buffer, unpackLimitBytes: number): Promise<number> {
  let n = 0;
  for await (const g of xlsxRowGroups((async function* () {
    yield zip;
  })(), undefined, { unpackLimitBytes })) n += g.length;
  return n;
}

t.test('rows after the real </sheetData> are never read, whatever the chunks; a nested one ends nothing', async (t) => {
  const xml = sheet('<row r="1"><c r="A1"><v>1</v></c></row>').replace('</worksheet>', '<sheetData><row r="9"><c r="A9"><v>9</v></c></row></sheetData></worksheet>');
  for (const size of [7, 1 << 20]) {
    const out: number[] = [];
    for await (const g of sheetRows(chunks(xml, size), () => undefined)) for (const r of g) out.push(r.line);
    t.same(out, [1], `chunks of ${size}`);
  }
  const nested = sheet('<row r="1"><c r="A1"><v>1</v><x><sheetData></sheetData></x></c></row><row r="2"><c r="A2"><v>2</v></c></row>');
  t.same(await rows(nested), [[1, ['1']], [2, ['2']]]);
});

t.test('xl/workbook.xml past MAX_WORKBOOK_PART_BYTES: ERR_IMPORT_FORMAT', async (t) => {
  const z = new JSZip();
  z.file('xl/workbook.xml', Buffer.from(`<workbook ${NS}><definedNames>${' '.repeat(17 * 1024 * 1024)}</definedNames></workbook>`));
  const zip = await z.generateAsync({ type: 'nodebuffer', compression: 'DEFLATE' });
  await t.rejects(firstCell(zip), { code: 'ERR_IMPORT_FORMAT', details: { part: 'xl/workbook.xml', partLimitBytes: 16 * 1024 * 1024 } });
});

t.test('an import of a workbook in the 1904 date system: its dates land on the days Excel shows', async (t) => {
  const { nationalCfHeader, nationalCfRows } = await import('../../scripts/bench/national-data.js');
  const { csvSource } = await import('../../node/import-sources.js');
  const ExcelJS = (await import('exceljs')).default;
  const header = nationalCfHeader();
  const at = header.indexOf('处罚决定日期');
  const dates: string[] = [];
  for (const date1904 of [true, false]) {
    const wb = new ExcelJS.Workbook();
    wb.properties.date1904 = date1904;
    const ws = wb.addWorksheet('行政处罚');
    ws.addRow(header);
    const row = [...nationalCfRows(1).next().value!.cells] as unknown[];
    row[at] = new Date(Date.UTC(2026, 2, 1)); // exceljs writes the day number of the workbook's system
    ws.addRow(row);
    const buf = Buffer.from(await wb.xlsx.writeBuffer());
    const book = await (await JSZipLoad(buf)).file('xl/workbook.xml')!.async('string');
    t.equal(book.includes('date1904="1"'), date1904, `written with date1904 ${date1904}`);
    for await (const g of csvSource(Readable.from([buf]), 1 << 30, 'CF')) {
      for (const item of g) if ('input' in item) dates.push((item.input as { fields: { decisionDate: string } }).fields.decisionDate);
    }
  }
  t.same(dates, ['2026-03-01', '2026-03-01']);
});

t.test('two XLSX reads at once at most: the third is refused with ERR_IMPORT_BUSY, and once one ends another may start', async (t) => {
  const { MAX_CONCURRENT_XLSX } = await import('../../node/import-xlsx.js');
  const zip = await tabbed([[1, '甲']]);
  const open = async () => {
    const g = xlsxRowGroups((async function* () {
      yield zip;
    })());
    await g.next(); // reading: its first rows are out
    return g;
  };
  const running = [];
  for (let i = 0; i < MAX_CONCURRENT_XLSX; i++) running.push(await open());
  await t.rejects(open(), { code: 'ERR_IMPORT_BUSY', details: { maxConcurrent: MAX_CONCURRENT_XLSX } });
  await running.pop()!.return(undefined);
  const again = await open();
  t.pass('after one ended, another starts');
  await again.return(undefined);
  for (const g of running) await g.return(undefined);
  t.equal(await firstCell(zip), '第1页', 'and every slot is free again');
  await Promise.all([firstCell(zip), firstCell(zip)]);
  t.pass('two at once read');
});

t.test('shared strings: an item past MAX_ROW_BYTES characters, or one text node or tag past it, is refused as it arrives (ERR_IMPORT_FORMAT)', async (t) => {
  const { tagBounded } = await import('../../node/import-xlsx-cells.js');
  const escapes = `<sst ${NS}><si><t>${'_x0041_'.repeat(200_000)}</t></si></sst>`; // 1.4 MB of escapes: decoded at once they once ran the heap out
  await t.rejects(sharedStrings(chunks(escapes, 65_536)), { code: 'ERR_IMPORT_FORMAT', details: { reason: 'sharedString', maxChars: MAX_ROW_BYTES } }, 'one text node past the bound');
  const runs = `<sst ${NS}><si>${`<r><t>${'甲'.repeat(100_000)}</t></r>`.repeat(11)}</si></sst>`;
  await t.rejects(sharedStrings(chunks(runs, 65_536)), { code: 'ERR_IMPORT_FORMAT', details: { reason: 'sharedString' } }, 'runs adding up past it');
  t.equal((await sharedStrings(chunks(`<sst ${NS}><si><t>${'甲'.repeat(32_767)}</t></si></sst>`, 65_536)))[0]!.length, 32_767, "Excel's longest cell reads");
  const drain = async (g: AsyncGenerator<string>) => {
    for await (const c of g) void c;
  };
  const err = () => new Error('too long');
  // the bound is on the characters between two '<' (or after the last one)
  await drain(tagBounded(chunks(`<a>${'x'.repeat(108)}</a><b c="${'y'.repeat(102)}"/>`, 7), 110, err));
  t.pass('110 characters between two < pass a bound of 110, whatever the chunks');
  await t.rejects(drain(tagBounded(chunks(`<a>${'x'.repeat(109)}</a>`, 7), 110, err)), /too long/, 'a tag and text node of 111');
  await t.rejects(drain(tagBounded(chunks(`<b c="${'y'.repeat(103)}"/>`, 3), 110, err)), /too long/, 'a tag of 111 at the end');
  await t.rejects(drain(tagBounded(chunks('z'.repeat(111), 50), 110, err)), /too long/, 'no < at all');
});

t.test('xl/workbook.xml listing more tabs than MAX_WORKSHEETS: ERR_IMPORT_FORMAT (tabs were matched to relationships one by one per worksheet)', async (t) => {
  const { MAX_WORKSHEETS, workbookPart } = await import('../../node/import-xlsx-cells.js');
  const many = (n: number) => `<workbook ${NS} xmlns:r="${REL}"><sheets>${Array.from({ length: n }, (_, i) => `<sheet name="s${i}" sheetId="${i + 1}" r:id="rId${i + 1}"/>`).join('')}</sheets></workbook>`;
  t.equal((await workbookPart(chunks(many(MAX_WORKSHEETS), 65_536))).sheets.length, MAX_WORKSHEETS);
  await t.rejects(workbookPart(chunks(many(MAX_WORKSHEETS + 1), 65_536)), { code: 'ERR_IMPORT_FORMAT', details: { maxWorksheets: MAX_WORKSHEETS } });
});

t.test('an upload that stops sending while it holds a place: ERR_IMPORT_STALLED (408) after idleMs, and its place is free again', async (t) => {
  const { MAX_CONCURRENT_XLSX } = await import('../../node/import-xlsx.js');
  const zip = await tabbed([[1, '甲']]);
  let stop!: () => void;
  const never = new Promise<void>((r) => (stop = r));
  async function* stalls(): AsyncGenerator<Buffer> {
    yield zip.subarray(0, 100);
    await never; // the client went silent
  }
  const read = async () => {
    for await (const g of xlsxRowGroups(stalls(), undefined, { unpackLimitBytes: 1 << 30, idleMs: 50 })) void g;
  };
  await t.rejects(Promise.all(Array.from({ length: MAX_CONCURRENT_XLSX }, read)), { code: 'ERR_IMPORT_STALLED', details: { idleMs: 50 } });
  await Promise.allSettled(Array.from({ length: MAX_CONCURRENT_XLSX }, read));
  t.equal(await firstCell(zip), '第1页', 'the places are free: another import reads');
  stop();
});
