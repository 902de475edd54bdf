/** `credit catalog list` and `credit catalog example TYPE`: the credit record catalog. */
import { CATALOG_VERSION, exampleRecord, getRecordType, listRecordTypes, recordTypeOrigin, SEVERITY_WINDOWS, type RecordType, type Severity } from '../../protocol/catalog.js';
import { templateColumns, templateCsv } from '../../protocol/catalog-template.js';
import { provinceCatalog } from '../../protocol/catalog-registry.js';
import { loadConfig } from '../../node/config.js';
import { installStoredCatalog } from '../../node/exchange/catalog-sync.js';
import { CLASSIFICATION_LABELS } from '../../protocol/classification.js';
import { writeFileSync } from 'node:fs';
import { writeTemplateXlsx } from './catalog-template.js';
import { cliError } from '../errors.js';
import { command, group } from './framework.js';

function severities(t: RecordType): Severity[] {
  return t.negative ? ((t.fields.find((f) => f.name === 'severity')?.enum ?? []) as Severity[]) : [];
}

function windows(t: RecordType): string {
  const s = severities(t);
  if (s.length === 0) return '—';
  return s.map((x) => `${x} ${SEVERITY_WINDOWS[x].minMonths}–${SEVERITY_WINDOWS[x].maxMonths}m`).join(', ');
}

/** Display width: CJK characters take two columns. */
function width(s: string): number {
  let w = 0;
  for (const ch of s) w += /[\u1100-\u115f\u2e80-\ua4cf\uac00-\ud7a3\uf900-\ufaff\ufe30-\ufe4f\uff00-\uff60\uffe0-\uffe6]/.test(ch) ? 2 : 1;
  return w;
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => width(r[i]!))));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c + ' '.repeat(widths[i]! - width(c)))).join('  ').trimEnd()).join('\n') + '\n';
}

function typeRows(types: RecordType[]): string[][] {
  const rows = [['code', 'name', 'class', 'negative', 'disclosure window (months)', 'natural key']];
  for (const t of types) {
    rows.push([t.code, t.name, `${t.classification} ${CLASSIFICATION_LABELS[t.classification]}`, t.negative ? 'yes' : 'no', windows(t), t.naturalKey.join(' + ')]);
  }
  return rows;
}

const list = command({
  name: 'list',
  summary: 'list the record types and where each comes from: names, default classes, negative or not, disclosure windows',
  usage: '[--config NODE_CONFIG] [--json]',
  help: [
    '  --config FILE  a node config: also list the province supplementary catalog (地方补充目录) the node',
    '                 holds (DATADIR/exchange/province-catalog.json, verified against the CA first)',
    '  --json  print a JSON object { version, province, types: [{ code, name, origin, classification,',
    '          negative, severities, windows, naturalKey, subjectField, fields }] } instead of the tables',
    'Origin: the built-in national catalog (its version) or the province catalog (its serial and',
    'publication time). Windows are calendar months from the decision date (Order No. 36 of 2025): the',
    'lower bound is when repair may be applied for, the upper the longest disclosure. A class may be',
    'raised per record, never lowered; personal fields (pii) are masked for callers below max(class, shared).',
  ].join('\n'),
  options: { json: { type: 'boolean' }, config: { type: 'string' } },
  run: async ({ values, io }) => {
    if (typeof values.config === 'string') await installStoredCatalog(loadConfig(values.config).dataDir, new Date());
    const types = listRecordTypes();
    const province = provinceCatalog();
    if (values.json) {
      const out = types.map((t) => ({
        code: t.code, name: t.name, origin: recordTypeOrigin(t.code), classification: t.classification, negative: t.negative,
        severities: severities(t), windows: Object.fromEntries(severities(t).map((s) => [s, SEVERITY_WINDOWS[s]])),
        naturalKey: t.naturalKey, subjectField: t.subjectField, fields: t.fields,
      }));
      const p = province ? { province: province.province, serial: province.serial, publishedAt: province.publishedAt, title: province.title, digest: province.digest } : null;
      io.stdout(JSON.stringify({ version: CATALOG_VERSION, province: p, types: out }, null, 2) + '\n');
      return 0;
    }
    const national = types.filter((t) => recordTypeOrigin(t.code).source === 'national');
    let text = `credit catalog ${CATALOG_VERSION}\n\n${table(typeRows(national))}`;
    if (province) {
      const added = types.filter((t) => recordTypeOrigin(t.code).source === 'province');
      text += `\nprovince supplementary catalog (地方补充目录) ${province.province} serial ${province.serial}, published ${province.publishedAt}: ${province.title}\n\n${table(typeRows(added))}`;
    }
    io.stdout(`${text}\npii fields (masked below max(class, shared)): idNumber, legalRepIdNumber; a natural person's subjectName\n`);
    return 0;
  },
});

