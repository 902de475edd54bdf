/**
 * Objections (异议) across the province. An objection may be filed at any node that holds the
 * record; only the record's owner (its source node) decides it, and never the officer who filed it
 * (four-eyes: ERR_OBJECTION_SELF_RESOLVE). Filed elsewhere, it is sealed to the owner through the
 * hub as a `notice` (protocol/notices.ts), and the owner's result comes back the same way. While an
 * objection is open the record is `disputed` (shown as 异议中): the owner sends a `mark` notice so
 * every node that holds the record shows it too. Each objection has a decision deadline counted in
 * working days of the province calendar (protocol/working-days.ts); `overdue` lists those past it.
 * Every change and its notices commit in one transaction, audited.
 */
import type { Knex } from 'knex';
import type { AuditEvent } from '../audit/types.js';
import { todayInChina } from '../protocol/catalog-calendar.js';
import { uuidv7 } from '../protocol/crypto.js';
import type { Notice } from '../protocol/notices.js';
import { workingDayCalendar, type WorkingDayCalendar } from '../protocol/working-days.js';
import { hiddenFrom, type Caller } from './access.js';
import { nodeError } from './errors.js';
import { objectionsStore, type ObjectionFilter, type ProvinceObjection } from './objections-store.js';
import { withdrawIn } from './repair-service.js';
import type { RecordsService, ServiceDeps } from './records-service.js';
import { recordsStore, type Objection, type StoredRecord } from './records-store.js';

/** Working days the owner has to decide an objection, counted from the day after filing (a policy setting of the province). */
export const OBJECTION_WORKING_DAYS = 10;

export interface ObjectionView extends ProvinceObjection {
  /** Open and past its due date (today in China). */
  overdue: boolean;
}

export interface ObjectionDeps extends ServiceDeps {
  calendar?: WorkingDayCalendar;
  /** Called after a transaction that queued notices has committed (wakes the notices loop). */
  onNotice?: () => void;
}

