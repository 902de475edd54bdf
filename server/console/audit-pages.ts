/**
 * The audit viewer both consoles show their auditors (issue 20 item 3): entries by time, actor,
 * action, object; the verification state of the range shown (hash chain, signed checkpoint,
 * cosignature — audit/verify-bundle.ts over the export bundle of that range, against the CA
 * certificate); an entry's inclusion proof on click (audit/proofs.ts, checked with verifyProof);
 * the signed bundle exported through the server's own export route. Each server brings its role
 * check (and the denial's audit entry), its CA certificates and its export: node/console/
 * audit-pages.ts, hub/console/audit-pages.ts. Every view is itself audited (`audit.read`).
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Knex } from 'knex';
import { exportBundle, proveInclusion, toNdjson, verifyBundle, verifyProof, type VerifyReport } from '../../audit/index.js';
import { checkpointsBetween, entriesPerDay, findEntries, lastSeq, type EntryFilter } from '../../audit/store.js';
import { refusalAudit } from '../../audit/refusals.js';
import type { AuditEvent } from '../../audit/types.js';
import { isCreditError } from '../../protocol/errors.js';

const PAGE = 50;
/** The most entries the viewer verifies for one page (a sparse filter can span the whole log); beyond it: the export. */
export const MAX_VERIFY_RANGE = 10_000;

interface Filter {
  since?: string; until?: string; actor?: string; action?: string; object?: string; outcome?: 'success' | 'failure'; before?: number;
}

const filterSchema = {
  type: 'object',
  properties: {
    since: { type: 'string', maxLength: 32 }, until: { type: 'string', maxLength: 32 }, actor: { type: 'string', maxLength: 200 }, action: { type: 'string', maxLength: 64 },
    object: { type: 'string', maxLength: 200 }, outcome: { type: 'string', enum: ['', 'success', 'failure'] }, before: { type: 'integer', minimum: 1 },
  },
};

/** A date (YYYY-MM-DD, China time) or a datetime-local value → ISO UTC; undefined when empty or unreadable. */
function isoOf(v: string | undefined, endOfDay: boolean): string | undefined {
  if (!v) return undefined;
  const day = /^\d{4}-\d{2}-\d{2}$/.test(v);
  const t = Date.parse(day ? `${v}T00:00:00+08:00` : /[zZ]|[+-]\d{2}:\d{2}$/.test(v) ? v : `${v}+08:00`);
  if (Number.isNaN(t)) return undefined;
  return new Date(t + (day && endOfDay ? 86_400_000 : 0)).toISOString();
}

export interface RangeState {
  from: number;
  to: number;
  ok: boolean;
  /** More than MAX_VERIFY_RANGE entries to verify: not verified online, the page offers the export. */
  tooLarge?: boolean;
  /** chain / checkpoint / cosignature: 'ok', 'missing' or 'failed'. */
  chain: 'ok' | 'failed' | 'unverified';
  checkpoint: 'ok' | 'missing' | 'failed';
  cosignature: 'ok' | 'missing' | 'failed';
  report?: VerifyReport;
  code?: string;
  reason?: string;
}

export interface AuditViewerOptions {
  db: Knex;
  /** The server's audit log: views are recorded in it, the checkpoint button signs it. */
  audit: { record(e: AuditEvent): Promise<number>; checkpoint?: () => Promise<{ treeSize: number } | null> };
  /** The id of the log's signer (a node id, or the hub's 430000): entries' actorNode, and whose checkpoints verify. */
  signer: string;
  /** The CA certificate(s) checkpoints and cosignatures verify against. */
  caPems(): readonly string[];
  /** What the cosignature column is called: 省级枢纽副署 (a node's log), 节点见证副署 (the hub's). */
  cosigner: string;
  maxVerifyRange?: number;
  /** `user:…` of the signed-in request. */
  actor(request: FastifyRequest): string;
  /** Throws (and audits) the refusal when the caller may not read the audit log. */
  authorize(request: FastifyRequest): Promise<void>;
  /** The signed bundle of from..to (or all) through the server's export route, as that user (audited there as audit.export). */
  exportNdjson(request: FastifyRequest, range: { from?: number; to?: number }): Promise<Buffer>;
}

