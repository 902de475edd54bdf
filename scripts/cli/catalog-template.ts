/**
 * Writes the XLSX import template (exceljs): sheet 1 holds the header row — bold, frozen, 必填
 * columns in red with a cell comment saying the rule — and sheet 2 (填写说明) the legend: every
 * column with 必填/条件必填/选填 and what goes in it. The CSV template is protocol/catalog-template.ts.
 * exceljs is loaded on first use: every `credit` process loads this module, `credit node start`
 * included, and exceljs resident would add ≈ 27 MiB to the node.
 */
import type { RecordType } from '../../protocol/catalog.js';
import type { TemplateColumn } from '../../protocol/catalog-template.js';

export const LEGEND_SHEET = '填写说明';

export async function writeTemplateXlsx(file: string, t: RecordType, columns: readonly TemplateColumn[], catalogVersion: string): Promise<void> {
  const ExcelJS = (await import('exceljs')).default;
  const wb = new ExcelJS.Workbook();
  wb.creator = `credit catalog ${catalogVersion}`;
  const ws = wb.addWorksheet(`${t.code} ${t.name}`, { views: [{ state: 'frozen', ySplit: 1 }] });
  ws.columns = columns.map((c) => ({ header: c.label, key: c.name, width: Math.max(12, Math.min(40, c.label.length * 2 + 4)) }));
  const header = ws.getRow(1);
  header.font = { bold: true };
  columns.forEach((c, i) => {
    const cell = header.getCell(i + 1);
    if (c.rule === '必填') cell.font = { bold: true, color: { argb: 'FFC00000' } };
    cell.note = `${c.rule}：${c.note}`;
  });

  const legend = wb.addWorksheet(LEGEND_SHEET);
  legend.columns = [
    { header: '序号', key: 'no', width: 6 },
    { header: '列名', key: 'label', width: 36 },
    { header: '是否必填', key: 'rule', width: 10 },
    { header: '填写要求', key: 'note', width: 90 },
  ];
  legend.getRow(1).font = { bold: true };
  columns.forEach((c, i) => legend.addRow({ no: i + 1, label: c.label, rule: c.rule, note: c.note }));
  legend.addRow({});
  legend.addRow({ label: `目录版本 ${catalogVersion}；第一张表的第 1 行为表头，请从第 2 行起逐行填写，不要改动表头。` });
  await wb.xlsx.writeFile(file);
}
