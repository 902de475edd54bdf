/**
 * Credit repair (信用修复) per Order No. 36 of 2025, at the record's owner (谁认定、谁修复): an
 * application with evidence references and the subject's 信用承诺 → accepted or refused with a
 * reason, decided by the working-day deadline. Accepted withdraws the record with reason `repair`
 * (the withdrawal travels to the hub and every node that holds it) and the decision is kept.
 * Decisions taken upstream (a department, 信用中国) come in through POST /v1/repairs/import as a
 * repair decision on the owner's record. Every change is audited in its own transaction.
 */
import type { Knex } from 'knex';
import type { AuditEvent } from '../audit/types.js';
import { naturalKey } from '../protocol/catalog.js';
import { todayInChina } from '../protocol/catalog-calendar.js';
import { uuidv7 } from '../protocol/crypto.js';
import { isCreditError } from '../protocol/errors.js';
import { workingDayCalendar, type WorkingDayCalendar } from '../protocol/working-days.js';
import { hiddenFrom, type Caller } from './access.js';
import { nodeError } from './errors.js';
import { withdrawIn } from './repair-service.js';
import type { RecordsService, ServiceDeps } from './records-service.js';
import { recordsStore, type StoredRecord } from './records-store.js';
import { repairsStore, type Repair, type RepairStatus } from './repairs-store.js';

/** Working days the owner has to decide a repair application (a policy setting of the province). */
export const REPAIR_WORKING_DAYS = 10;

export interface RepairView extends Repair {
  overdue: boolean;
}

/** One decision taken upstream, as imported. */
export interface UpstreamDecision {
  /** The record, by id … */
  recordId?: string;
  /** … or by its catalog type and natural-key fields (e.g. CF: decisionNo + sourceUscc). */
  type?: string;
  key?: Record<string, string>;
  outcome: 'accepted' | 'refused';
  /** Who decided (行政机关 name or 信用中国) and their reference number. */
  decidedBy: string;
  reference: string;
  decidedAt: string;
  reason?: string;
}

export interface UpstreamReport {
  lines: number;
  applied: number;
  rejected: { line: number; code: string; message: string }[];
}

