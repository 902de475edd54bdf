/**
 * The empty import template of a record type (`credit catalog template TYPE`): its columns in
 * catalog order — for XK and CF the national 双公示 layout — each with whether it must be filled
 * (必填 / 条件必填 / 选填) and what goes in it, in Chinese for the clerk. Pure: the CSV text is built
 * here; scripts/cli/catalog-template.ts writes it or the XLSX workbook.
 */
import { LEGACY_SUBJECT_CODES, NATURAL_PERSON, RESIDENT_ID_DOCUMENTS, type FieldSpec, type RecordType } from './catalog-fields.js';

export type FillRule = '必填' | '条件必填' | '选填';

export interface TemplateColumn {
  name: string;
  label: string;
  rule: FillRule;
  /** What the column holds and when it must be filled, for the legend. */
  note: string;
}

const LEGACY_LABELS = LEGACY_SUBJECT_CODES.map(([, label]) => label).join('、');

function labelOf(t: RecordType, name: string): string {
  return t.fields.find((f) => f.name === name)?.label ?? name;
}

function valueNote(f: FieldSpec): string {
  switch (f.type) {
    case 'date':
      return '日期，格式 YYYY-MM-DD';
    case 'uscc':
      return '18 位统一社会信用代码（GB 32100）';
    case 'enum': {
      // Show the Chinese spelling when the canonical values are ASCII codes (失信程度: 严重 → serious).
      const chinese = f.enum!.map((v) => Object.entries(f.aliases ?? {}).find(([k, to]) => to === v && /[^\x00-\x7f]/.test(k))?.[0] ?? v);
      return `取值：${chinese.join('、')}`;
    }
    case 'enum-list':
      return `可多选，用“；”分隔，取值：${f.enum!.join('、')}`;
    case 'integer':
      return '整数';
    case 'number':
      return f.label.includes('万元') ? '金额，单位万元（1 元 = 0.0001 万元），不小于 0' : '数字';
    default:
      return f.maxLength !== undefined ? `文本，不超过 ${f.maxLength} 字` : '文本';
  }
}

/** Whether a column must be filled, and when, as the validator enforces it (catalog-validate.ts). */
function ruleOf(t: RecordType, f: FieldSpec): { rule: FillRule; when: string } {
  if (f.required) return { rule: '必填', when: '' };
  if (f.requiredIf) return { rule: '条件必填', when: `「${labelOf(t, f.requiredIf.field)}」含${f.requiredIf.anyOf.join('或')}时必填` };
  const persons = t.fields.some((x) => x.name === 'idNumber');
  if (persons && (f.name === 'idType' || f.name === 'idNumber')) return { rule: '条件必填', when: `行政相对人类别为${NATURAL_PERSON}时必填` };
  if (f.name === 'uscc' && persons) {
    const legacy = t.fields.some((x) => x.name === 'regNo');
    return { rule: '条件必填', when: `行政相对人类别不是${NATURAL_PERSON}时必填${legacy ? `；无统一社会信用代码的，填写${LEGACY_LABELS}之一` : ''}` };
  }
  if (f.name === 'legalRepIdType') return { rule: '条件必填', when: `填写${labelOf(t, 'legalRepIdNumber')}时必填` };
  return { rule: '选填', when: '' };
}

function extraNote(f: FieldSpec): string {
  if (f.name === 'idNumber' || f.name === 'legalRepIdNumber') return `证件类型为${RESIDENT_ID_DOCUMENTS.join('或')}时按 GB 11643 校验`;
  if (LEGACY_SUBJECT_CODES.some(([n]) => n === f.name)) return '仅在无统一社会信用代码时填写';
  return '';
}

/**
 * The template's columns: every field of `t` that is a column of the national standard, in
 * catalog order; `withLocal` adds the province's own columns (失信程度) where they sit.
 */
export function templateColumns(t: RecordType, opts: { withLocal?: boolean } = {}): TemplateColumn[] {
  return t.fields
    .filter((f) => opts.withLocal || !f.local)
    .map((f) => {
      const { rule, when } = ruleOf(t, f);
      return { name: f.name, label: f.label, rule, note: [valueNote(f), when, extraNote(f)].filter((x) => x !== '').join('；') };
    });
}

function csvCell(s: string): string {
  return /[",\r\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}

/** The CSV template: UTF-8 with a BOM (Excel opens it as UTF-8), one header row, CRLF. */
export function templateCsv(columns: readonly TemplateColumn[]): string {
  return '\uFEFF' + columns.map((c) => csvCell(c.label)).join(',') + '\r\n';
}
