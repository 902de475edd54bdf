/**
 * POST /v1/records/import: the body is streamed, never buffered. Content-type parsers registered
 * here (and only here) pass the raw request stream through.
 */
import type { FastifyInstance } from 'fastify';
import type { Readable } from 'node:stream';
import type { NodeContext } from '../context.js';
import { nodeError } from '../errors.js';
import { declaredEncoding } from '../import-decode.js';
import { rejectedRowsCsv, rejectedRowsXlsx, XLSX_MEDIA_TYPE } from '../import-report-file.js';
import { importSchema } from '../schemas.js';
import { serviceError } from '../../protocol/service-errors.js';

/** Table uploads (CSV or XLSX: told by the bytes, import-decode.ts) and NDJSON. */
const FORMATS: Record<string, 'csv' | 'ndjson'> = {
  'text/csv': 'csv', [XLSX_MEDIA_TYPE]: 'csv', 'application/octet-stream': 'csv', 'application/x-ndjson': 'ndjson', 'application/ndjson': 'ndjson',
};

export async function importRoutes(app: FastifyInstance, opts: { ctx: NodeContext }): Promise<void> {
  const { imports, metrics, config } = opts.ctx;
  app.addContentTypeParser(Object.keys(FORMATS), (_request, payload, done) => done(null, payload));

  app.post<{ Querystring: { type?: string; sheet?: string } }>('/records/import', { schema: importSchema, bodyLimit: config.importLimitBytes }, async (request, reply) => {
    const mediaType = String(request.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
    const format = FORMATS[mediaType];
    if (!format) throw serviceError('ERR_UNSUPPORTED_MEDIA_TYPE', 'send text/csv or application/x-ndjson');
    const charset = /;\s*charset\s*=\s*"?([^";\s]+)/i.exec(String(request.headers['content-type']))?.[1]?.toLowerCase();
    const encoding = declaredEncoding(charset);
    if (format === 'ndjson' && encoding !== undefined && encoding !== 'utf8') throw serviceError('ERR_UNSUPPORTED_MEDIA_TYPE', `NDJSON is read as UTF-8, not ${charset}`);
    if (format === 'csv' && !request.query.type) throw nodeError('ERR_IMPORT_TYPE_REQUIRED');
    // A declared length over the limit is refused before a byte is read (the stream check below catches chunked bodies).
    const declared = Number(request.headers['content-length']);
    if (declared > config.importLimitBytes) throw serviceError('ERR_BODY_TOO_LARGE', `import is larger than ${config.importLimitBytes} bytes`, { limit: config.importLimitBytes });
    const report = await imports.importStream(request.caller, request.body as Readable, {
      format,
      type: request.query.type,
      ...(encoding ? { encoding } : {}),
      ...(request.query.sheet ? { sheet: request.query.sheet } : {}),
      severityDefaults: config.severityDefaults,
      limitBytes: config.importLimitBytes,
      unpackLimitBytes: config.importUnpackLimitBytes,
      batchSize: config.importBatchSize,
      rejectedLinesCap: config.rejectedLinesCap,
      onBatch: (accepted, duplicates, rejected) => {
        opts.ctx.plannerStats.grew(accepted); // committed: counts towards the next ANALYZE (PostgreSQL; node/planner-stats.ts)
        metrics.importLines.inc({ outcome: 'accepted' }, accepted);
        metrics.importLines.inc({ outcome: 'duplicate' }, duplicates);
        metrics.importLines.inc({ outcome: 'rejected' }, rejected);
      },
    });
    // the rejected rows as a file to fix and upload again, when the client asks for one (import-report-file.ts)
    const accept = String(request.headers.accept ?? '');
    if (accept.includes(XLSX_MEDIA_TYPE)) return reply.type(XLSX_MEDIA_TYPE).header('content-disposition', `attachment; filename="rejected-${report.importId}.xlsx"`).send(await rejectedRowsXlsx(report));
    if (accept.includes('text/csv')) return reply.type('text/csv; charset=utf-8').header('content-disposition', `attachment; filename="rejected-${report.importId}.csv"`).send(rejectedRowsCsv(report));
    return report;
  });
}