const example = command({
  name: 'example',
  summary: 'print one valid example record of TYPE, in the shape POST /v1/records takes',
  usage: 'TYPE',
  help: '  TYPE  a record type code from "credit catalog list" (XK, CF, YZSX, SXBZX, SXJL, NSXY_A)',
  options: {},
  positionals: true,
  run: async ({ positionals, io }) => {
    if (positionals.length !== 1) throw cliError('ERR_USAGE', 'give exactly one TYPE');
    const type = positionals[0]!;
    getRecordType(type);
    const e = exampleRecord(type) as ReturnType<typeof exampleRecord> | undefined;
    if (e === undefined) throw cliError('ERR_USAGE', `${type} is not a national type: examples exist for ${listRecordTypes().filter((t) => recordTypeOrigin(t.code).source === 'national').map((t) => t.code).join(', ')}`);
    io.stdout(JSON.stringify(e, null, 2) + '\n');
    return 0;
  },
});

const template = command({
  name: 'template',
  summary: 'write an empty import template of TYPE: the national 双公示 headers in order (CSV or XLSX)',
  usage: 'TYPE [--xlsx] [--out FILE] [--with-local]',
  help: [
    '  TYPE          a record type code from "credit catalog list"; XK and CF follow the national',
    '                双公示 layout (2021) column by column (docs/catalog.md)',
    '  --xlsx        write an Excel workbook instead of CSV: sheet 1 the header row (bold, frozen;',
    '                必填 columns in red, every header with a comment saying its rule), sheet 2',
    '                "填写说明" the legend (column, 必填/条件必填/选填, what goes in it). Needs --out.',
    '  --out FILE    write to FILE (default for CSV: standard output)',
    '  --with-local  add the province\'s own columns (失信程度) where the catalog has them',
    'The CSV template is UTF-8 with a BOM and one header row (CRLF), which Excel opens as is.',
    'Fill it from row 2 and load it with "credit import --url URL --token TOKEN --type TYPE --file FILE".',
  ].join('\n'),
  options: { xlsx: { type: 'boolean' }, out: { type: 'string' }, 'with-local': { type: 'boolean' } },
  positionals: true,
  run: async ({ values, positionals, io }) => {
    if (positionals.length !== 1) throw cliError('ERR_USAGE', 'give exactly one TYPE');
    const t = getRecordType(positionals[0]!);
    const columns = templateColumns(t, { withLocal: values['with-local'] === true });
    const out = typeof values.out === 'string' ? values.out : undefined;
    if (values.xlsx) {
      if (out === undefined) throw cliError('ERR_USAGE', '--xlsx writes a binary workbook: give --out FILE');
      await writeTemplateXlsx(out, t, columns, CATALOG_VERSION);
    } else if (out !== undefined) writeFileSync(out, templateCsv(columns));
    else io.stdout(templateCsv(columns));
    if (out !== undefined) io.stderr(`wrote ${out}: ${t.code} ${t.name}, ${columns.length} columns (${columns.filter((c) => c.rule === '必填').length} 必填), catalog ${CATALOG_VERSION}\n`);
    return 0;
  },
});

export const catalogGroup = group('catalog', 'the credit record catalog', [list, example, template]);
