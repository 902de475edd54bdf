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
import { validateRecord } from '../protocol/catalog.js';
import { todayInChina } from '../protocol/catalog-calendar.js';
import { classRank, clears, type Classification } from '../protocol/classification.js';
import { uuidv7 } from '../protocol/crypto.js';
import { hiddenFrom, type Caller } from './access.js';
import { runWritten } from './hooks.js';
import { csvSource, ndjsonSource, type SourceItem } from './import-sources.js';
import { toStoredRecord } from './record-model.js';
import type { RecordsService, ServiceDeps } from './records-service.js';
import { recordsStore, type StoredRecord } from './records-store.js';

export interface LineProblem {
  field: string;
  code: string;
  message: string;
}

export interface RejectedLine {
  line: number;
  errors: LineProblem[];
  /** Problems of this line not listed in `errors` (only when some were cut). */
  problemsTruncated?: number;
}

export interface ImportReport {
  importId: string;
  lines: number;
  accepted: number;
  duplicates: number;
  /** Every rejected line, listed or not. */
  rejected: number;
  rejectedLines: RejectedLine[];
  /** True when more lines were rejected than rejectedLines lists. */
  truncated: boolean;
  /** Rejected lines counted in `rejected` but not listed (over `rejectedLinesCap` or `reportMaxBytes`). */
  rejectedLinesOmitted: number;
  /** Problems of the listed lines that were not listed (over `problemsPerLine`). */
  problemsTruncated: number;
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
  return (line: number, errors: readonly LineProblem[]) => {
    report.rejected++;
    if (full || report.rejectedLines.length >= o.linesCap) {
      report.rejectedLinesOmitted++;
      report.truncated = true;
      return;
    }
    const listed = errors.slice(0, o.perLine).map((e) => ({ field: clip(e.field, MAX_FIELD_CHARS), code: e.code, message: clip(e.message, MAX_MESSAGE_CHARS) }));
    const entry: RejectedLine = errors.length > listed.length ? { line, errors: listed, problemsTruncated: errors.length - listed.length } : { line, errors: listed };
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
  format: 'csv' | 'ndjson';
  /** Record type: required for CSV, the default for NDJSON lines without one. */
  type?: string;
  limitBytes: number;
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
      const source: AsyncGenerator<SourceItem[]> = opts.format === 'csv' ? csvSource(body, opts.limitBytes, opts.type!) : ndjsonSource(body, opts.limitBytes, opts.type);
      const report: ImportReport = { importId, lines: 0, accepted: 0, duplicates: 0, rejected: 0, rejectedLines: [], truncated: false, rejectedLinesOmitted: 0, problemsTruncated: 0 };
      const reject = rejectionCollector(report, { linesCap: opts.rejectedLinesCap, perLine: opts.problemsPerLine ?? PROBLEMS_PER_LINE, maxBytes: opts.reportMaxBytes ?? REPORT_MAX_BYTES });
      let batch: StoredRecord[] = [];
      let batchLines: number[] = [];
      let batchNo = 0;
      let denied = 0;
      let batchRejected = 0;
      /** Writes the current batch; resolves when it has committed. */
      const flush = async () => {
        const rows = batch;
        const lines = batchLines;
        let rejectedHere = batchRejected;
        batch = [];
        batchLines = [];
        batchRejected = 0;
        batchNo++;
        if (rows.length === 0 && denied === 0) return opts.onBatch?.(0, 0, rejectedHere);
        const top = rows.reduce<Classification>((c, r) => (classRank(r.classification) > classRank(c) ? r.classification : c), 'public');
        let deniedHere = denied;
        denied = 0;
        const { fresh, hidden } = await deps.db.transaction(async (trx) => {
          const inserted = await recordsStore.insertMany(trx, rows);
          const fresh = rows.filter((r) => inserted.has(r.id));
          // A duplicate of a stored record hidden from the caller (access.ts hiddenFrom) is refused
          // like a line above the clearance (issue 13): never counted as a duplicate, so nothing of that record shows.
          const held = fresh.length === rows.length ? new Map<string, { classification: Classification }>() : await recordsStore.idsByNaturalKey(trx, deps.nodeId, rows.filter((r) => !inserted.has(r.id)).map((r) => r.naturalKey));
          const hidden = rows.flatMap((r, i) => (!inserted.has(r.id) && hiddenFrom(caller.clearance, held.get(r.naturalKey)?.classification ?? 'public') ? [lines[i]!] : []));
          deniedHere += hidden.length;
          const object = `import:${importId}#${batchNo}`;
          await runWritten(deps.hooks, trx, fresh);
          // audit entries last: the audit lock is taken after every database lock (audit/log.ts)
          if (rows.length) await deps.audit.recordIn(trx, { actor: caller.actor, actorNode: deps.nodeId, action: 'record.import', object, class: top, outcome: 'success', reason: `accepted=${fresh.length} duplicates=${rows.length - fresh.length - hidden.length}` });
          if (deniedHere) await deps.audit.recordIn(trx, { actor: caller.actor, actorNode: deps.nodeId, action: 'access.denied', object, outcome: 'failure', reason: `ERR_CLASSIFICATION_DENIED lines=${deniedHere}` });
          return { fresh, hidden };
        });
        for (const line of hidden) reject(line, [{ field: 'classification', code: 'ERR_CLASSIFICATION_DENIED', message: `clearance ${caller.clearance} does not cover this record` }]);
        rejectedHere += hidden.length;
        report.accepted += fresh.length;
        report.duplicates += rows.length - fresh.length - hidden.length;
        opts.onBatch?.(fresh.length, rows.length - fresh.length - hidden.length, rejectedHere);
      };

      // One batch may be committing while the next is parsed and validated (SQLite and PostgreSQL
      // work off the main thread), never more: memory stays at two batches.
      let inFlight: Promise<void> | undefined;
      const next = async () => {
        await inFlight;
        inFlight = flush();
        inFlight.catch(() => {}); // observed by the next await; never an unhandled rejection
      };

      const vopts = { today: todayInChina(deps.clock()) };
      const ctx = { nodeId: deps.nodeId, actor: caller.actor, now: deps.clock().toISOString() };
      try {
        for await (const items of source) {
          for (const item of items) {
            report.lines++;
            if ('error' in item) {
              reject(item.line, [item.error]);
              batchRejected++;
            } else {
              const v = validateRecord(item.input, vopts);
              if (!v.ok) {
                reject(item.line, v.errors);
                batchRejected++;
              } else if (!clears(caller.clearance, v.record.classification)) {
                reject(item.line, [{ field: 'classification', code: 'ERR_CLASSIFICATION_DENIED', message: `clearance ${caller.clearance} does not cover ${v.record.classification} records` }]);
                batchRejected++;
                denied++;
              } else {
                batch.push(toStoredRecord(v.record, ctx));
                batchLines.push(item.line);
              }
            }
            if (batch.length + batchRejected >= opts.batchSize) await next();
          }
        }
        await next();
        await inFlight;
      } finally {
        await inFlight?.catch(() => {});
      }
      return report;
    },
  };
}

export type ImportService = ReturnType<typeof importService>;
