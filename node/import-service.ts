/**
 * Bulk import: validates each line of an upload against the catalog and writes the good ones in
 * batches (one transaction, one multi-row insert and one audit event per batch). Memory stays
 * flat: the source is read only as fast as batches commit, and the report is bounded whatever the
 * upload holds — at most `rejectedLinesCap` rejected lines, `problemsPerLine` problems each, field
 * names and messages clipped, and no more than `reportMaxBytes` of listed lines; what is cut is
 * counted (`rejectedLinesOmitted`, `problemsTruncated`), and every rejected line is counted in
 * `rejected`. Not atomic across batches: a failed upload can be sent again, since records are
 * idempotent on their natural key.
 */
import type { Readable } from 'node:stream';
import { getRecordType, validateRecord, type RecordType, type SeverityDefaults } from '../protocol/catalog.js';
import { todayInChina } from '../protocol/catalog-calendar.js';
import { classRank, clears, type Classification } from '../protocol/classification.js';
import { uuidv7 } from '../protocol/crypto.js';
import { hiddenFrom, type Caller } from './access.js';
import type { TextEncoding } from './import-decode.js';
import type { ImportWarning } from './import-header.js';
import { clerkMessage } from './import-messages.js';
import { csvSource, ndjsonSource, type SourceItem } from './import-sources.js';
import type { TableInfo } from './import-table.js';
import { toStoredRecord, validateForWrite } from './record-model.js';
import { writeOwnRecords } from './record-versions.js';
import type { RecordsService, ServiceDeps } from './records-service.js';
import type { StoredRecord } from './records-store.js';
import { recordImportQuality, type RowRejection } from './quality-intake.js';

export interface LineProblem {
  field: string;
  code: string;
  message: string;
}

export interface RejectedLine {
  /** The row number as the spreadsheet shows it (header = 1); NDJSON: the line number. */
  line: number;
  errors: LineProblem[];
  /** Problems of this line not listed in `errors` (only when some were cut). */
  problemsTruncated?: number;
  /** The row's 行政相对人名称 and 文书号 as written, when it has them (a clerk finds the row by them). */
  subjectName?: string;
  decisionNo?: string;
  /** A table upload: the row's cells as written, in the file's columns (`columns`). */
  cells?: string[];
}

export interface ImportReport {
  importId: string;
  lines: number;
  accepted: number;
  duplicates: number;
  /** Lines that became a new version of a stored record (same natural key, other content: a correction). */
  versions: number;
  /** Every rejected line, listed or not. */
  rejected: number;
  rejectedLines: RejectedLine[];
  /** True when more lines were rejected than rejectedLines lists. */
  truncated: boolean;
  /** Rejected lines counted in `rejected` but not listed (over `rejectedLinesCap` or `reportMaxBytes`). */
  rejectedLinesOmitted: number;
  /** Problems of the listed lines that were not listed (over `problemsPerLine`). */
  problemsTruncated: number;
  /** A table upload: its header as written (the columns of `cells` and of the rejected-rows file). */
  columns?: string[];
  /** Said once per file: columns kept in `extra`, not catalog fields. */
  warnings: ImportWarning[];
  /** Rows of duplicates (records already held), the first `rejectedLinesCap`; all are counted in `duplicates`. */
  duplicateLines: number[];
  /** Accepted records whose severity (失信程度) was derived, not given. */
  severityDerived: number;
  /** Accepted records with at least one value normalised (dates, amounts, identifiers, spaces). */
  normalised: number;
}

/** Problems listed per rejected line. */
export const PROBLEMS_PER_LINE = 20;
/** Bytes of listed rejected lines (JSON) per report: with the counts, a report stays under 1 MiB. */
export const REPORT_MAX_BYTES = 1_000_000;
/** Longest field name and message echoed in a report (a hostile line may use 100 KB names). */
const MAX_FIELD_CHARS = 100;
const MAX_MESSAGE_CHARS = 300;

function clip(s: string, max: number): string {
  return s.length <= max ? s : `${s.slice(0, max - 1)}…`;
}

/**
 * Collects rejected lines into a report whose size does not depend on the upload: the first
 * `linesCap` lines that fit in `maxBytes`, `perLine` problems each; everything else is counted.
 */
