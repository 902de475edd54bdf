/**
 * The clerk's pages: 数据上报 (upload a CSV/XLSX file with progress, the import result, the rejected
 * rows as a file to fix and upload again) and 主体查询 (a subject's records within the user's
 * clearance, and the signed credit report as PDF). Everything goes through the node's API (api.ts).
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { listRecordTypes } from '../../protocol/catalog.js';
import { CLASS_NAMES } from '../../server/console/messages.js';
import type { ImportReport } from '../import-service.js';
import { rejectedRowsCsv, rejectedRowsXlsx, XLSX_MEDIA_TYPE } from '../import-report-file.js';
import { serviceError } from '../../protocol/service-errors.js';
import { callApi } from './api.js';

/** Import reports kept for their rejected-rows download, in memory only: per session the latest few, and a byte cap over all. */
export const KEEP_REPORTS_PER_SESSION = 5;
export const KEEP_REPORTS_BYTES = 32 * 1024 * 1024;

/** The bodies POST /import reads: as a stream, handed to the API (which enforces its own limits). */
const STREAMED = ['text/csv', XLSX_MEDIA_TYPE, 'application/octet-stream'];

/**
 * The rejected-rows reports, per session (at most `perSession` each, the oldest dropped) and at most
 * `maxBytes` (their JSON size) over all sessions (the oldest of all dropped).
 */
export function reportStore(perSession = KEEP_REPORTS_PER_SESSION, maxBytes = KEEP_REPORTS_BYTES) {
  const all = new Map<string, { session: string; report: ImportReport; bytes: number }>(); // insertion order = age
  let bytes = 0;
  const drop = (id: string) => {
    const k = all.get(id);
    if (!k) return;
    all.delete(id);
    bytes -= k.bytes;
  };
  return {
    put(session: string, report: ImportReport): void {
      const size = Buffer.byteLength(JSON.stringify(report));
      drop(report.importId);
      if (size > maxBytes) return; // never kept: its download answers ERR_IMPORT_REPORT_GONE
      all.set(report.importId, { session, report, bytes: size });
      bytes += size;
      const mine = [...all].filter(([, k]) => k.session === session);
      for (const [id] of mine.slice(0, Math.max(0, mine.length - perSession))) drop(id);
      while (bytes > maxBytes) drop(all.keys().next().value!);
    },
    get(session: string, id: string): ImportReport | undefined {
      const k = all.get(id);
      return k && k.session === session ? k.report : undefined;
    },
    get bytes() {
      return bytes;
    },
  };
}

const STATUS_NAMES: Readonly<Record<string, string>> = { active: '有效', withdrawn: '已撤销', expired: '公示期满' };

