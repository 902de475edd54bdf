/**
 * Credit repair (信用修复), objections (异议) and withdrawals. Records are withdrawn with a reason,
 * never deleted; each change is audited in the same transaction as the change itself.
 */
import type { Knex } from 'knex';
import type { AuditEvent } from '../audit/types.js';
import { todayInChina } from '../protocol/catalog-calendar.js';
import { uuidv7 } from '../protocol/crypto.js';
import type { Caller } from './access.js';
import { nodeError } from './errors.js';
import type { RecordsService, ServiceDeps } from './records-service.js';
import { recordsStore, type Objection, type StoredRecord, type WithdrawReason } from './records-store.js';

export interface WithdrawResult {
  id: string;
  status: 'withdrawn';
  withdrawnReason: WithdrawReason;
  withdrawnAt: string;
}

const SYSTEM_ACTOR = 'system:disclosure-job';

/**
 * Withdraws inside `trx`: store, objections, hooks. Returns the audit event, which the caller
 * records after its last other write (audit/log.ts: the audit lock is taken after every database lock).
 */
export async function withdrawIn(trx: Knex.Transaction, deps: ServiceDeps, r: StoredRecord, reason: WithdrawReason, actor: string, at: string, note: string | null): Promise<AuditEvent> {
  const changed = await recordsStore.withdraw(trx, r.id, reason, at);
  if (!changed) throw nodeError('ERR_RECORD_NOT_ACTIVE', `record ${r.id} is already withdrawn`);
  const resolved = await recordsStore.resolveObjections(trx, { recordId: r.id }, reason === 'objection-upheld' ? 'upheld' : 'closed', actor, at, note ?? `record withdrawn: ${reason}`);
  if (resolved > 0) await recordsStore.setDisputed(trx, r.id, false, at);
  for (const h of deps.hooks.onRecordWithdrawn) await h(trx, r, reason);
  return { actor, actorNode: deps.nodeId, action: 'record.withdraw', object: r.id, class: r.classification, outcome: 'success', reason };
}

export function repairService(deps: ServiceDeps, records: RecordsService) {
  const { db } = deps;
  const now = () => deps.clock().toISOString();
  const today = () => todayInChina(deps.clock());

  const service = {
    /** Files an objection (异议): the record is flagged `disputed` until the objection is resolved. */
    async object(caller: Caller, id: string, grounds: string): Promise<Objection> {
      const r = await records.loadForChange(caller, 'record.object', id);
      const at = now();
      const o: Objection = { id: uuidv7(), recordId: r.id, status: 'open', grounds, filedBy: caller.actor, filedAt: at, resolvedBy: null, resolvedAt: null, resolutionNote: null };
      await db.transaction(async (trx) => {
        await recordsStore.insertObjection(trx, o);
        await recordsStore.setDisputed(trx, r.id, true, at);
        await deps.audit.recordIn(trx, { actor: caller.actor, actorNode: deps.nodeId, action: 'record.object', object: r.id, class: r.classification, outcome: 'success', reason: `objection ${o.id}` });
      });
      return o;
    },

    /**
     * Withdraws a record. `repair`: negative records only, from repairFrom on (ERR_REPAIR_TOO_EARLY
     * before); `expired`: only after the disclosure window ended; `objection-upheld`: only with an
     * open objection (which it upholds); `correction`: any time.
     */
    async withdraw(caller: Caller, id: string, reason: WithdrawReason, note?: string): Promise<WithdrawResult> {
      const r = await records.loadForChange(caller, 'record.withdraw', id);
      const d = today();
      if (reason === 'repair') {
        if (!r.negative || !r.repairFrom) throw nodeError('ERR_REPAIR_NOT_APPLICABLE', `a ${r.type} record is not negative information; it cannot be repaired`);
        if (d < r.repairFrom) throw nodeError('ERR_REPAIR_TOO_EARLY', `repair is possible from ${r.repairFrom} (today is ${d})`, { repairFrom: r.repairFrom, today: d });
      }
      if (reason === 'expired' && (!r.disclosureEnd || d <= r.disclosureEnd)) {
        throw nodeError('ERR_DISCLOSURE_NOT_ENDED', r.disclosureEnd ? `disclosed through ${r.disclosureEnd} (today is ${d})` : `a ${r.type} record has no disclosure window`, { disclosureEnd: r.disclosureEnd, today: d });
      }
      if (reason === 'objection-upheld' && (await recordsStore.countOpenObjections(db, r.id)) === 0) {
        throw nodeError('ERR_NO_OPEN_OBJECTION', `record ${r.id} has no open objection`);
      }
      const at = now();
      await db.transaction(async (trx) => deps.audit.recordIn(trx, await withdrawIn(trx, deps, r, reason, caller.actor, at, note ?? null)));
      return { id: r.id, status: 'withdrawn', withdrawnReason: reason, withdrawnAt: at };
    },

    /** Resolves an objection: upheld withdraws the record (`objection-upheld`); rejected clears the flag. */
    async resolveObjection(caller: Caller, objectionId: string, outcome: 'upheld' | 'rejected', note?: string): Promise<Objection> {
      await records.authorize(caller, 'objection.resolve', objectionId);
      const o = await recordsStore.findObjection(db, objectionId);
      if (!o) throw nodeError('ERR_OBJECTION_NOT_FOUND', `no objection ${objectionId}`);
      await records.loadVisible(caller, o.recordId); // clearance before the objection's state shows
      if (o.status !== 'open') throw nodeError('ERR_OBJECTION_CLOSED', `objection ${objectionId} was ${o.status} on ${o.resolvedAt}`);
      if (outcome === 'upheld') {
        await service.withdraw(caller, o.recordId, 'objection-upheld', note);
      } else {
        const r = await records.loadForChange(caller, 'objection.resolve', o.recordId);
        const at = now();
        await db.transaction(async (trx) => {
          await recordsStore.resolveObjections(trx, { id: o.id }, 'rejected', caller.actor, at, note ?? null);
          if ((await recordsStore.countOpenObjections(trx, r.id)) === 0) await recordsStore.setDisputed(trx, r.id, false, at);
          await deps.audit.recordIn(trx, { actor: caller.actor, actorNode: deps.nodeId, action: 'objection.resolve', object: r.id, class: r.classification, outcome: 'success', reason: `objection ${o.id} rejected` });
        });
      }
      return (await recordsStore.findObjection(db, objectionId))!;
    },

    /**
     * The disclosure job: withdraws (reason `expired`) every active negative record whose last day
     * of disclosure is before today. Returns how many it withdrew.
     */
    async expireDue(): Promise<number> {
      let n = 0;
      for (;;) {
        const due = await recordsStore.findExpired(db, today(), 200);
        if (due.length === 0) return n;
        const at = now();
        await db.transaction(async (trx) => {
          const events: AuditEvent[] = [];
          for (const r of due) events.push(await withdrawIn(trx, deps, r, 'expired', SYSTEM_ACTOR, at, null));
          for (const e of events) await deps.audit.recordIn(trx, e);
        });
        n += due.length;
      }
    },
  };
  return service;
}

export type RepairService = ReturnType<typeof repairService>;
