/** The streaming CSV reader against csv-parse as an oracle, on random CSV split at random points. */
import t from 'tap';
import fc from 'fast-check';
import { parse } from 'csv-parse/sync';
import { csvRowGroups, csvRows, MAX_ROW_BYTES, type CsvRow } from '../../node/csv-rows.js';

async function rows(text: string, cuts: number[] = []): Promise<CsvRow[]> {
  const buf = Buffer.from(text, 'utf8');
  const points = [...new Set(cuts.map((c) => c % (buf.length + 1)))].sort((a, b) => a - b);
  const chunks: Buffer[] = [];
  let last = 0;
  for (const p of points) {
    chunks.push(buf.subarray(last, p));
    last = p;
  }
  chunks.push(buf.subarray(last));
  const out: CsvRow[] = [];
  for await (const r of csvRows((async function* () { yield* chunks; })())) out.push(r);
  return out;
}

const cell = fc.oneof(
  fc.string({ unit: fc.constantFrom('a', '长', '沙', ' ', '1', ',', '"', '\n', '\r\n', '（', 'é') }),
  fc.constantFrom('', '91430102MA4L0000X1', '2026-04-15'),
);
const quote = (v: string) => (/[",\n\r]/.test(v) || v === '' ? `"${v.replaceAll('"', '""')}"` : v);

t.test('agrees with csv-parse on random well-formed CSV, however the bytes are split', async (t) => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(fc.array(cell, { minLength: 1, maxLength: 5 }), { minLength: 1, maxLength: 8 }),
      fc.constantFrom('\n', '\r\n'),
      fc.boolean(),
      fc.array(fc.nat(), { maxLength: 6 }),
      async (table, eol, bom, cuts) => {
        const text = (bom ? '\uFEFF' : '') + table.map((r) => r.map(quote).join(',')).join(eol) + eol;
        const expected = parse(text, { bom: true, relax_column_count: true, skip_empty_lines: true }) as string[][];
        const got = await rows(text, cuts);
        const fields = got.map((r) => ('fields' in r ? r.fields : ['ERROR', r.error]));
        if (JSON.stringify(fields) !== JSON.stringify(expected)) throw new Error(`${JSON.stringify(text)}\n got ${JSON.stringify(fields)}\n want ${JSON.stringify(expected)}`);
      },
    ),
    { numRuns: 300 },
  );
  t.pass('300 random files');
});

t.test('row numbers are the spreadsheet\'s (a multi-line cell is one row, a blank line a row); blank lines skipped; no final newline', async (t) => {
  const got = await rows('a,b\n\n"x\ny",2\r\nlast,3');
  t.same(got, [
    { line: 1, fields: ['a', 'b'] },
    { line: 3, fields: ['x\ny', '2'] },
    { line: 4, fields: ['last', '3'] },
  ]);
});

t.test('a stray quote inside a field is kept; text after a closing quote is an error row; reading goes on', async (t) => {
  const got = await rows('a"b,c\n"q"x,1\nok,2\n');
  t.same(got[0], { line: 1, fields: ['a"b', 'c'] });
  t.equal(got[1]!.line, 2);
  t.ok('error' in got[1]!);
  t.same(got[2], { line: 3, fields: ['ok', '2'] });
});

t.test('an unclosed quote at the end is an error row; past MAX_ROW_BYTES the import stops', async (t) => {
  const got = await rows('a,b\n"never closed,1\n');
  t.same(got[0], { line: 1, fields: ['a', 'b'] });
  t.match(got[1], { line: 2, error: /not closed/ });
  const huge = (async function* () {
    yield Buffer.from('h\n"');
    for (let i = 0; i <= MAX_ROW_BYTES / 65536 + 1; i++) yield Buffer.alloc(65536, 0x61);
  })();
  const it = csvRows(huge);
  t.same((await it.next()).value, { line: 1, fields: ['h'] });
  await t.rejects(it.next(), { code: 'ERR_IMPORT_LINE_MALFORMED', details: { line: 2 } });
});

t.test('rows come in one group per chunk, holding every row that chunk completed, never an empty group', async (t) => {
  const chunks = ['a,1\nb,2\nc,', '3', '\nd,4\n', 'e,5'].map((s) => Buffer.from(s));
  const groups: CsvRow[][] = [];
  for await (const g of csvRowGroups((async function* () { yield* chunks; })())) groups.push(g);
  t.same(groups.map((g) => g.map((r) => ('fields' in r ? r.fields.join(':') : 'ERR'))), [['a:1', 'b:2'], ['c:3', 'd:4'], ['e:5']]);
});

t.test('a BOM split across chunks is still skipped; bytes that only look like its start are kept; a row of bad UTF-8 is an error row', async (t) => {
  const bom = Buffer.from('\uFEFFh,长\nx,沙\n');
  const byByte = [...bom].map((b) => Buffer.from([b]));
  const got: CsvRow[] = [];
  for await (const r of csvRows((async function* () { yield* byByte; })())) got.push(r);
  t.same(got, [{ line: 1, fields: ['h', '长'] }, { line: 2, fields: ['x', '沙'] }]);
  t.same(await rows(Buffer.from([0xef, 0x41, 0x2c, 0x62, 0x0a]).toString('latin1')), [{ line: 1, fields: ['\u00efA', 'b'] }], 'latin1 text is re-encoded, not a BOM');
  const bad: CsvRow[] = [];
  for await (const r of csvRows((async function* () { yield Buffer.from([0xef, 0x41, 0x2c, 0xe9, 0x95, 0x2c, 0x63, 0x0a]); })())) bad.push(r);
  t.same(bad, [{ line: 1, error: 'the row is not valid UTF-8 (save the file as UTF-8)' }], 'never decoded to U+FFFD');
});
