/**
 * Record intake and reads: validation against the catalog, access control (access.ts), audit of
 * every write, every restricted release and every denial, idempotency on the natural key.
 */
import type { Knex } from 'knex';
import { validateRecord, type FieldError, type ValidRecord } from '../protocol/catalog.js';
import { todayInChina } from '../protocol/catalog-calendar.js';
import type { Classification } from '../protocol/classification.js';
import { isCreditError, protocolError } from '../protocol/errors.js';
import { checkIdentifier, normalizeIdentifier } from '../protocol/identifiers.js';
import type { AuditEvent } from '../audit/types.js';
import { assertMayAct, assertMayWrite, decideRead, mayAct, type Action, type Caller } from './access.js';
import { nodeError } from './errors.js';
import { runWritten, type RecordHooks } from './hooks.js';
import { toStoredRecord, viewOf, type RecordView } from './record-model.js';
import { recordsStore, type StoredRecord } from './records-store.js';
import { subjectHandle } from './secrets.js';

/** What services need of the audit log (audit/index.ts AuditLog satisfies it). */
export interface AuditWriter {
  record(event: AuditEvent): Promise<number>;
  recordIn(trx: Knex.Transaction, event: AuditEvent): Promise<number>;
}

export interface ServiceDeps {
  db: Knex;
  audit: AuditWriter;
  hooks: RecordHooks;
  nodeId: string;
  clock: () => Date;
  /** Key of subject handles in audit objects (config.subjectKey). */
  subjectKey: Uint8Array;
}

export interface CreateResult {
  accepted: number;
  duplicates: number;
  records: { index: number; id: string; duplicate: boolean }[];
}

export interface SubjectResult {
  subject: string;
  records: RecordView[];
  withheld: { classification: Classification; code: string }[];
}