export function rejectionCollector(report: ImportReport, o: { linesCap: number; perLine: number; maxBytes: number }) {
  let bytes = 0;
  let full = false;
  return (line: number, errors: readonly LineProblem[], row: { cells?: string[]; subjectName?: string; decisionNo?: string } = {}) => {
    report.rejected++;
    if (full || report.rejectedLines.length >= o.linesCap) {
      report.rejectedLinesOmitted++;
      report.truncated = true;
      return;
    }
    const listed = errors.slice(0, o.perLine).map((e) => ({ field: clip(e.field, MAX_FIELD_CHARS), code: e.code, message: clip(e.message, MAX_MESSAGE_CHARS) }));
    const entry: RejectedLine = errors.length > listed.length ? { line, errors: listed, problemsTruncated: errors.length - listed.length } : { line, errors: listed };
    if (row.subjectName) entry.subjectName = clip(row.subjectName, MAX_FIELD_CHARS);
    if (row.decisionNo) entry.decisionNo = clip(row.decisionNo, MAX_FIELD_CHARS);
    if (row.cells) entry.cells = row.cells;
    const size = Buffer.byteLength(JSON.stringify(entry)) + 1;
    if (bytes + size > o.maxBytes) {
      full = true;
      report.rejectedLinesOmitted++;
      report.truncated = true;
      return;
    }
    bytes += size;
    report.rejectedLines.push(entry);
    report.problemsTruncated += entry.problemsTruncated ?? 0;
  };
}

export interface ImportOptions {
  /** csv: a table upload, CSV or XLSX (told by its bytes); ndjson: one JSON record a line. */
  format: 'csv' | 'ndjson';
  /** A declared text encoding (else sniffed). */
  encoding?: TextEncoding;
  /** XLSX: the worksheet by name or number (default the first). */
  sheet?: string;
  /** Province defaults of 失信程度 (node config severityDefaults). */
  severityDefaults?: SeverityDefaults;
  /** Record type: required for CSV, the default for NDJSON lines without one. */
  type?: string;
  limitBytes: number;
  /** XLSX: most bytes unpacked, every zip entry counted (node config importUnpackLimitBytes; default 2 GiB). */
  unpackLimitBytes?: number;
  batchSize: number;
  rejectedLinesCap: number;
  /** Problems listed per rejected line; default PROBLEMS_PER_LINE. */
  problemsPerLine?: number;
  /** Bytes of listed rejected lines; default REPORT_MAX_BYTES. */
  reportMaxBytes?: number;
  /** Called after each committed batch (metrics). */
  onBatch?: (accepted: number, duplicates: number, rejected: number) => void;
}

