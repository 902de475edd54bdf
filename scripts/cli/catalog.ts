/** `credit catalog list` and `credit catalog example TYPE`: the credit record catalog. */
import { CATALOG_VERSION, exampleRecord, getRecordType, listRecordTypes, SEVERITY_WINDOWS, type RecordType, type Severity } from '../../protocol/catalog.js';
import { CLASSIFICATION_LABELS } from '../../protocol/classification.js';
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

const list = command({
  name: 'list',
  summary: 'list the record types: names, default classes, negative or not, disclosure windows',
  usage: '[--json]',
  help: [
    '  --json  print a JSON array (code, name, classification, negative, severities, windows,',
    '          naturalKey, subjectField, fields) instead of the table',
    'Windows are calendar months from the decision date (Order No. 36 of 2025): the lower bound is',
    'when repair may be applied for, the upper the longest disclosure. A class may be raised per',
    'record, never lowered; personal fields (pii) are masked for callers below max(class, shared).',
  ].join('\n'),
  options: { json: { type: 'boolean' } },
  run: async ({ values, io }) => {
    const types = listRecordTypes();
    if (values.json) {
      const out = types.map((t) => ({
        code: t.code, name: t.name, classification: t.classification, negative: t.negative,
        severities: severities(t), windows: Object.fromEntries(severities(t).map((s) => [s, SEVERITY_WINDOWS[s]])),
        naturalKey: t.naturalKey, subjectField: t.subjectField, fields: t.fields,
      }));
      io.stdout(JSON.stringify({ version: CATALOG_VERSION, types: out }, null, 2) + '\n');
      return 0;
    }
    const rows = [['code', 'name', 'class', 'negative', 'disclosure window (months)', 'natural key']];
    for (const t of types) {
      rows.push([t.code, t.name, `${t.classification} ${CLASSIFICATION_LABELS[t.classification]}`, t.negative ? 'yes' : 'no', windows(t), t.naturalKey.join(' + ')]);
    }
    io.stdout(`credit catalog ${CATALOG_VERSION}\n\n${table(rows)}\npii fields (masked below max(class, shared)): idNumber; a natural person's subjectName\n`);
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
    io.stdout(JSON.stringify(exampleRecord(type), null, 2) + '\n');
    return 0;
  },
});

export const catalogGroup = group('catalog', 'the credit record catalog', [list, example]);
