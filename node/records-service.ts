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
import type { RefusalAudit } from '../audit/refusals.js';
import type { AuditEvent } from '../audit/types.js';
import { aboveClearance, assertMayAct, assertMayWrite, decideRead, hiddenFrom, mayAct, type Action, type Caller } from './access.js';
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
  /** Denials go through it, aggregated per caller and minute (audit/refusals.ts); without it, one entry each. */
  refusals?: RefusalAudit;
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

  async function denied(caller: Caller, object: string, cls: Classification | undefined, code: string): Promise<void> {
    const event: AuditEvent = { actor: caller.actor, actorNode: deps.nodeId, action: 'access.denied', object, ...(cls ? { class: cls } : {}), outcome: 'failure', reason: code };
    if (deps.refusals) await deps.refusals.refused(caller.actor, event);
    else await audit.record(event);
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

  /** Loads a record the caller may know of; one hidden from them gets the bare denial (audited) before anything else. */
  async function loadVisible(caller: Caller, id: string): Promise<StoredRecord> {
    const r = await load(id);
    if (hiddenFrom(caller.clearance, r.classification)) {
      await denied(caller, id, r.classification, 'ERR_CLASSIFICATION_DENIED');
      throw aboveClearance(caller.clearance);
    }
    return r;
  }

  return {
    /** Throws ERR_ROLE_DENIED (audited) unless the caller's role may take `action`. */
    authorize: act,

    /**
     * Stores one or more records, all or none; resubmissions (same natural key among this node's
     * own records) are reported as duplicates with the stored id — unless the stored record is
     * hidden from the caller (access.ts hiddenFrom): then nothing is stored and the answer is the
     * bare denial.
     */
    async create(caller: Caller, inputs: unknown[]): Promise<CreateResult> {
      await act(caller, 'record.create', 'records');
      const valid = await validateAll(caller, inputs);
      const at = now();
      const stored = valid.map((r) => toStoredRecord(r, { nodeId: deps.nodeId, actor: caller.actor, now: at }));
      let hidden: { id: string; classification: Classification } | undefined;
      try {
        return await db.transaction(async (trx) => {
          const inserted = await recordsStore.insertMany(trx, stored);
          const fresh = stored.filter((s) => inserted.has(s.id));
          const existing = fresh.length === stored.length ? new Map<string, { id: string; classification: Classification }>() : await recordsStore.idsByNaturalKey(trx, deps.nodeId, stored.filter((s) => !inserted.has(s.id)).map((s) => s.naturalKey));
          hidden = [...existing.values()].find((e) => hiddenFrom(caller.clearance, e.classification));
          if (hidden) throw aboveClearance(caller.clearance); // rolls the whole request back
          await runWritten(deps.hooks, trx, fresh);
          // audit entries last: the audit lock is taken after every database lock (audit/log.ts)
          for (const s of fresh) await audit.recordIn(trx, { actor: caller.actor, actorNode: deps.nodeId, action: 'record.create', object: s.id, class: s.classification, outcome: 'success' });
          const records = stored.map((s, index) => (inserted.has(s.id) ? { index, id: s.id, duplicate: false } : { index, id: existing.get(s.naturalKey)?.id ?? s.id, duplicate: true }));
          return { accepted: fresh.length, duplicates: stored.length - fresh.length, records };
        });
      } catch (e) {
        if (hidden) await denied(caller, hidden.id, hidden.classification, 'ERR_CLASSIFICATION_DENIED');
        throw e;
      }
    },

    async get(caller: Caller, id: string, purpose?: string): Promise<RecordView> {
      await act(caller, 'record.read', id);
      const r = await loadVisible(caller, id);
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

    /** Loads a record the caller may know of (else the bare denial, audited, before any other check). */
    loadVisible,

    /**
     * Loads a record an officer is about to change, checking in this order: the caller may know
     * of it (else the bare denial), their clearance covers its class, it is this node's own when
     * the change is a withdrawal (only the source node may withdraw: ERR_NOT_RECORD_OWNER), and
     * it is active. Every refusal but the last is audited.
     */
    async loadForChange(caller: Caller, action: Action, id: string): Promise<StoredRecord> {
      await act(caller, action, id);
      const r = await loadVisible(caller, id);
      await guard(caller, id, r.classification, () => assertMayWrite(caller, r.classification));
      if (action === 'record.withdraw' && r.sourceNode !== deps.nodeId) {
        await denied(caller, id, r.classification, 'ERR_NOT_RECORD_OWNER');
        throw nodeError('ERR_NOT_RECORD_OWNER', `record ${id} belongs to node ${r.sourceNode}; only that node may withdraw it`, { sourceNode: r.sourceNode });
      }
      if (r.status !== 'active') throw nodeError('ERR_RECORD_NOT_ACTIVE', `record ${id} was withdrawn (${r.withdrawnReason}) on ${r.withdrawnAt}`);
      return r;
    },
  };
}

export type RecordsService = ReturnType<typeof recordsService>;
