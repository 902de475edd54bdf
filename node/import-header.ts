/**
 * The header row of a department's export, mapped to catalog fields. Labels compare without case,
 * width or whitespace (全角 → 半角 by NFKC, `行政相对人名称 ` = `行政相对人名称`, `罚款金额(万元)` =
 * `罚款金额（万元）`), and the labels of older templates (the 2016 双公示 template, the 2021 one's
 * `行政相对人代码_1(统一社会信用代码)`) are aliases of today's fields. A column that names no field
 * is kept: its values go to the record's `extra` map, and the report names it once in `warnings`.
 * A missing *required* column refuses the file up front, naming every missing column
 * (ERR_IMPORT_HEADER_INVALID).
 */
import type { FieldSpec, RecordType } from '../protocol/catalog.js';
import { lookupField } from '../protocol/catalog-fields.js';
import { nodeError } from './errors.js';

/** Case-, width- and whitespace-insensitive form of a column label. */
export function foldHeader(s: string): string {
  return s.normalize('NFKC').replace(/[\s\u200b\ufeff]+/g, '').toLowerCase();
}

/**
 * Labels of older templates → field name, per type code (`*`: every type). Keys are folded
 * (foldHeader). An alias whose field the type lacks is ignored (the column lands in `extra`).
 */
const ALIASES: Record<string, Record<string, string>> = {
  '*': {
    '行政相对人代码_1(统一社会信用代码)': 'uscc',
    '统一社会信用代码(行政相对人代码_1)': 'uscc',
    '行政相对人统一社会信用代码': 'uscc',
    '法定代表人姓名': 'legalRep',
    '法定代表人(负责人)': 'legalRep',
    '相对人名称': 'subjectName',
    '行政相对人类型': 'subjectCategory',
    '居民身份证号': 'idNumber',
    '证件号': 'idNumber',
    '数据来源单位统一信用代码': 'sourceUscc',
  },
  CF: {
    '处罚决定书文号': 'decisionNo',
    '行政处罚决定文书号': 'decisionNo',
    '处罚类别1': 'category',
    '处罚结果': 'content',
    '罚款金额': 'fineAmount',
    '罚款金额(万元)': 'fineAmount',
    '处罚日期': 'decisionDate',
    '作出处罚决定日期': 'decisionDate',
    '处罚机关统一信用代码': 'authorityUscc',
    '失信严重程度': 'severity',
    '公示截止日期': 'disclosureEnd',
  },
  XK: {
    '行政许可决定书文号': 'decisionNo',
    '许可决定书文号': 'decisionNo',
    '审批类别': 'category',
    '许可截止期': 'validTo',
    '许可机关统一信用代码': 'authorityUscc',
  },
};

const foldedAliases = new Map<string, Map<string, string>>();
function aliasesOf(type: string): Map<string, string> {
  let m = foldedAliases.get(type);
  if (!m) {
    m = new Map();
    for (const [k, v] of Object.entries({ ...ALIASES['*'], ...(ALIASES[type] ?? {}) })) m.set(foldHeader(k), v);
    foldedAliases.set(type, m);
  }
  return m;
}

const labelIndexes = new WeakMap<RecordType, Map<string, FieldSpec>>();
/** The field a header cell names: by name or label as written, folded, or by an older template's alias. */
export function fieldForHeader(t: RecordType, cell: string): FieldSpec | undefined {
  const direct = lookupField(t.fields, cell.trim());
  if (direct) return direct;
  let ix = labelIndexes.get(t);
  if (!ix) {
    ix = new Map();
    for (const f of t.fields) {
      if (!ix.has(foldHeader(f.label))) ix.set(foldHeader(f.label), f);
      if (!ix.has(foldHeader(f.name))) ix.set(foldHeader(f.name), f);
    }
    labelIndexes.set(t, ix);
  }
  const folded = foldHeader(cell);
  const byLabel = ix.get(folded);
  if (byLabel) return byLabel;
  const alias = aliasesOf(t.code).get(folded);
  return alias ? t.fields.find((f) => f.name === alias) : undefined;
}

/** The column of a rejected-rows file (import-report-file.ts): dropped when that file is imported again. */
export const ERROR_COLUMN = '错误说明';

export interface ImportWarning {
  code: string;
  message: string;
  column?: string;
}

export interface HeaderMap {
  /** The header cells as written (for the rejected-rows file). */
  columns: string[];
  /** Per column: the field it fills, or undefined (then `extra[i]` names it, or it is ignored when blank). */
  fields: (FieldSpec | undefined)[];
  /** Per column: the `extra` key of an unknown column, as written (trimmed). */
  extra: (string | undefined)[];
  warnings: ImportWarning[];
}

/** Maps a header row; throws ERR_IMPORT_HEADER_INVALID naming every missing required column. */
export function mapHeader(t: RecordType, cells: string[], line: number): HeaderMap {
  const fields: (FieldSpec | undefined)[] = [];
  const extra: (string | undefined)[] = [];
  const warnings: ImportWarning[] = [];
  const taken = new Set<string>();
  cells.forEach((raw, i) => {
    const cell = raw.trim();
    const f = cell === '' ? undefined : fieldForHeader(t, cell);
    if (f && !taken.has(f.name)) {
      taken.add(f.name);
      fields.push(f);
      extra.push(undefined);
      return;
    }
    fields.push(undefined);
    if (cell === '' || cell === ERROR_COLUMN) {
      extra.push(undefined);
      return;
    }
    const key = extra.includes(cell) ? `${cell}#${i + 1}` : cell;
    extra.push(key);
    warnings.push(
      f
        ? { code: 'ERR_FIELD_UNKNOWN', column: cell, message: `第 ${i + 1} 列「${cell}」与前面的列同为「${f.label}」，本列的值已原样保存在 extra 中 [ERR_FIELD_UNKNOWN]` }
        : { code: 'ERR_FIELD_UNKNOWN', column: cell, message: `第 ${i + 1} 列「${cell}」不是 ${t.code}（${t.name}）目录的字段，本列的值已原样保存在 extra 中 [ERR_FIELD_UNKNOWN]` },
    );
  });
  const missing = t.fields.filter((f) => f.required && !taken.has(f.name));
  if (missing.length) {
    const labels = missing.map((f) => `「${f.label}」`).join('、');
    throw nodeError('ERR_IMPORT_HEADER_INVALID', `第 ${line} 行表头缺少 ${t.code}（${t.name}）的必填列 ${labels}：请按模板（credit catalog template ${t.code}）补上这些列后重新导入 [ERR_IMPORT_HEADER_INVALID]`, {
      line, type: t.code, missing: missing.map((f) => f.label),
    });
  }
  return { columns: cells, fields, extra, warnings };
}