export function recordsService(deps: ServiceDeps) {
  const { db, audit } = deps;
  const now = () => deps.clock().toISOString();

  /** Runs a check; when it throws a CreditError, audits the denial first. */
  async function guard(caller: Caller, object: string, cls: Classification | undefined, check: () => void): Promise<void> {
    try {
      check();
    } catch (e) {
      if (isCreditError(e)) await denied(caller, object, cls, e.code);
      throw e;
    }
  }

  function denied(caller: Caller, object: string, cls: Classification | undefined, code: string): Promise<number> {
    return audit.record({ actor: caller.actor, actorNode: deps.nodeId, action: 'access.denied', object, ...(cls ? { class: cls } : {}), outcome: 'failure', reason: code });
  }

  async function act(caller: Caller, action: Action, object: string): Promise<void> {
    await guard(caller, object, undefined, () => assertMayAct(caller, action));
  }

  /** Validates every input (collecting errors by index) and checks the caller may write each. */
  async function validateAll(caller: Caller, inputs: unknown[]): Promise<ValidRecord[]> {
    const errors: FieldError[] = [];
    const valid: ValidRecord[] = [];
    inputs.forEach((input, index) => {
      const r = validateRecord(input, { today: todayInChina(deps.clock()) });
      if (r.ok) valid.push(r.record);
      else for (const e of r.errors) errors.push({ ...e, index });
    });
    if (errors.length > 0) {
      const bad = new Set(errors.map((e) => e.index)).size;
      throw protocolError('ERR_RECORD_INVALID', `${bad} of ${inputs.length} record(s) rejected; nothing was stored`, errors);
    }
    for (const r of valid) await guard(caller, `type:${r.type}`, r.classification, () => assertMayWrite(caller, r.classification));
    return valid;
  }

  async function load(id: string): Promise<StoredRecord> {
    const r = await recordsStore.findById(db, id);
    if (!r) throw nodeError('ERR_RECORD_NOT_FOUND', `no record ${id}`);
    return r;
  }

  return {
    /** Throws ERR_ROLE_DENIED (audited) unless the caller's role may take `action`. */
    authorize: act,

    /** Stores one or more records, all or none; resubmissions (same natural key) are reported as duplicates. */
    async create(caller: Caller, inputs: unknown[]): Promise<CreateResult> {
      await act(caller, 'record.create', 'records');
      const valid = await validateAll(caller, inputs);
      const at = now();
      const stored = valid.map((r) => toStoredRecord(r, { nodeId: deps.nodeId, actor: caller.actor, now: at }));
      return db.transaction(async (trx) => {
        const inserted = await recordsStore.insertMany(trx, stored);
        const fresh = stored.filter((s) => inserted.has(s.id));
        for (const s of fresh) await audit.recordIn(trx, { actor: caller.actor, actorNode: deps.nodeId, action: 'record.create', object: s.id, class: s.classification, outcome: 'success' });
        await runWritten(deps.hooks, trx, fresh);
        const existing = fresh.length === stored.length ? new Map<string, string>() : await recordsStore.idsByNaturalKey(trx, stored.filter((s) => !inserted.has(s.id)).map((s) => s.naturalKey));
        const records = stored.map((s, index) => (inserted.has(s.id) ? { index, id: s.id, duplicate: false } : { index, id: existing.get(s.naturalKey) ?? s.id, duplicate: true }));
        return { accepted: fresh.length, duplicates: stored.length - fresh.length, records };
      });
    },

    async get(caller: Caller, id: string, purpose?: string): Promise<RecordView> {
      await act(caller, 'record.read', id);
      const r = await load(id);
      if (r.status === 'withdrawn' && !mayAct(caller.role, 'record.read-withdrawn')) throw nodeError('ERR_RECORD_NOT_FOUND', `no record ${id}`);
      const d = decideRead(caller.clearance, r.classification, purpose);
      if (!d.allowed) {
        await denied(caller, id, r.classification, d.code);
        const details = { class: r.classification, clearance: caller.clearance };
        throw d.code === 'ERR_CLASSIFICATION_DENIED' ? protocolError(d.code, undefined, details) : nodeError(d.code, undefined, details);
      }
      if (d.audited) await audit.record({ actor: caller.actor, actorNode: deps.nodeId, action: 'record.read', object: id, class: r.classification, outcome: 'success', reason: purpose! });
      return viewOf(r, d.view);
    },

    /** Every record about a subject the caller may see; the rest are listed as withheld (and audited). */
    async bySubject(caller: Caller, code: string, opts: { purpose?: string; includeWithdrawn?: boolean } = {}): Promise<SubjectResult> {
      const subject = normalizeIdentifier(code);
      const handle = subjectHandle(deps.subjectKey, subject);
      await act(caller, 'record.read', handle);
      if (opts.includeWithdrawn) await act(caller, 'record.read-withdrawn', handle);
      const check = checkIdentifier(subject, todayInChina(deps.clock()));
      if (!check.valid) throw protocolError(check.code!, `not a valid subject code (${check.kind})`);
      const rows = (await recordsStore.listBySubject(db, subject)).filter((r) => opts.includeWithdrawn || r.status === 'active');
      const records: RecordView[] = [];
      const withheld: SubjectResult['withheld'] = [];
      for (const r of rows) {
        const d = decideRead(caller.clearance, r.classification, opts.purpose);
        if (!d.allowed) {
          await denied(caller, r.id, r.classification, d.code);
          withheld.push({ classification: r.classification, code: d.code });
          continue;
        }
        if (d.audited) await audit.record({ actor: caller.actor, actorNode: deps.nodeId, action: 'record.read', object: r.id, class: r.classification, outcome: 'success', reason: opts.purpose! });
        records.push(viewOf(r, d.view));
      }
      return { subject, records, withheld };
    },

    /** Loads a record an officer is about to change: it exists, is active, and the caller's clearance covers it. */
    async loadForChange(caller: Caller, action: Action, id: string): Promise<StoredRecord> {
      await act(caller, action, id);
      const r = await load(id);
      if (r.status !== 'active') throw nodeError('ERR_RECORD_NOT_ACTIVE', `record ${id} was withdrawn (${r.withdrawnReason}) on ${r.withdrawnAt}`);
      await guard(caller, id, r.classification, () => assertMayWrite(caller, r.classification));
      return r;
    },
  };
}

export type RecordsService = ReturnType<typeof recordsService>;
