import t from 'tap';
import { Readable } from 'node:stream';
import { getRecordType } from '../../protocol/catalog.js';
import { csvSource, ndjsonSource, type SourceItem } from '../../node/import-sources.js';

async function all(gen: AsyncGenerator<SourceItem[]>): Promise<SourceItem[]> {
  const out: SourceItem[] = [];
  for await (const group of gen) {
    if (group.length === 0) throw new Error('a source never yields an empty group');
    out.push(...group);
  }
  return out;
}

/** A stream that hands out the text in small, awkward chunks (splitting multi-byte characters). */
function chunked(text: string, size = 5): Readable {
  const buf = Buffer.from(text, 'utf8');
  const parts: Buffer[] = [];
  for (let i = 0; i < buf.length; i += size) parts.push(buf.subarray(i, i + size));
  return Readable.from(parts);
}

/** Every required column of CF but the three the tests fill, so a header passes the up-front check. */
const OTHER_REQUIRED = getRecordType('CF').fields.filter((f) => f.required && !['subjectName', 'decisionNo'].includes(f.name)).map((f) => f.label);
const pad = ','.repeat(OTHER_REQUIRED.length);

t.test('CSV with a BOM and Chinese headers maps columns to field names', async (t) => {
  const csv = `\uFEFF行政相对人名称,统一社会信用代码,行政处罚决定书文号,${OTHER_REQUIRED.join(',')}\r\n长沙示例,91430102MA4L0000X1,长市监〔2026〕1号${pad}\r\n"带,逗号","",X-2${pad}\r\n`;
  const items = await all(csvSource(chunked(csv), 1 << 20, 'CF'));
  t.equal(items.length, 2);
  t.match(items[0], { line: 2, input: { type: 'CF', fields: { subjectName: '长沙示例', uscc: '91430102MA4L0000X1', decisionNo: '长市监〔2026〕1号' } } });
  t.same('input' in items[1]! && items[1].input, { type: 'CF', fields: { subjectName: '带,逗号', decisionNo: 'X-2' } }, 'quoted comma kept, empty cell absent');
});

t.test('CSV: wrong column count and broken quotes are per-line errors, parsing goes on', async (t) => {
  const csv = `subjectName,decisionNo,${OTHER_REQUIRED.join(',')}\na,1${pad}\nb\n"c,2\nd,4${pad}\n`;
  const items = await all(csvSource(chunked(csv, 3), 1 << 20, 'CF'));
  const errors = items.filter((i) => 'error' in i);
  t.ok(errors.length >= 1);
  for (const e of errors) t.equal('error' in e && e.error.code, 'ERR_IMPORT_LINE_MALFORMED');
  t.ok(items.some((i) => 'input' in i && (i.input as { fields: { subjectName: string } }).fields.subjectName === 'a'));
  t.ok(items.some((i) => 'error' in i && i.line === 3), 'the short row is reported at its line');
});

t.test('CSV: a missing required column fails the import up front, naming every one; an unknown column does not', async (t) => {
  await t.rejects(all(csvSource(chunked('subjectName,颜色\na,b\n'), 1 << 20, 'CF')), { code: 'ERR_IMPORT_HEADER_INVALID', details: { missing: getRecordType('CF').fields.filter((f) => f.required && f.name !== 'subjectName').map((f) => f.label) } });
  await t.rejects(all(csvSource(chunked('a\n'), 1 << 20, 'ZZ')), { code: 'ERR_UNKNOWN_RECORD_TYPE' });
});

t.test('NDJSON: BOM, CRLF, blank lines, multi-byte splits, a default type, bad lines', async (t) => {
  const text = '\uFEFF{"type":"CF","fields":{"subjectName":"长沙"}}\r\n\n{"fields":{"subjectName":"株洲"}}\nnot json\n[1]\n{"type":"XK","fields":{}}';
  const items = await all(ndjsonSource(chunked(text, 4), 1 << 20, 'CF'));
  t.same(items.map((i) => i.line), [1, 3, 4, 5, 6]);
  t.same(items[0], { line: 1, input: { type: 'CF', fields: { subjectName: '长沙' } } });
  t.same(items[1], { line: 3, input: { fields: { subjectName: '株洲' }, type: 'CF' } }, 'type filled in');
  t.equal('error' in items[2]! && items[2].error.code, 'ERR_IMPORT_LINE_MALFORMED');
  t.equal('error' in items[3]! && items[3].error.code, 'ERR_IMPORT_LINE_MALFORMED');
  t.same(items[4], { line: 6, input: { type: 'XK', fields: {} } }, 'last line without newline');
});

t.test('the byte limit stops a stream with ERR_BODY_TOO_LARGE', async (t) => {
  const big = '{"type":"CF","fields":{}}\n'.repeat(100);
  await t.rejects(all(ndjsonSource(chunked(big, 64), 500)), { code: 'ERR_BODY_TOO_LARGE' });
  await t.rejects(all(csvSource(chunked(`subjectName,decisionNo,${OTHER_REQUIRED.join(',')}\n` + `x,y${pad}\n`.repeat(1000), 64), 500, 'CF')), { code: 'ERR_BODY_TOO_LARGE' });
});
