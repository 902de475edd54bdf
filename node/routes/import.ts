/**
 * POST /v1/records/import: the body is streamed, never buffered. Content-type parsers registered
 * here (and only here) pass the raw request stream through.
 */
import type { FastifyInstance } from 'fastify';
import type { Readable } from 'node:stream';
import type { NodeContext } from '../context.js';
import { nodeError } from '../errors.js';
import { importSchema } from '../schemas.js';
import { serviceError } from '../../protocol/service-errors.js';

const FORMATS: Record<string, 'csv' | 'ndjson'> = { 'text/csv': 'csv', 'application/x-ndjson': 'ndjson', 'application/ndjson': 'ndjson' };

export async function importRoutes(app: FastifyInstance, opts: { ctx: NodeContext }): Promise<void> {
  const { imports, metrics, config } = opts.ctx;
  app.addContentTypeParser(Object.keys(FORMATS), (_request, payload, done) => done(null, payload));

  app.post<{ Querystring: { type?: string } }>('/records/import', { schema: importSchema, bodyLimit: config.importLimitBytes }, async (request) => {
    const mediaType = String(request.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
    const format = FORMATS[mediaType];
    if (!format) throw serviceError('ERR_UNSUPPORTED_MEDIA_TYPE', 'send text/csv or application/x-ndjson');
    const charset = /;\s*charset\s*=\s*"?([^";\s]+)/i.exec(String(request.headers['content-type']))?.[1]?.toLowerCase();
    if (charset !== undefined && charset !== 'utf-8' && charset !== 'utf8') throw serviceError('ERR_UNSUPPORTED_MEDIA_TYPE', `imports are read as UTF-8, not ${charset}: save the file as UTF-8`);
    if (format === 'csv' && !request.query.type) throw nodeError('ERR_IMPORT_TYPE_REQUIRED');
    // A declared length over the limit is refused before a byte is read (the stream check below catches chunked bodies).
    const declared = Number(request.headers['content-length']);
    if (declared > config.importLimitBytes) throw serviceError('ERR_BODY_TOO_LARGE', `import is larger than ${config.importLimitBytes} bytes`, { limit: config.importLimitBytes });
    return imports.importStream(request.caller, request.body as Readable, {
      format,
      type: request.query.type,
      limitBytes: config.importLimitBytes,
      batchSize: config.importBatchSize,
      rejectedLinesCap: config.rejectedLinesCap,
      onBatch: (accepted, duplicates, rejected) => {
        metrics.importLines.inc({ outcome: 'accepted' }, accepted);
        metrics.importLines.inc({ outcome: 'duplicate' }, duplicates);
        metrics.importLines.inc({ outcome: 'rejected' }, rejected);
      },
    });
  });
}