export async function auditViewer(app: FastifyInstance, o: AuditViewerOptions): Promise<void> {
  const { db } = o;
  const maxVerify = o.maxVerifyRange ?? MAX_VERIFY_RANGE;

  // Every view is itself audited (audit.read, the filter as reason), aggregated like refusals: the
  // first view of a (user, filter) in a minute is written at once, repeats only counted.
  const reads = refusalAudit(o.audit);
  app.addHook('onClose', async () => reads.close());
  const viewed = async (request: FastifyRequest, what: string) => {
    await o.authorize(request);
    const actor = o.actor(request);
    await reads.refused(actor, { actor, actorNode: o.signer, action: 'audit.read', object: 'audit', outcome: 'success', reason: what.slice(0, 500) });
  };

  /**
   * Verifies entries from..to (extended to the next signed checkpoint) as an auditor's offline check
   * would — against the checkpoints already signed (a page view signs nothing), and at most
   * MAX_VERIFY_RANGE entries.
   */
  async function rangeState(from: number, to: number): Promise<RangeState> {
    const last = await lastSeq(db);
    const next = (await checkpointsBetween(db, to, last))[0];
    const end = next ? next.treeSize : to;
    if (end - from + 1 > maxVerify) return { from, to, ok: false, tooLarge: true, chain: 'ok', checkpoint: 'missing', cosignature: 'missing' };
    try {
      const bundle = await exportBundle(db, { from, to: end });
      const report = await verifyBundle(toNdjson(bundle.lines), o.caPems(), { node: o.signer });
      const cosigned = report.ok && report.cosignatures > 0 && (report.cosignedTreeSize ?? 0) >= to;
      const base = { from, to, report };
      if (!report.ok) {
        const c = report.code ?? 'ERR_AUDIT_ENTRY_MODIFIED';
        const chainCodes = ['ERR_AUDIT_ENTRY_MODIFIED', 'ERR_AUDIT_GAP', 'ERR_AUDIT_REORDERED', 'ERR_AUDIT_TRUNCATED'];
        return { ...base, ok: false, chain: chainCodes.includes(c) ? 'failed' : 'ok', checkpoint: chainCodes.includes(c) ? 'missing' : 'failed', cosignature: c === 'ERR_AUDIT_COSIGNATURE' ? 'failed' : 'missing', code: c, reason: report.reason ?? '' };
      }
      return { ...base, ok: true, chain: 'ok', checkpoint: 'ok', cosignature: cosigned ? 'ok' : 'missing' };
    } catch (e) {
      if (!isCreditError(e)) throw e;
      // no signed checkpoint yet covers the range: the page offers to sign one (POST /audit/checkpoint)
      if (e.code === 'ERR_AUDIT_NO_CHECKPOINT') return { from, to, ok: false, chain: 'unverified', checkpoint: 'missing', cosignature: 'missing', code: e.code, reason: '尚无签名检查点覆盖本范围' };
      return { from, to, ok: false, chain: 'ok', checkpoint: 'missing', cosignature: 'missing', code: e.code, reason: e.message };
    }
  }

  const browse = async (request: FastifyRequest<{ Querystring: Filter }>) => {
    const q = request.query;
    const shown = Object.entries(q).filter(([, v]) => v !== undefined && v !== '').map(([k, v]) => `${k}=${String(v)}`).join(' ');
    await viewed(request, `${request.routeOptions.url ?? ''} ${shown || 'latest'}`);
    const f: EntryFilter = { limit: PAGE };
    const since = isoOf(q.since, false);
    const until = isoOf(q.until, true);
    if (since) f.since = since;
    if (until) f.until = until;
    if (q.actor) f.actor = q.actor;
    if (q.action) f.action = q.action;
    if (q.object) f.object = q.object;
    if (q.outcome) f.outcome = q.outcome;
    if (q.before) f.beforeSeq = q.before;
    const list = await findEntries(db, f);
    const range = list.length ? { from: list.at(-1)!.seq, to: list[0]!.seq } : undefined;
    const more = list.length === PAGE ? list.at(-1)!.seq : undefined;
    const keep = new URLSearchParams(Object.entries(q).filter(([k, v]) => k !== 'before' && v !== undefined && v !== '').map(([k, v]): [string, string] => [k, String(v)]));
    return { list, range, more, query: q, keep: keep.toString(), maxVerify, cosigner: o.cosigner };
  };

  app.get<{ Querystring: Filter }>('/audit', { schema: { querystring: filterSchema }, config: { sameOrigin: true } }, async (request, reply) => {
    const b = await browse(request);
    const first = Date.parse(new Date(Date.now() - 13 * 86_400_000).toISOString().slice(0, 10));
    const counts = new Map((await entriesPerDay(db, new Date(first).toISOString())).map((d) => [d.day, d.n]));
    const x = Array.from({ length: 14 }, (_, i) => (first + i * 86_400_000) / 1000);
    const series = { label: '每日审计记录数', x, y: x.map((s) => counts.get(new Date(s * 1000).toISOString().slice(0, 10)) ?? 0) };
    return reply.page('/server/console/views/audit', { pageTitle: '审计日志', chart: true, series: JSON.stringify(series), ...b, state: b.range ? await rangeState(b.range.from, b.range.to) : undefined });
  });
  app.get<{ Querystring: Filter }>('/audit/entries', { schema: { querystring: filterSchema }, config: { sameOrigin: true } }, async (request, reply) => {
    const b = await browse(request);
    return reply.page('/server/console/views/audit-entries', { ...b, state: b.range ? await rangeState(b.range.from, b.range.to) : undefined });
  });

  // Signs a checkpoint up to now (when the log has a signer): a POST with the CSRF token, never a page view.
  app.post('/audit/checkpoint', async (request, reply) => {
    await o.authorize(request);
    const cp = await o.audit.checkpoint?.();
    // who asked for it, and what it covers (audit.checkpoint): the checkpoint itself names only the signer
    await o.audit.record({
      action: 'audit.checkpoint', actor: o.actor(request), actorNode: o.signer, object: cp ? `checkpoint:${cp.treeSize}` : 'checkpoint', outcome: cp ? 'success' : 'failure',
      reason: cp ? `tree size ${cp.treeSize}` : 'no checkpoint signed (the log has no signer)',
    });
    return reply.redirect('/audit', 303);
  });

  app.get<{ Params: { seq: number } }>('/audit/proof/:seq', { schema: { params: { type: 'object', required: ['seq'], properties: { seq: { type: 'integer', minimum: 1 } } } }, config: { sameOrigin: true } }, async (request, reply) => {
    await viewed(request, `/audit/proof/${request.params.seq}`);
    const proof = await proveInclusion(db, request.params.seq);
    let verdict: { ok: boolean; summary: string; signed: boolean };
    try {
      const v = verifyProof(proof, o.caPems());
      verdict = { ok: true, summary: v.summary, signed: v.signedSizes.length > 0 };
    } catch (e) {
      if (!isCreditError(e)) throw e;
      verdict = { ok: false, summary: `${e.message} [${e.code}]`, signed: false };
    }
    return reply.page('/server/console/views/audit-proof', { proof, verdict, json: JSON.stringify(proof, null, 2) });
  });

  app.get<{ Querystring: { from?: number; to?: number } }>(
    '/audit/export.ndjson',
    { config: { sameOrigin: true }, schema: { querystring: { type: 'object', properties: { from: { type: 'integer', minimum: 1 }, to: { type: 'integer', minimum: 1 } } } } },
    async (request, reply) => {
      const { from, to } = request.query;
      const body = await o.exportNdjson(request, { ...(from ? { from } : {}), ...(to ? { to } : {}) });
      return reply.type('application/x-ndjson').header('content-disposition', `attachment; filename="audit-${o.signer}-${from ?? 'all'}-${to ?? 'last'}.ndjson"`).send(body);
    },
  );
}