export function objectionsService(deps: ObjectionDeps, records: RecordsService) {
  const { db, nodeId } = deps;
  const calendar = deps.calendar ?? workingDayCalendar();
  const now = () => deps.clock().toISOString();
  const today = () => todayInChina(deps.clock());
  const view = (o: ProvinceObjection, d = today()): ObjectionView => ({ ...o, overdue: o.status === 'open' && o.dueDate !== null && o.dueDate < d });

  async function queue(trx: Knex.Transaction, notices: Notice[], at: string): Promise<void> {
    for (const n of notices) await objectionsStore.enqueue(trx, n, at);
    if (notices.length > 0 && deps.onNotice) trx.executionPromise.then(deps.onNotice, () => undefined);
  }

  const mark = (r: StoredRecord, disputed: boolean, at: string): Notice => ({ kind: 'mark', owner: r.sourceNode, recordId: r.id, disputed, at });

  /** The notices an owner sends when it decides `decided` objections of `r`: results to the filing nodes, then the mark. */
  function afterDecision(r: StoredRecord, decided: ProvinceObjection[], outcome: 'upheld' | 'rejected', by: string, at: string, note: string | null, stillOpen: number): Notice[] {
    const out: Notice[] = decided
      .filter((o) => o.filedNode !== nodeId)
      .map((o) => ({ kind: 'objection-result', objectionId: o.id, owner: nodeId, recordId: r.id, outcome, ...(note ? { note } : {}), resolvedBy: `node:${nodeId}/${by}`, resolvedAt: at }));
    if (stillOpen === 0 && r.status === 'active' && outcome === 'rejected') out.push(mark(r, false, at));
    return out;
  }

  return {
    /** Files an objection: stored here, the record marked disputed; sent to the owner when it is another node. */
    async file(caller: Caller, recordId: string, grounds: string): Promise<ObjectionView> {
      const r = await records.loadForChange(caller, 'record.object', recordId);
      const at = now();
      const o: ProvinceObjection = {
        id: uuidv7(), recordId: r.id, status: 'open', grounds, filedBy: caller.actor, filedAt: at, resolvedBy: null, resolvedAt: null, resolutionNote: null,
        ownerNode: r.sourceNode, filedNode: nodeId, dueDate: calendar.addWorkingDays(today(), OBJECTION_WORKING_DAYS),
      };
      await db.transaction(async (trx) => {
        await objectionsStore.insert(trx, nodeId, o);
        await recordsStore.setDisputed(trx, r.id, true, at);
        const notice: Notice = r.sourceNode === nodeId
          ? mark(r, true, at)
          : { kind: 'objection', objectionId: o.id, owner: r.sourceNode, recordId: r.id, grounds, filedBy: `node:${nodeId}/${caller.actor}`, filedAt: at, dueDate: o.dueDate! };
        await queue(trx, [notice], at);
        await deps.audit.recordIn(trx, { actor: caller.actor, actorNode: nodeId, action: 'record.object', object: r.id, class: r.classification, outcome: 'success', reason: `objection ${o.id} owner=${r.sourceNode} due=${o.dueDate}` });
      });
      return view(o);
    },

    /** Objections held here (filed here or about this node's records), filtered; hidden records' objections are left out. */
    async list(caller: Caller, f: { status?: Objection['status']; overdue?: boolean }): Promise<ObjectionView[]> {
      await records.authorize(caller, 'record.object', 'objections');
      const d = today();
      const filter: ObjectionFilter = { ...(f.status ? { status: f.status } : {}), ...(f.overdue ? { overdueOn: d } : {}) };
      const rows = await objectionsStore.list(db, nodeId, filter);
      const out: ObjectionView[] = [];
      for (const o of rows) {
        const r = await recordsStore.findById(db, o.recordId);
        if (r && !hiddenFrom(caller.clearance, r.classification)) out.push(view(o, d));
      }
      return out;
    },

    async forRecord(caller: Caller, recordId: string): Promise<ObjectionView[]> {
      await records.authorize(caller, 'record.object', recordId);
      await records.loadVisible(caller, recordId);
      return (await objectionsStore.list(db, nodeId, { recordId })).map((o) => view(o));
    },

    /**
     * Decides an objection at the record's owner: upheld withdraws the record (objection-upheld,
     * travelling to every node as a withdrawal) and upholds every open objection about it; rejected
     * closes this one and clears the mark when none is left open. Results go to the filing nodes.
     */
    async resolve(caller: Caller, objectionId: string, outcome: 'upheld' | 'rejected', note?: string): Promise<ObjectionView> {
      await records.authorize(caller, 'objection.resolve', objectionId);
      const o = await objectionsStore.find(db, nodeId, objectionId);
      if (!o) throw nodeError('ERR_OBJECTION_NOT_FOUND', `no objection ${objectionId}`);
      await records.loadVisible(caller, o.recordId);
      if (o.status !== 'open') throw nodeError('ERR_OBJECTION_CLOSED', `objection ${objectionId} was ${o.status} on ${o.resolvedAt}`);
      if (o.ownerNode !== nodeId) {
        throw nodeError('ERR_NOT_RECORD_OWNER', `the record belongs to node ${o.ownerNode}; only that node decides objections about it (谁认定、谁修复)`, { sourceNode: o.ownerNode });
      }
      if (o.filedBy === caller.actor) {
        await deps.audit.record({ actor: caller.actor, actorNode: nodeId, action: 'objection.resolve', object: o.recordId, outcome: 'failure', reason: 'ERR_OBJECTION_SELF_RESOLVE' });
        throw nodeError('ERR_OBJECTION_SELF_RESOLVE', `${caller.actor} filed objection ${objectionId}; another officer must decide it`);
      }
      const r = await records.loadForChange(caller, 'objection.resolve', o.recordId);
      const at = now();
      const n = note ?? null;
      await db.transaction(async (trx) => {
        let event: AuditEvent;
        let notices: Notice[];
        if (outcome === 'upheld') {
          // the results to the filing nodes are queued by onRecordWithdrawn (below), inside withdrawIn
          event = await withdrawIn(trx, deps, r, 'objection-upheld', caller.actor, at, n);
          notices = [];
        } else {
          await objectionsStore.decide(trx, o.id, 'rejected', caller.actor, at, n);
          const left = (await objectionsStore.openOf(trx, nodeId, r.id)).length;
          if (left === 0) await recordsStore.setDisputed(trx, r.id, false, at);
          notices = afterDecision(r, [o], 'rejected', caller.actor, at, n, left);
          event = { actor: caller.actor, actorNode: nodeId, action: 'objection.resolve', object: r.id, class: r.classification, outcome: 'success', reason: `objection ${o.id} rejected` };
        }
        await queue(trx, notices, at);
        await deps.audit.recordIn(trx, event);
      });
      return view((await objectionsStore.find(db, nodeId, objectionId))!);
    },

    /**
     * Record hook (app.ts adds it to onRecordWithdrawn): when this node withdraws its own record
     * with reason objection-upheld — through POST /v1/objections/:id/resolve or POST
     * /v1/records/:id/withdraw — every objection it upheld that was filed at another node gets its
     * `objection-result`. A record is withdrawn once, so its upheld objections are exactly those.
     */
    async onRecordWithdrawn(trx: Knex.Transaction, r: StoredRecord, reason: string): Promise<void> {
      if (r.sourceNode !== nodeId || reason !== 'objection-upheld') return;
      const upheld = (await objectionsStore.list(trx, nodeId, { recordId: r.id, status: 'upheld' })).filter((o) => o.filedNode !== nodeId);
      const at = upheld[0]?.resolvedAt ?? now();
      await queue(trx, upheld.map((o) => ({
        kind: 'objection-result' as const, objectionId: o.id, owner: nodeId, recordId: r.id, outcome: 'upheld' as const,
        ...(o.resolutionNote ? { note: o.resolutionNote } : {}), resolvedBy: `node:${nodeId}/${o.resolvedBy ?? 'unknown'}`, resolvedAt: o.resolvedAt ?? at,
      })), at);
    },

    /**
     * Applies a notice from another node (the notices puller calls it inside its transaction).
     * Returns the audit event to record, or null when the notice changes nothing here.
     */
    async applyNotice(trx: Knex.Transaction, from: string, n: Notice): Promise<AuditEvent | null> {
      const at = now();
      const r = await recordsStore.findById(trx, n.recordId);
      if (!r || r.sourceNode !== n.owner) return null;
      const actor = `node:${from}`;
      if (n.kind === 'objection') {
        if (n.owner !== nodeId) return null;
        const active = r.status === 'active';
        const o: ProvinceObjection = {
          id: n.objectionId, recordId: r.id, status: active ? 'open' : 'closed', grounds: n.grounds, filedBy: n.filedBy, filedAt: n.filedAt,
          resolvedBy: active ? null : actor, resolvedAt: active ? null : at, resolutionNote: active ? null : `record already withdrawn (${r.withdrawnReason})`,
          ownerNode: nodeId, filedNode: from, dueDate: n.dueDate,
        };
        if (!(await objectionsStore.insert(trx, nodeId, o))) return null;
        if (active) {
          await recordsStore.setDisputed(trx, r.id, true, at);
          await queue(trx, [mark(r, true, at)], at);
        }
        return { actor, actorNode: from, action: 'objection.receive', object: r.id, class: r.classification, outcome: 'success', reason: `objection ${o.id} due=${o.dueDate}` };
      }
      if (from !== n.owner) return null;
      if (n.kind === 'objection-result') {
        const o = await objectionsStore.find(trx, nodeId, n.objectionId);
        if (!o || o.ownerNode !== from) return null;
        if (!(await objectionsStore.decide(trx, o.id, n.outcome, n.resolvedBy, n.resolvedAt, n.note ?? null, true))) return null; // a tombstone may have closed it first
        if ((await objectionsStore.openOf(trx, nodeId, r.id)).length === 0 && n.outcome === 'rejected') await recordsStore.setDisputed(trx, r.id, false, at);
        return { actor, actorNode: from, action: 'objection.result', object: r.id, class: r.classification, outcome: 'success', reason: `objection ${o.id} ${n.outcome}` };
      }
      // mark: the owner's disputed state, kept true while an objection filed here is still on its way.
      // Only a mark newer than the last one applied counts: the notice feed read again after a
      // rewind (feed marks) brings older marks back, which must not undo a later one.
      const last = (await trx('node_owner_marks').where({ record_id: r.id }).first('at')) as { at: string } | undefined;
      if (last !== undefined && last.at >= n.at) return null;
      await trx('node_owner_marks').insert({ record_id: r.id, at: n.at }).onConflict('record_id').merge(['at']);
      const disputed = n.disputed || (await objectionsStore.openOf(trx, nodeId, r.id)).length > 0;
      if (disputed === r.disputed) return null;
      await recordsStore.setDisputed(trx, r.id, disputed, at);
      return { actor, actorNode: from, action: 'record.mark', object: r.id, class: r.classification, outcome: 'success', reason: disputed ? 'disputed' : 'undisputed' };
    },
  };
}

export type ObjectionsService = ReturnType<typeof objectionsService>;
