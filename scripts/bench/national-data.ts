/**
 * A 行政处罚 (CF) export as a department's system produces it under the national 双公示 data
 * standard (2021): every national column in the standard's order, the catalog's other CF labels
 * after them, and **no 失信程度 column** (the node derives it from 公示截止期). Cells as clerks
 * write them — dates `2026/5/3`, `2026年5月3日`, full-width digits; amounts `5000元` in the 万元
 * column and `1,000.50`; lower-case USCCs; quoted commas; multi-line 违法事实 — and 1% of the rows
 * bad in each of BAD_KINDS. Written as CSV (UTF-8 with BOM and CRLF, or GBK) or XLSX (streamed).
 * Used by test/node/import-national.test.ts and the XLSX import bench.
 */
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import iconv from 'iconv-lite';
import { getRecordType } from '../../protocol/catalog.js';
import { addMonths } from '../../protocol/catalog-calendar.js';
import { randomUscc, seededRng } from '../../protocol/identifiers.js';

/** The CF columns of the national 双公示 data standard (2021 template), in its order. */
export const NATIONAL_CF_COLUMNS = [
  '行政相对人名称', '行政相对人类别', '统一社会信用代码', '工商注册号', '组织机构代码', '税务登记号', '事业单位证书号', '社会组织登记证号',
  '法定代表人', '法定代表人证件类型', '法定代表人证件号码', '证件类型', '证件号码', '行政处罚决定书文号', '违法行为类型', '违法事实', '处罚依据',
  '处罚类别', '处罚内容', '罚款金额（万元）', '没收违法所得、没收非法财物的金额（万元）', '暂扣或吊销证照名称及编号', '处罚决定日期', '处罚有效期',
  '公示截止期', '处罚机关', '处罚机关统一社会信用代码', '数据来源单位', '数据来源单位统一社会信用代码', '备注',
];

/** The header: the national columns, then any CF label of the catalog they lack, never 失信程度. */
export function nationalCfHeader(): string[] {
  const catalog = getRecordType('CF').fields.map((f) => f.label).filter((l) => l !== '失信程度');
  return [...NATIONAL_CF_COLUMNS, ...catalog.filter((l) => !NATIONAL_CF_COLUMNS.includes(l))];
}

export const BAD_KINDS = ['bad-uscc', 'bad-date', 'missing-number', 'bad-window', 'bad-category', 'bad-amount'] as const;
export type BadKind = (typeof BAD_KINDS)[number];

/** The code the node reports for each kind of bad row. */
export const BAD_CODES: Record<BadKind, string> = {
  'bad-uscc': 'ERR_INVALID_USCC', 'bad-date': 'ERR_INVALID_DATE', 'missing-number': 'ERR_FIELD_REQUIRED',
  'bad-window': 'ERR_DISCLOSURE_PERIOD', 'bad-category': 'ERR_FIELD_ENUM', 'bad-amount': 'ERR_FIELD_TYPE',
};

export interface NationalRow {
  /** The spreadsheet row number (header = 1). */
  row: number;
  cells: string[];
  bad?: BadKind;
}

const FULL_WIDTH = (s: string) => s.replace(/[0-9]/g, (d) => String.fromCharCode(d.charCodeAt(0) + 0xfee0));

