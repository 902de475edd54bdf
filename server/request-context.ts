/**
 * Who is asking, for the audit log (issue 18 item 5, GB/T 22239-2019 §8.1.4.3 b): every entry
 * written while a request is handled carries its source address and session id, appended to
 * `reason` as `src=<address> sid=<session id>` (16 hex digits of SHA-256(jti), never the jti) (the form operator entries use, audit/operator.ts). The
 * request's context lives in an AsyncLocalStorage entered by an onRequest hook, so services keep
 * calling `audit.record(...)` unchanged.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { FastifyInstance } from 'fastify';
import type { Knex } from 'knex';
import type { AuditEvent } from '../audit/types.js';

export interface RequestContext {
  source: string;
  /** The session id once authenticated (credentials.ts sessionIdOf: never the jti itself). */
  sessionId?: string;
}

const store = new AsyncLocalStorage<RequestContext>();

export function currentRequest(): RequestContext | undefined {
  return store.getStore();
}

/** Enters a fresh context for each request (first hook of the app). */
export function installRequestContext(app: FastifyInstance): void {
  app.addHook('onRequest', (request, _reply, done) => {
    store.run({ source: request.ip }, done);
  });
}

/**
 * Caller-provided text (a stated purpose …) with `src=` / `sid=` written `src:` / `sid:`, so that it
 * cannot pass for the tag appended after it.
 */
export function neutraliseSourceTags(text: string): string {
  return text.replace(/(src|sid)=/gi, '$1:');
}

/**
 * `reason` with ` src=… sid=…` of the current request appended; any `src=`/`sid=` already in the
 * reason (it may be the caller's own purpose text) is neutralised first, and the tag is always the
 * last thing in the reason (the reason is cut before the tag, never the tag). Unchanged outside a
 * request, for operator entries (flag `operator`, audit/operator.ts: they carry the operator's own
 * `src=`), and for refusal aggregates (`….aggregate`, audit/refusals.ts): those are flushed by
 * whichever request comes next, so they stay keyed to their first, tagged, entry instead of
 * borrowing another request's address.
 */
export function withRequestSource(e: AuditEvent): AuditEvent {
  const r = store.getStore();
  if (!r || e.operator === true || e.action.endsWith('.aggregate')) return e;
  const tag = `src=${r.source}${r.sessionId ? ` sid=${r.sessionId}` : ''}`;
  const text = e.reason ? neutraliseSourceTags(e.reason).slice(0, 2000 - tag.length - 1) : '';
  return { ...e, reason: text ? `${text} ${tag}` : tag };
}

/** The node's audit writer, tagging each entry with the current request's source and session. */
export function requestAwareAudit<A extends { record(e: AuditEvent): Promise<number>; recordIn(trx: Knex.Transaction, e: AuditEvent): Promise<number> }>(audit: A): A {
  return Object.assign(Object.create(audit) as A, {
    record: (e: AuditEvent) => audit.record(withRequestSource(e)),
    recordIn: (trx: Knex.Transaction, e: AuditEvent) => audit.recordIn(trx, withRequestSource(e)),
  });
}
