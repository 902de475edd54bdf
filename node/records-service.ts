/**
 * Record intake and reads: validation against the catalog, access control (access.ts), audit of
 * every write, every restricted release and every denial, idempotency on the natural key.
 */
import type { Knex } from 'knex';
import { type FieldError, type ValidRecord } from '../protocol/catalog.js';
import { todayInChina } from '../protocol/catalog-calendar.js';
import type { Classification } from '../protocol/classification.js';
import { isCreditError, protocolError } from '../protocol/errors.js';
import { checkIdentifier, normalizeIdentifier } from '../protocol/identifiers.js';
import { maskRecord } from '../protocol/mask.js';
import type { RefusalAudit } from '../audit/refusals.js';
import type { AuditEvent } from '../audit/types.js';
import { aboveClearance, assertMayAct, assertMayWrite, decideRead, hiddenFrom, mayAct, type Action, type Caller } from './access.js';
import { nodeError } from './errors.js';
import type { RecordHooks } from './hooks.js';
import { asOf, toStoredRecord, validateForWrite, viewOf, type RecordView } from './record-model.js';
import { writeOwnRecords, type WriteOutcome } from './record-versions.js';
import { recordsStore, type RecordVersion, type StoredRecord } from './records-store.js';
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
  /** Submissions that became a new version of a stored record (record-versions.ts). */
  versions: number;
  records: { index: number; id: string; duplicate: boolean; outcome: WriteOutcome['kind']; version: number; status: StoredRecord['status'] }[];
}

export interface VersionsView {
  id: string;
  current: number;
  versions: (Omit<RecordVersion, 'recordId' | 'subject'> & { fields: Record<string, unknown> })[];
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
      const r = validateForWrite(input, todayInChina(deps.clock()));
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

  /** Loads a record the caller may change, refusing (audited) unless it is this node's own. */
  async function loadOwned(caller: Caller, action: Action, id: string): Promise<StoredRecord> {
    await act(caller, action, id);
    const r = await loadVisible(caller, id);
    await guard(caller, id, r.classification, () => assertMayWrite(caller, r.classification));
    if (r.sourceNode !== deps.nodeId) {
      await denied(caller, id, r.classification, 'ERR_NOT_RECORD_OWNER');
      throw nodeError('ERR_NOT_RECORD_OWNER', `record ${id} belongs to node ${r.sourceNode}; only that node may change it (谁认定、谁修复)`, { sourceNode: r.sourceNode });
    }
    return r;
  }

  /**
   * Writes validated own records, all or none: new ones, new versions, duplicates
   * (record-versions.ts). A submission naming a stored record hidden from the caller (access.ts
   * hiddenFrom) stores nothing and gets the bare denial.
   */
  async function write(caller: Caller, valid: ValidRecord[], note?: string): Promise<CreateResult> {
    const at = now();
    const today = todayInChina(deps.clock());
    const stored = valid.map((r) => toStoredRecord(r, { nodeId: deps.nodeId, actor: caller.actor, now: at, today }));
    let hidden: { id: string; classification: Classification } | undefined;
    try {
      return await db.transaction(async (trx) => {
        const w = await writeOwnRecords(trx, deps, stored, { actor: caller.actor, at, note: note ?? null, hidden: (k) => hiddenFrom(caller.clearance, k.classification) });
        const h = w.outcomes.find((o) => o.kind === 'hidden');
        if (h) {
          hidden = { id: h.id, classification: h.record.classification };
          throw aboveClearance(caller.clearance); // rolls the whole request back
        }
        // audit entries last: the audit lock is taken after every database lock (audit/log.ts)
        for (const s of w.created) await audit.recordIn(trx, { actor: caller.actor, actorNode: deps.nodeId, action: 'record.create', object: s.id, class: s.classification, outcome: 'success', ...(s.status === 'withdrawn' ? { reason: 'stored expired: disclosure window already ended' } : {}) });
        for (const e of w.audit) await audit.recordIn(trx, e);
        const records = w.outcomes.map((o, index) => ({ index, id: o.id, duplicate: o.kind === 'duplicate', outcome: o.kind, version: o.record.version, status: o.record.status }));
        const count = (k: WriteOutcome['kind']) => w.outcomes.filter((o) => o.kind === k).length;
        return { accepted: count('created'), duplicates: count('duplicate'), versions: count('version'), records };
      });
    } catch (e) {
      if (hidden) await denied(caller, hidden.id, hidden.classification, 'ERR_CLASSIFICATION_DENIED');
      throw e;
    }
  }