export async function recordPages(app: FastifyInstance, opts: { api: FastifyInstance }): Promise<void> {
  const { api } = opts;
  const types = listRecordTypes().map((t) => ({ code: t.code, name: t.name }));
  const reports = reportStore();

  app.get('/import', async (_request, reply) => reply.page('/node/console/views/import', { pageTitle: '数据上报', types }));

  // The upload, in its own scope: only the streamed types are parsed here (the big body limit applies
  // to nothing else), and role and CSRF token are checked before anything is read.
  await app.register(async (upload) => {
    upload.removeAllContentTypeParsers();
    upload.addContentTypeParser(STREAMED, (_request, payload, done) => done(null, payload));
    upload.addHook('onRequest', async (request) => {
      const type = String(request.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
      if (!STREAMED.includes(type)) throw serviceError('ERR_UNSUPPORTED_MEDIA_TYPE', `上传文件类型不受支持（仅限 CSV 或 XLSX）[ERR_UNSUPPORTED_MEDIA_TYPE]`, { contentType: type.slice(0, 100) });
      await api.nodeCtx.records.authorize(request.caller, 'record.import', 'import');
      upload.consoleCsrf(request);
    });
    upload.post<{ Querystring: { type: string; name?: string } }>(
    '/import',
    {
      bodyLimit: api.nodeCtx.config.importLimitBytes,
      schema: { querystring: { type: 'object', required: ['type'], properties: { type: { type: 'string', pattern: '^[A-Z][A-Z0-9_]{0,31}$' }, name: { type: 'string', maxLength: 255 } } } },
    },
    async (request, reply) => {
      const headers: Record<string, string> = { 'content-type': String(request.headers['content-type']) };
      if (request.headers['content-length']) headers['content-length'] = String(request.headers['content-length']);
      const res = await callApi<ImportReport>(api, request, 'POST', `/v1/records/import?type=${encodeURIComponent(request.query.type)}`, { payload: request.body as NodeJS.ReadableStream as never, headers });
      const report = res.body;
      reports.put(request.sessionId, report);
      return reply.page('/node/console/views/import-result', { report, file: request.query.name ?? '', shown: report.rejectedLines.slice(0, 50) });
    },
    );
  });

  app.get<{ Params: { id: string; ext: 'csv' | 'xlsx' } }>(
    '/import/:id/rejected.:ext',
    { schema: { params: { type: 'object', required: ['id', 'ext'], properties: { id: { type: 'string', maxLength: 64 }, ext: { type: 'string', enum: ['csv', 'xlsx'] } } } } },
    async (request, reply) => {
      const kept = reports.get(request.sessionId, request.params.id);
      // dropped (newer uploads, the memory cap, a restart) — or another session's, which does not exist for this one
      if (!kept) throw serviceError('ERR_IMPORT_REPORT_GONE', '该次导入的拒收行报告已不在服务器内存中，请重新上传原文件以重新生成 [ERR_IMPORT_REPORT_GONE]', { importId: request.params.id });
      const name = `rejected-${request.params.id}.${request.params.ext}`;
      void reply.header('content-disposition', `attachment; filename="${name}"`);
      if (request.params.ext === 'xlsx') return reply.type(XLSX_MEDIA_TYPE).send(await rejectedRowsXlsx(kept));
      return reply.type('text/csv; charset=utf-8').send(rejectedRowsCsv(kept));
    },
  );

  const subjectQuery = { type: 'object', properties: { code: { type: 'string', maxLength: 64 }, purpose: { type: 'string', maxLength: 200 } } };
  const search = async (request: FastifyRequest<{ Querystring: { code?: string; purpose?: string } }>) => {
    const code = (request.query.code ?? '').trim().toUpperCase();
    if (!code) return undefined;
    const q = request.query.purpose ? `?purpose=${encodeURIComponent(request.query.purpose)}` : '';
    const res = await callApi<{ subject: string; records: Record<string, unknown>[]; withheld: { classification: string; code: string; count?: number }[] }>(api, request, 'GET', `/v1/subjects/${encodeURIComponent(code)}${q}`);
    return { code, purpose: request.query.purpose ?? '', ...res.body };
  };
  const view = { classNames: CLASS_NAMES, statusNames: STATUS_NAMES, typeNames: Object.fromEntries(types.map((t) => [t.code, t.name])) };

  app.get<{ Querystring: { code?: string; purpose?: string } }>('/subjects', { schema: { querystring: subjectQuery }, config: { sameOrigin: true } }, async (request, reply) =>
    reply.page('/node/console/views/subjects', { pageTitle: '主体查询', query: request.query, result: await search(request), ...view }),
  );
  // the htmx fragment of the search form
  app.get<{ Querystring: { code?: string; purpose?: string } }>('/subjects/results', { schema: { querystring: subjectQuery }, config: { sameOrigin: true } }, async (request, reply) =>
    reply.page('/node/console/views/subject-results', { result: await search(request), ...view }),
  );

  app.get<{ Params: { code: string }; Querystring: { purpose?: string } }>(
    '/subjects/:code/report.pdf',
    { config: { sameOrigin: true }, schema: { params: { type: 'object', required: ['code'], properties: { code: { type: 'string', maxLength: 64 } } }, querystring: { type: 'object', properties: { purpose: { type: 'string', maxLength: 200 } } } } },
    async (request, reply) => {
      const q = request.query.purpose ? `?purpose=${encodeURIComponent(request.query.purpose)}` : '';
      const res = await callApi(api, request, 'GET', `/v1/subjects/${encodeURIComponent(request.params.code)}/report${q}`, { headers: { accept: 'application/pdf' } });
      return reply.type('application/pdf').header('content-disposition', 'attachment; filename="credit-report.pdf"').send(res.raw);
    },
  );
}