export function importService(deps: ServiceDeps, records: RecordsService) {
  return {
    async importStream(caller: Caller, body: Readable, opts: ImportOptions): Promise<ImportReport> {
      const importId = uuidv7();
      await records.authorize(caller, 'record.import', `import:${importId}`);
      const info: TableInfo = { warnings: [] };
      const source: AsyncGenerator<SourceItem[]> = opts.format === 'csv' ? csvSource(body, opts.limitBytes, opts.type!, { encoding: opts.encoding, sheet: opts.sheet, info, ...(opts.unpackLimitBytes ? { unpackLimitBytes: opts.unpackLimitBytes } : {}) }) : ndjsonSource(body, opts.limitBytes, opts.type);
      const report: ImportReport = {
        importId, lines: 0, accepted: 0, duplicates: 0, versions: 0, rejected: 0, rejectedLines: [], truncated: false, rejectedLinesOmitted: 0, problemsTruncated: 0,
        warnings: info.warnings, duplicateLines: [], severityDerived: 0, normalised: 0,
      };
      /** Rejects a row with the problems of its validation, in the clerk's words (import-messages.ts). */
      const rejectRow = (item: SourceItem, problems: readonly LineProblem[]) => {
        const input = 'input' in item ? (item.input as { type?: unknown; fields?: Record<string, unknown> }) : undefined;
        const fields = input && typeof input.fields === 'object' && input.fields !== null ? input.fields : {};
        let t: RecordType | undefined;
        try {
          t = getRecordType(typeof input?.type === 'string' ? input.type : opts.type ?? '');
        } catch {
          t = undefined;
        }
        pendingRejections.push({ line: item.line, type: t?.code ?? (typeof input?.type === 'string' ? input.type : opts.type ?? null), fields, codes: problems.map((p) => p.code), field: problems[0]?.field ?? null });
        const who = [fields.subjectName, fields.decisionNo].filter((x) => typeof x === 'string' && x !== '').join('，');
        const where = `第 ${item.line} 行${who ? `（${who}）` : ''}`;
        const errors = problems.map((p) => ({ field: p.field, code: p.code, message: `${where}${t ? clerkMessage(t, p, fields[p.field], fields) : p.message}` }));
        reject(item.line, errors, {
          ...('cells' in item && item.cells ? { cells: item.cells } : {}),
          ...(typeof fields.subjectName === 'string' ? { subjectName: fields.subjectName } : {}),
          ...(typeof fields.decisionNo === 'string' ? { decisionNo: fields.decisionNo } : {}),
        });
      };
      const reject = rejectionCollector(report, { linesCap: opts.rejectedLinesCap, perLine: opts.problemsPerLine ?? PROBLEMS_PER_LINE, maxBytes: opts.reportMaxBytes ?? REPORT_MAX_BYTES });
      /** Rows rejected since the last flush: kept (no personal data) with the batch (quality-intake.ts). */
      let pendingRejections: RowRejection[] = [];
      let batch: StoredRecord[] = [];
      let batchLines: number[] = [];
      let batchNormalised: (string[] | undefined)[] = [];
      let batchNo = 0;
      let denied = 0;
      let batchRejected = 0;
      /** Writes the current batch; resolves when it has committed. */
      const flush = async () => {
        const rows = batch;
        const lines = batchLines;
        const normalisedFields = batchNormalised;
        let rejectedHere = batchRejected;
        batch = [];
        batchLines = [];
        batchNormalised = [];
        batchRejected = 0;
        batchNo++;
        const rowRejections = pendingRejections;
        pendingRejections = [];
        const quality = { node: deps.nodeId, importId, at: deps.clock().toISOString() };
        if (rows.length === 0 && denied === 0) {
          if (rowRejections.length) await recordImportQuality(deps.db, { ...quality, rejected: rowRejections, accepted: [] });
          return opts.onBatch?.(0, 0, rejectedHere);
        }
        const top = rows.reduce<Classification>((c, r) => (classRank(r.classification) > classRank(c) ? r.classification : c), 'public');
        let deniedHere = denied;
        denied = 0;
        const { fresh, hidden, duplicates, duplicateAt, versions, normalisedCount, derived } = await deps.db.transaction(async (trx) => {
          // A line naming a stored record hidden from the caller (access.ts hiddenFrom) is refused
          // like a line above the clearance (issue 13): never a duplicate or a version, so nothing of that record shows.
          const w = await writeOwnRecords(trx, deps, rows, { actor: caller.actor, at: deps.clock().toISOString(), hidden: (k) => hiddenFrom(caller.clearance, k.classification) });
          const fresh = w.created;
          const hidden = w.outcomes.flatMap((o, i) => (o.kind === 'hidden' ? [lines[i]!] : []));
          const duplicateAt = w.outcomes.flatMap((o, i) => (o.kind === 'duplicate' ? [lines[i]!] : []));
          const duplicates = duplicateAt.length;
          deniedHere += hidden.length;
          // the audit entry keeps the fact that values were normalised or a severity derived (per field, counts only: no values)
          const perField = new Map<string, number>();
          let normalisedCount = 0;
          let derived = 0;
          const written = new Set(w.outcomes.flatMap((o, i) => (o.kind === 'created' || o.kind === 'version' ? [rows[i]!.id] : [])));
          rows.forEach((r, i) => {
            if (!written.has(r.id)) return;
            if (r.severityDerived) derived++;
            const n = normalisedFields[i];
            if (!n) return;
            normalisedCount++;
            for (const f of n) perField.set(f, (perField.get(f) ?? 0) + 1);
          });
          await recordImportQuality(trx, {
            ...quality,
            rejected: [...rowRejections, ...w.outcomes.flatMap((o, i) => (o.kind === 'hidden' ? [{ line: lines[i]!, type: rows[i]!.type, fields: rows[i]!.fields, codes: ['ERR_CLASSIFICATION_DENIED'], field: 'classification' }] : []))],
            accepted: w.outcomes.flatMap((o, i) => (o.kind === 'hidden' ? [] : [{ id: rows[i]!.id, type: rows[i]!.type, fields: rows[i]!.fields, created: o.kind === 'created' }])),
          });
          const object = `import:${importId}#${batchNo}`;
          const notes = `${perField.size ? ` normalised=${[...perField].map(([f, n]) => `${f}:${n}`).join(',')}` : ''}${derived ? ` severityDerived=${derived}` : ''}`;
          // audit entries last: the audit lock is taken after every database lock (audit/log.ts)
          if (rows.length) await deps.audit.recordIn(trx, { actor: caller.actor, actorNode: deps.nodeId, action: 'record.import', object, class: top, outcome: 'success', reason: `accepted=${fresh.length} duplicates=${duplicates} versions=${w.versions.length}${notes}` });
          for (const e of w.audit) await deps.audit.recordIn(trx, e);
          if (deniedHere) await deps.audit.recordIn(trx, { actor: caller.actor, actorNode: deps.nodeId, action: 'access.denied', object, outcome: 'failure', reason: `ERR_CLASSIFICATION_DENIED lines=${deniedHere}` });
          return { fresh, hidden, duplicates, duplicateAt, versions: w.versions.length, normalisedCount, derived };
        });
        for (const line of hidden) reject(line, [{ field: 'classification', code: 'ERR_CLASSIFICATION_DENIED', message: `第 ${line} 行：本行的信息等级超出您的权限 (clearance ${caller.clearance}) [ERR_CLASSIFICATION_DENIED]` }]);
        for (const line of duplicateAt) if (report.duplicateLines.length < opts.rejectedLinesCap) report.duplicateLines.push(line);
        report.normalised += normalisedCount;
        report.severityDerived += derived;
        rejectedHere += hidden.length;
        report.accepted += fresh.length;
        report.duplicates += duplicates;
        report.versions += versions;
        opts.onBatch?.(fresh.length, duplicates, rejectedHere);
      };

      // One batch may be committing while the next is parsed and validated (SQLite and PostgreSQL
      // work off the main thread), never more: memory stays at two batches.
      let inFlight: Promise<void> | undefined;
      const next = async () => {
        await inFlight;
        inFlight = flush();
        inFlight.catch(() => {}); // observed by the next await; never an unhandled rejection
      };

      const today = todayInChina(deps.clock());
      const vopts = opts.severityDefaults ? { severityDefaults: opts.severityDefaults } : {};
      const ctx = { nodeId: deps.nodeId, actor: caller.actor, now: deps.clock().toISOString(), today };
      try {
        for await (const items of source) {
          for (const item of items) {
            report.lines++;
            if ('error' in item) {
              rejectRow(item, [item.error]);
              batchRejected++;
            } else {
              const v = validateForWrite(item.input, today, vopts);
              if (!v.ok) {
                rejectRow(item, v.errors);
                batchRejected++;
              } else if (!clears(caller.clearance, v.record.classification)) {
                rejectRow(item, [{ field: 'classification', code: 'ERR_CLASSIFICATION_DENIED', message: `clearance ${caller.clearance} does not cover ${v.record.classification} records` }]);
                batchRejected++;
                denied++;
              } else {
                batch.push(toStoredRecord(v.record, ctx, 'extra' in item ? item.extra : undefined));
                batchLines.push(item.line);
                batchNormalised.push('normalised' in item ? item.normalised : undefined);
              }
            }
            if (batch.length + batchRejected >= opts.batchSize) await next();
          }
        }
        await next();
        await inFlight;
      } catch (e) {
        // A refused import (too large, unreadable, a batch that failed) is an audited event too (issue 16).
        await inFlight?.catch(() => {});
        const code = (e as { code?: unknown }).code;
        await deps.audit.record({ actor: caller.actor, actorNode: deps.nodeId, action: 'import.refused', object: `import:${importId}`, outcome: 'failure', reason: `${typeof code === 'string' ? code : 'ERR_INTERNAL'} lines=${report.lines} accepted=${report.accepted} rejected=${report.rejected}` }).catch(() => undefined);
        throw e;
      } finally {
        await inFlight?.catch(() => {});
      }
      if (info.columns) report.columns = info.columns;
      if (report.rejected > 0) {
        await deps.audit.record({ actor: caller.actor, actorNode: deps.nodeId, action: 'import.rejected', object: `import:${importId}`, outcome: 'failure', reason: `rejected=${report.rejected} accepted=${report.accepted} lines=${report.lines}` });
      }
      return report;
    },
  };
}

export type ImportService = ReturnType<typeof importService>;