/** Rows 2..lines+1; row i (1-based data index) is bad when i % 100 is 1..BAD_KINDS.length. */
export function* nationalCfRows(lines: number, seed = 1): Generator<NationalRow> {
  const header = nationalCfHeader();
  const rng = seededRng(seed);
  const subjects = Array.from({ length: 500 }, () => randomUscc(rng));
  const authority = randomUscc(rng, { authority: '1', category: '1' });
  const source = randomUscc(rng, { authority: '1', category: '2' });
  for (let i = 1; i <= lines; i++) {
    const day = 1 + (i % 28);
    const month = 3 + (i % 9); // March–November 2026: decisions in the past (a future one is ERR_DECISION_DATE_FUTURE)
    const iso = `2026-${String(month).padStart(2, '0')}-${String(day).padStart(2, '0')}`;
    const written = [iso, `2026/${month}/${day}`, `2026年${month}月${day}日`, `2026-${month}-${day}`, FULL_WIDTH(iso)][i % 5]!;
    const v: Record<string, string> = {
      行政相对人名称: `示例商贸${i % 500}有限公司`,
      行政相对人类别: '法人及非法人组织',
      统一社会信用代码: i % 13 === 0 ? subjects[i % 500]!.toLowerCase() : subjects[i % 500]!,
      法定代表人: `王示例${i % 50}`,
      行政处罚决定书文号: `长市监罚〔2026〕${i}号`,
      违法行为类型: '违反食品安全管理规定',
      违法事实: i % 7 === 0 ? `经查，当事人于${month}月${day}日：\n一、未按规定公示许可证；\n二、未建立进货查验记录。` : '未按规定公示食品经营许可证',
      处罚依据: '《中华人民共和国食品安全法》第一百二十六条',
      处罚类别: '罚款',
      处罚内容: '责令改正，罚款人民币伍仟元，并处警告',
      '罚款金额（万元）': ['0.5', '5000元', '0.5万元', '1,000.50'][i % 4]!,
      处罚决定日期: written,
      处罚有效期: addMonths(iso, 12),
      公示截止期: i % 11 === 0 ? '' : addMonths(iso, 12),
      处罚机关: '长沙市市场监督管理局',
      处罚机关统一社会信用代码: authority,
      数据来源单位: '长沙市市场监督管理局',
      数据来源单位统一社会信用代码: source,
      备注: i % 3 === 0 ? '已缴纳罚款' : '',
    };
    const kind = BAD_KINDS[(i % 100) - 1];
    if (kind === 'bad-uscc') v.统一社会信用代码 = subjects[i % 500]!.slice(0, 17) + (subjects[i % 500]!.endsWith('0') ? '1' : '0');
    else if (kind === 'bad-date') v.处罚决定日期 = '2026-02-30';
    else if (kind === 'missing-number') v.行政处罚决定书文号 = '';
    else if (kind === 'bad-window') v.公示截止期 = addMonths(iso, 60);
    else if (kind === 'bad-category') v.行政相对人类别 = '公司';
    else if (kind === 'bad-amount') v['罚款金额（万元）'] = '伍仟元';
    yield { row: i + 1, cells: header.map((h) => v[h] ?? ''), ...(kind ? { bad: kind } : {}) };
  }
}

const csvCell = (s: string) => (/[",\r\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s);

/** Writes the export as CSV: UTF-8 with a BOM, or GBK (no BOM), CRLF line ends. */
export async function writeNationalCsv(file: string, lines: number, encoding: 'utf8' | 'gbk' = 'utf8', seed = 1): Promise<void> {
  const out = createWriteStream(file);
  const enc = (s: string) => (encoding === 'gbk' ? iconv.encode(s, 'gbk') : Buffer.from(s, 'utf8'));
  let buf = (encoding === 'utf8' ? '\uFEFF' : '') + nationalCfHeader().map(csvCell).join(',') + '\r\n';
  for (const r of nationalCfRows(lines, seed)) {
    buf += r.cells.map(csvCell).join(',') + '\r\n';
    if (buf.length > 65536) {
      if (!out.write(enc(buf))) await once(out, 'drain');
      buf = '';
    }
  }
  out.end(enc(buf));
  await once(out, 'finish');
}

/**
 * Writes the export as an XLSX workbook (one sheet 行政处罚), streamed row by row; with
 * `sharedStrings` the text goes to a shared-strings part as Excel writes it (after the sheet).
 */
export async function writeNationalXlsx(file: string, lines: number, seed = 1, sharedStrings = false): Promise<void> {
  const ExcelJS = (await import('exceljs')).default; // on first use: every `credit` command loads this module
  const wb = new ExcelJS.stream.xlsx.WorkbookWriter({ filename: file, useSharedStrings: sharedStrings, useStyles: false });
  const ws = wb.addWorksheet('行政处罚');
  ws.addRow(nationalCfHeader()).commit();
  for (const r of nationalCfRows(lines, seed)) ws.addRow(r.cells).commit();
  ws.commit();
  await wb.commit();
}
