/**
 * Clerk-facing (zh-CN) messages of an import report: what is wrong, in which column, the value
 * seen, and how to fix it, with the stable code beside it — `「处罚决定日期」2026-02-30 不是有效日期
 * （2月没有30日）[ERR_INVALID_DATE]`. The row number and the row's 行政相对人名称 / 文书号 are added
 * by the report (import-service.ts). Built from the validator's code and field, never by parsing
 * its English message.
 */
import type { FieldSpec, RecordType } from '../protocol/catalog.js';
import { daysInMonth } from '../protocol/catalog-calendar.js';
import { disclosureBounds, isSeverity, SEVERITY_LABELS } from '../protocol/catalog-severity.js';
import { residentIdCheckChar, usccCheckChar, USCC_CHARSET } from '../protocol/identifiers.js';

const MAX_ECHO = 60;
const echo = (v: string) => (v.length > MAX_ECHO ? `${v.slice(0, MAX_ECHO - 1)}…` : v);

function dateHint(v: string): string {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(v);
  if (!m) return '应写作 2026-03-01、2026/3/1 或 2026年3月1日';
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  if (mo < 1 || mo > 12) return `没有${mo}月`;
  if (d < 1 || d > daysInMonth(y, mo)) return mo === 2 && d === 29 ? `${y}年2月没有29日` : `${mo}月没有${d}日`;
  return '应写作 2026-03-01';
}

function usccHint(v: string): string {
  if (v.length !== 18) return `应为 18 位，实为 ${v.length} 位`;
  for (let i = 0; i < 18; i++) if (!USCC_CHARSET.includes(v[i]!)) return `第 ${i + 1} 位「${v[i]}」不能出现（不用 I、O、S、V、Z）`;
  const want = usccCheckChar(v.slice(0, 17));
  if (v[17] !== want) return `校验位应为 ${want}（请核对前 17 位是否抄错）`;
  return '前 17 位中的机构代码部分未通过校验，请核对';
}

function residentIdHint(v: string): string {
  if (!/^\d{17}[\dX]$/.test(v)) return '应为 17 位数字加 1 位数字或 X';
  const want = residentIdCheckChar(v.slice(0, 17));
  return v[17] !== want ? `校验位应为 ${want}` : '出生日期不是有效日期';
}

/** The fix for one problem, in Chinese, with the code. */
export function clerkMessage(t: RecordType, problem: { field: string; code: string; message: string }, value: unknown, fields: Record<string, unknown>): string {
  const f: FieldSpec | undefined = t.fields.find((x) => x.name === problem.field);
  const col = f ? `「${f.label}」` : problem.field ? `「${problem.field}」` : '';
  const v = value === undefined || value === null ? '' : echo(String(value));
  const code = ` [${problem.code}]`;
  switch (problem.code) {
    case 'ERR_FIELD_REQUIRED':
      if (problem.field === 'severity') return `${col}为空，且无法推定：请填写失信程度（轻微/一般/严重）或公示截止期${code}`;
      return `${col}不能为空，请填写${code}`;
    case 'ERR_INVALID_DATE':
      return `${col}${v} 不是有效日期（${dateHint(v)}）${code}`;
    case 'ERR_INVALID_USCC':
      return `${col}${v} 不是有效的统一社会信用代码（${usccHint(v)}）${code}`;
    case 'ERR_INVALID_RESIDENT_ID':
      return `${col}${v} 不是有效的身份证号码（${residentIdHint(v)}）${code}`;
    case 'ERR_FIELD_ENUM':
      return `${col}${v} 不是可选值，应为：${(f?.aliases ? f.enum?.map((e) => Object.entries(f.aliases!).find(([, x]) => x === e)?.[0] ?? e) : f?.enum)?.join('、') ?? ''}${code}`;
    case 'ERR_FIELD_TYPE':
      return `${col}${v} 应为数字${f?.label.includes('万元') ? '（单位万元，如 0.5）' : ''}${code}`;
    case 'ERR_FIELD_RANGE':
      return `${col}${v} 超出范围，应在 ${f?.minimum ?? '-∞'} 至 ${f?.maximum ?? '∞'} 之间${code}`;
    case 'ERR_FIELD_TOO_LONG':
      return `${col}超过 ${f?.maxLength ?? ''} 个字，请删减${code}`;
    case 'ERR_DATE_RANGE':
      return `${col}${v} 早于「有效期自」${String(fields.validFrom ?? '')}${code}`;
    case 'ERR_DISCLOSURE_PERIOD': {
      const d = String(fields.decisionDate ?? '');
      const s = fields.severity;
      if (isSeverity(s) && /^\d{4}-\d{2}-\d{2}$/.test(d)) {
        const b = disclosureBounds(s, d);
        return `${col}${v} 超出${SEVERITY_LABELS[s]}失信的公示期：处罚决定日期 ${d} 起应在 ${b.earliest} 至 ${b.latest} 之间${code}`;
      }
      return `${col}${v} 不在任何失信程度的公示期内（最长 3 年），请核对公示截止期或处罚决定日期${code}`;
    }
    case 'ERR_CLASSIFICATION_DENIED':
      return `本行的信息等级超出您的权限，请由有权限的人员导入${code}`;
    case 'ERR_IMPORT_LINE_MALFORMED':
      return `本行格式有误：${problem.message}${code}`;
    default:
      return `${col}${v ? `${v} ` : ''}${problem.message}${code}`;
  }
}
