/**
 * A table of cells (a CSV file, decoded, or an XLSX sheet) to record inputs: the first non-blank
 * row is the header (import-header.ts), every later row one record of `type`, its cells
 * normalised (import-values.ts). Each item keeps the row's cells as written, so the report can
 * give the clerk back the rejected rows in the file's own columns. Rows whose cells are all blank
 * are skipped. Row numbers are the spreadsheet's (a quoted CSV cell with line breaks is one row).
 */
import type { FieldSpec, RecordType } from '../protocol/catalog.js';
import { mapHeader, type HeaderMap, type ImportWarning } from './import-header.js';
import { normaliseCell } from './import-values.js';
import { nodeError } from './errors.js';

/** A row of cells (the shape csv-rows.ts yields). */
export type TableRow = { line: number; fields: string[] } | { line: number; error: string };

export type TableItem =
  | { line: number; input: { type: string; fields: Record<string, string> }; cells: string[]; extra?: Record<string, string>; normalised?: string[] }
  | { line: number; error: { field: string; code: string; message: string }; cells?: string[] };

/** What the header told, filled in when the header row has been read. */
export interface TableInfo {
  columns?: string[];
  warnings: ImportWarning[];
  /** An XLSX workbook in the 1904 date system: its serial day numbers count from 1904-01-01. */
  date1904?: boolean;
}

function blank(cells: string[]): boolean {
  for (const c of cells) if (c !== '' && c.trim() !== '') return false;
  return true;
}

/**
 * `short`: whether a row may have fewer cells than the header (XLSX leaves trailing blank cells
 * out; a CSV row that is short was cut, and is reported malformed).
 */
export async function* tableSource(groups: AsyncIterable<TableRow[]>, t: RecordType, info: TableInfo, short = false): AsyncGenerator<TableItem[]> {
  let header: HeaderMap | undefined;
  let fields: (FieldSpec | undefined)[] = [];
  for await (const rows of groups) {
    const items: TableItem[] = [];
    for (const row of rows) {
      if ('error' in row) {
        if (!header) throw nodeError('ERR_IMPORT_HEADER_INVALID', `第 ${row.line} 行表头无法读取：${row.error} [ERR_IMPORT_HEADER_INVALID]`, { line: row.line, type: t.code });
        items.push({ line: row.line, error: { field: '', code: 'ERR_IMPORT_LINE_MALFORMED', message: row.error } });
        continue;
      }
      let cells = row.fields;
      if (blank(cells)) continue;
      if (!header) {
        header = mapHeader(t, cells, row.line);
        fields = header.fields;
        info.columns = header.columns;
        info.warnings.push(...header.warnings);
        continue;
      }
      let over = false;
      for (let i = fields.length; i < cells.length; i++) if (cells[i]!.trim() !== '') over = true;
      if (over || (!short && cells.length < fields.length)) {
        items.push({ line: row.line, cells, error: { field: '', code: 'ERR_IMPORT_LINE_MALFORMED', message: `本行有 ${cells.length} 列，表头有 ${fields.length} 列${over ? '（多出的列有内容）' : '（是否有未加引号的换行或逗号？）'}` } });
        continue;
      }
      if (cells.length < fields.length) cells = [...cells, ...Array<string>(fields.length - cells.length).fill('')];
      const out: Record<string, string> = {};
      let extra: Record<string, string> | undefined;
      let normalised: string[] | undefined;
      const n = Math.min(cells.length, fields.length);
      for (let i = 0; i < n; i++) {
        const raw = cells[i]!;
        if (raw === '') continue;
        const f = fields[i];
        if (f) {
          const v = normaliseCell(f, raw, info.date1904);
          if (v.value === '') continue;
          out[f.name] = v.value;
          if (v.changed) (normalised ??= []).push(f.name);
        } else {
          const key = header.extra[i];
          if (key !== undefined && raw.trim() !== '') (extra ??= {})[key] = raw;
        }
      }
      const item: TableItem = { line: row.line, input: { type: t.code, fields: out }, cells };
      if (extra) item.extra = extra;
      if (normalised) item.normalised = normalised;
      items.push(item);
    }
    if (items.length) yield items;
  }
}
