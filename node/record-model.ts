/**
 * From a validated catalog record to the stored row (id, subject, natural key, disclosure window),
 * and from a stored row to what the API shows a caller (in full or masked).
 */
import { naturalKey, subjectOf, getRecordType, validateRecord, type ValidRecord, type ValidationResult, type ValidateOptions } from '../protocol/catalog.js';
import { todayInChina } from '../protocol/catalog-calendar.js';
import { disclosureWindow } from '../protocol/disclosure.js';
import { applyPublicationPolicy, decisionDateProblem } from '../protocol/publication-policy.js';
import { maskIdentifier, maskRecord } from '../protocol/mask.js';
import { uuidv7 } from '../protocol/crypto.js';
import type { StoredRecord } from './records-store.js';

/**
 * A record as the node writes it: the catalog's checks, then a decision date after `today` is
 * refused (ERR_DECISION_DATE_FUTURE, issue 15).
 */
export function validateForWrite(input: unknown, today: string, opts: Omit<ValidateOptions, 'today'> = {}): ValidationResult {
  const v = validateRecord(input, { ...opts, today });
  if (!v.ok) return v;
  const problem = decisionDateProblem(v.record.fields, today);
  return problem ? { ok: false, errors: [problem] } : v;
}

/**
 * The stored row of a validated record: its class raised to what Order No. 36 asks
 * (publication-policy.ts), and stored already withdrawn as `expired` when its disclosure window
 * ended before `today` (China date of ctx.now unless given): such a record is kept, never shown
 * as active and never distributed.
 */
export function toStoredRecord(input: ValidRecord, ctx: { nodeId: string; actor: string; now: string; today?: string }, extra?: Record<string, string>): StoredRecord {
  const r = applyPublicationPolicy(input);
  const w = disclosureWindow(r);
  const today = ctx.today ?? todayInChina(new Date(ctx.now));
  const expired = w !== null && w.disclosureEnd < today;
  return {
    severityDerived: r.severityDerived ?? null,
    extra: extra ?? null,
    id: uuidv7(),
    type: r.type,
    classification: r.classification,
    subject: subjectOf(r),
    naturalKey: naturalKey(r),
    fields: r.fields,
    catalogVersion: r.catalogVersion,
    negative: getRecordType(r.type).negative,
    status: expired ? 'withdrawn' : 'active',
    disputed: false,
    withdrawnReason: expired ? 'expired' : null,
    withdrawnAt: expired ? ctx.now : null,
    decisionDate: typeof r.fields.decisionDate === 'string' ? r.fields.decisionDate : null,
    repairFrom: w?.repairFrom ?? null,
    disclosureEnd: w?.disclosureEnd ?? null,
    sourceNode: ctx.nodeId,
    createdBy: ctx.actor,
    createdAt: ctx.now,
    updatedAt: ctx.now,
    version: 1,
  };
}

/**
 * The record as it stands on `today`: an active negative record whose disclosure window has
 * ended is withdrawn (`expired`, from the day after its last day) whether or not the disclosure
 * job has persisted that yet. Every read path goes through this.
 */
export function asOf(r: StoredRecord, today: string): StoredRecord {
  if (r.status !== 'active' || !r.negative || r.disclosureEnd === null || r.disclosureEnd >= today) return r;
  return { ...r, status: 'withdrawn', withdrawnReason: 'expired', withdrawnAt: `${addDays(r.disclosureEnd, 1)}T00:00:00+08:00` };
}

function addDays(date: string, days: number): string {
  const d = new Date(`${date}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() + days);
  return d.toISOString().slice(0, 10);
}

export interface RecordView {
  id: string;
  type: string;
  classification: string;
  subject: string;
  /** Catalog version the record was validated against. */
  catalogVersion: string;
  masked: boolean;
  status: string;
  disputed: boolean;
  /** `异议中` while an objection about the record is open (at its owner or at this node). */
  disputedLabel?: '异议中';
  withdrawnReason?: string;
  withdrawnAt?: string;
  decisionDate?: string;
  repairFrom?: string;
  disclosureEnd?: string;
  /** Set when the severity was derived (from 公示截止期 or the province default), not given. */
  severityDerived?: string;
  /** Columns of the imported row that are not catalog fields. */
  extra?: Record<string, string>;
  sourceNode: string;
  createdAt: string;
  updatedAt: string;
  version: number;
  fields: Record<string, unknown>;
}

/** The record as the API shows it; `masked` applies protocol/mask.ts to personal data. */
/** How a disputed record is shown wherever it is read (local reads, subject views, province answers). */
export const DISPUTED_LABEL = '异议中' as const;

export function viewOf(r: StoredRecord, view: 'full' | 'masked'): RecordView {
  const masked = view === 'masked';
  const fields = masked ? maskRecord({ type: r.type, fields: r.fields }).fields : r.fields;
  const out: RecordView = {
    id: r.id, type: r.type, classification: r.classification, subject: masked ? maskIdentifier(r.subject) : r.subject, catalogVersion: r.catalogVersion, masked,
    status: r.status, disputed: r.disputed, sourceNode: r.sourceNode, createdAt: r.createdAt, updatedAt: r.updatedAt, version: r.version, fields,
  };
  if (r.disputed) out.disputedLabel = DISPUTED_LABEL;
  if (r.withdrawnReason) out.withdrawnReason = r.withdrawnReason;
  if (r.withdrawnAt) out.withdrawnAt = r.withdrawnAt;
  if (r.decisionDate) out.decisionDate = r.decisionDate;
  if (r.repairFrom) out.repairFrom = r.repairFrom;
  if (r.disclosureEnd) out.disclosureEnd = r.disclosureEnd;
  if (r.severityDerived) out.severityDerived = r.severityDerived;
  if (r.extra && !masked) out.extra = r.extra;
  return out;
}