export function repairsService(deps: ServiceDeps & { calendar?: WorkingDayCalendar }, records: RecordsService) {
  const { db, nodeId } = deps;
  const calendar = deps.calendar ?? workingDayCalendar();
  const now = () => deps.clock().toISOString();
  const today = () => todayInChina(deps.clock());
  const view = (r: Repair, d = today()): RepairView => ({ ...r, overdue: r.status === 'pending' && r.dueDate !== null && r.dueDate < d });

  function assertOwnNegative(r: StoredRecord): void {
    if (r.sourceNode !== nodeId) throw nodeError('ERR_NOT_RECORD_OWNER', `record ${r.id} belongs to node ${r.sourceNode}; credit repair is decided there (谁认定、谁修复)`, { sourceNode: r.sourceNode });
    if (!r.negative || !r.repairFrom) throw nodeError('ERR_REPAIR_NOT_APPLICABLE', `a ${r.type} record is not negative information; it cannot be repaired`);
  }

  function assertRepairable(r: StoredRecord): void {
    const d = today();
    if (d < r.repairFrom!) throw nodeError('ERR_REPAIR_TOO_EARLY', `repair is possible from ${r.repairFrom} (today is ${d})`, { repairFrom: r.repairFrom, today: d });
  }

  /** Accepts inside one transaction: withdraws the record (repair), decides the repair, closes other pending ones; audited. */
  async function accept(r: StoredRecord, repair: Repair, by: string, at: string, note: string | null): Promise<void> {
    await db.transaction(async (trx) => {
      const withdrawn = await withdrawIn(trx, deps, r, 'repair', by, at, note ?? `repair ${repair.id}`);
      if (!(await repairsStore.decide(trx, repair.id, 'accepted', by, at, note))) throw nodeError('ERR_REPAIR_DECIDED', `repair ${repair.id} has already been decided`);
      await repairsStore.closePending(trx, r.id, by, at, `record withdrawn by repair ${repair.id}`);
      await deps.audit.recordIn(trx, withdrawn);
      await deps.audit.recordIn(trx, { actor: by, actorNode: nodeId, action: 'repair.decide', object: r.id, class: r.classification, outcome: 'success', reason: `repair ${repair.id} accepted` });
    });
  }

  return {
    /** Record hook (app.ts): a record withdrawn for another reason (correction, expired, objection-upheld) refuses its pending applications, with that reason. */
    async onRecordWithdrawn(trx: Knex.Transaction, r: StoredRecord, reason: string): Promise<void> {
      if (reason === 'repair') return; // accept() decides its own and closes the others
      await repairsStore.closePending(trx, r.id, 'system:withdrawal', now(), `记录已撤回（${reason}），修复申请终止`);
    },

    async apply(caller: Caller, recordId: string, body: { evidence: string[]; commitment: string }): Promise<RepairView> {
      const r = await records.loadForChange(caller, 'record.object', recordId);
      assertOwnNegative(r);
      const at = now();
      const repair: Repair = {
        id: uuidv7(), recordId: r.id, status: 'pending', origin: 'application', evidence: body.evidence, commitment: body.commitment,
        appliedBy: caller.actor, appliedAt: at, dueDate: calendar.addWorkingDays(today(), REPAIR_WORKING_DAYS), decidedBy: null, decidedAt: null, reason: null, upstream: null,
      };
      await db.transaction(async (trx) => {
        await repairsStore.insert(trx, repair);
        await deps.audit.recordIn(trx, { actor: caller.actor, actorNode: nodeId, action: 'repair.apply', object: r.id, class: r.classification, outcome: 'success', reason: `repair ${repair.id} due=${repair.dueDate}` });
      });
      return view(repair);
    },

    async decide(caller: Caller, repairId: string, outcome: 'accepted' | 'refused', reason?: string): Promise<RepairView> {
      await records.authorize(caller, 'record.withdraw', repairId);
      const repair = await repairsStore.find(db, repairId);
      if (!repair) throw nodeError('ERR_REPAIR_NOT_FOUND', `no repair application ${repairId}`);
      await records.loadVisible(caller, repair.recordId); // clearance before the application's state shows
      if (repair.status !== 'pending') throw nodeError('ERR_REPAIR_DECIDED', `repair ${repairId} was ${repair.status} on ${repair.decidedAt}`);
      const r = await records.loadForChange(caller, 'record.withdraw', repair.recordId);
      assertOwnNegative(r);
      const at = now();
      if (outcome === 'accepted') {
        assertRepairable(r);
        await accept(r, repair, caller.actor, at, reason ?? null);
      } else {
        if (!reason?.trim()) throw nodeError('ERR_REPAIR_REASON_REQUIRED', '不予修复须说明理由 (refusing needs a reason)');
        await db.transaction(async (trx) => {
          if (!(await repairsStore.decide(trx, repair.id, 'refused', caller.actor, at, reason))) throw nodeError('ERR_REPAIR_DECIDED', `repair ${repairId} has already been decided`);
          await deps.audit.recordIn(trx, { actor: caller.actor, actorNode: nodeId, action: 'repair.decide', object: r.id, class: r.classification, outcome: 'success', reason: `repair ${repair.id} refused` });
        });
      }
      return view((await repairsStore.find(db, repairId))!);
    },

    async list(caller: Caller, f: { status?: RepairStatus; overdue?: boolean }): Promise<RepairView[]> {
      await records.authorize(caller, 'record.object', 'repairs');
      const d = today();
      const out: RepairView[] = [];
      for (const rep of await repairsStore.list(db, { ...(f.status ? { status: f.status } : {}), ...(f.overdue ? { overdueOn: d } : {}) })) {
        const r = await recordsStore.findById(db, rep.recordId);
        if (r && !hiddenFrom(caller.clearance, r.classification)) out.push(view(rep, d));
      }
      return out;
    },

    async forRecord(caller: Caller, recordId: string): Promise<RepairView[]> {
      await records.authorize(caller, 'record.object', recordId);
      await records.loadVisible(caller, recordId);
      return (await repairsStore.list(db, { recordId })).map((r) => view(r));
    },

    /** Repair decisions taken upstream, each applied on its own; a bad line is reported (zh-CN + code) and the rest go on. */
    async importUpstream(caller: Caller, lines: UpstreamDecision[]): Promise<UpstreamReport> {
      await records.authorize(caller, 'record.withdraw', 'repairs');
      const report: UpstreamReport = { lines: lines.length, applied: 0, rejected: [] };
      for (const [i, u] of lines.entries()) {
        const line = i + 1;
        try {
          let id = u.recordId;
          if (!id && u.type && u.key) {
            const found = await recordsStore.idsByNaturalKey(db, nodeId, [naturalKey({ type: u.type, fields: u.key })]);
            id = [...found.values()][0]?.id;
          }
          if (!id) throw nodeError('ERR_RECORD_NOT_FOUND', `第 ${line} 行：本节点没有这条记录（按 recordId 或 type + key 查找）`);
          const r = await records.loadForChange(caller, 'record.withdraw', id);
          assertOwnNegative(r);
          const at = now();
          const repair: Repair = {
            id: uuidv7(), recordId: r.id, status: 'pending', origin: 'upstream', evidence: [u.reference], commitment: null,
            appliedBy: `upstream:${u.decidedBy}`.slice(0, 128), appliedAt: u.decidedAt, dueDate: null, decidedBy: null, decidedAt: null, reason: null, upstream: `${u.decidedBy} ${u.reference}`.slice(0, 200),
          };
          await repairsStore.insert(db, repair);
          if (u.outcome === 'accepted') await accept(r, repair, caller.actor, at, `${u.decidedBy} ${u.reference}`);
          else {
            await db.transaction(async (trx) => {
              await repairsStore.decide(trx, repair.id, 'refused', caller.actor, at, u.reason ?? `${u.decidedBy} ${u.reference}`);
              await deps.audit.recordIn(trx, { actor: caller.actor, actorNode: nodeId, action: 'repair.decide', object: r.id, class: r.classification, outcome: 'success', reason: `repair ${repair.id} refused upstream` } satisfies AuditEvent);
            });
          }
          report.applied++;
        } catch (e) {
          if (!isCreditError(e)) throw e;
          report.rejected.push({ line, code: e.code, message: `第 ${line} 行：${e.message} [${e.code}]` });
        }
      }
      return report;
    },
  };
}

export type RepairsService = ReturnType<typeof repairsService>;