  const service = {
    /** Throws ERR_ROLE_DENIED (audited) unless the caller's role may take `action`. */
    authorize: act,

    /**
     * Stores one or more records, all or none; resubmissions (same natural key among this node's
     * own records) are reported as duplicates with the stored id — unless the stored record is
     * hidden from the caller (access.ts hiddenFrom): then nothing is stored and the answer is the
     * bare denial.
     */
    async create(caller: Caller, inputs: unknown[], note?: string): Promise<CreateResult> {
      await act(caller, 'record.create', 'records');
      const valid = await validateAll(caller, inputs);
      return write(caller, valid, note);
    },

    /**
     * Corrects a record (信息更正) by id: a new version with `input`'s class and fields. Only at
     * its source node (ERR_NOT_RECORD_OWNER elsewhere, audited); the natural key (type, decision
     * number, source unit) cannot change (ERR_RECORD_INVALID).
     */
    async correct(caller: Caller, id: string, input: { classification?: string; fields: Record<string, unknown> }, note?: string): Promise<CreateResult> {
      const r = await loadOwned(caller, 'record.create', id);
      const [valid] = await validateAll(caller, [{ type: r.type, ...(input.classification ? { classification: input.classification } : {}), fields: input.fields }]);
      const key = toStoredRecord(valid!, { nodeId: deps.nodeId, actor: caller.actor, now: now() }).naturalKey;
      if (key !== r.naturalKey) {
        throw protocolError('ERR_RECORD_INVALID', 'a correction keeps the record\'s natural key (type, decision number, source unit); submit a new record instead', [{ field: 'fields', code: 'ERR_RECORD_INVALID', message: `natural key ${key} differs from ${r.naturalKey}` }]);
      }
      return write(caller, [valid!], note);
    },

    /** Every kept version of a record the caller may read (fields masked as the record is), oldest first. */
    async versions(caller: Caller, id: string, purpose?: string): Promise<VersionsView> {
      const view = await service.get(caller, id, purpose);
      const kept = await recordsStore.listVersions(db, id);
      const versions = kept.length > 0 ? kept : [{ recordId: id, version: 1, classification: view.classification as StoredRecord['classification'], subject: view.subject, fields: view.fields, decisionDate: view.decisionDate ?? null, disclosureEnd: view.disclosureEnd ?? null, reason: 'created' as const, note: null, changedBy: 'unknown', changedAt: view.createdAt }];
      const masked = view.masked;
      return {
        id, current: view.version,
        versions: versions.map(({ recordId: _r, subject: _s, ...v }) => ({ ...v, fields: masked ? maskRecord({ type: view.type, fields: v.fields }).fields : v.fields })),
      };
    },

    async get(caller: Caller, id: string, purpose?: string): Promise<RecordView> {
      await act(caller, 'record.read', id);
      const r = asOf(await loadVisible(caller, id), todayInChina(deps.clock()));
      if (r.status === 'withdrawn' && !mayAct(caller.role, 'record.read-withdrawn')) throw nodeError('ERR_RECORD_NOT_FOUND', `no record ${id}`);
      const d = decideRead(caller.clearance, r.classification, purpose);
      if (!d.allowed) {
        await denied(caller, id, r.classification, d.code);
        const details = { class: r.classification, clearance: caller.clearance };
        throw d.code === 'ERR_CLASSIFICATION_DENIED' ? protocolError(d.code, undefined, details) : nodeError(d.code, undefined, details);
      }
      if (d.audited) await audit.record({ actor: caller.actor, actorNode: deps.nodeId, action: 'record.read', object: id, class: r.classification, outcome: 'success', reason: purpose ?? 'no purpose stated' });
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
      const today = todayInChina(deps.clock());
      const rows = (await recordsStore.listBySubject(db, subject)).map((r) => asOf(r, today)).filter((r) => opts.includeWithdrawn || r.status === 'active');
      const records: RecordView[] = [];
      const withheld: SubjectResult['withheld'] = [];
      for (const r of rows) {
        const d = decideRead(caller.clearance, r.classification, opts.purpose);
        if (!d.allowed) {
          await denied(caller, r.id, r.classification, d.code);
          withheld.push({ classification: r.classification, code: d.code });
          continue;
        }
        if (d.audited) await audit.record({ actor: caller.actor, actorNode: deps.nodeId, action: 'record.read', object: r.id, class: r.classification, outcome: 'success', reason: opts.purpose ?? 'no purpose stated' });
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
        throw nodeError('ERR_NOT_RECORD_OWNER', `record ${id} belongs to node ${r.sourceNode}; only that node may withdraw it (谁认定、谁修复)`, { sourceNode: r.sourceNode });
      }
      if (r.status !== 'active') throw nodeError('ERR_RECORD_NOT_ACTIVE', `record ${id} was withdrawn (${r.withdrawnReason}) on ${r.withdrawnAt}`);
      return r;
    },
  };
  return service;
}

export type RecordsService = ReturnType<typeof recordsService>;
