/**
 * From a validated catalog record to the stored row (id, subject, natural key, disclosure window),
 * and from a stored row to what the API shows a caller (in full or masked).
 */
import { naturalKey, subjectOf, getRecordType, type ValidRecord } from '../protocol/catalog.js';
import { disclosureWindow } from '../protocol/disclosure.js';
import { maskIdentifier, maskRecord } from '../protocol/mask.js';
import { uuidv7 } from '../protocol/crypto.js';
import type { StoredRecord } from './records-store.js';

export function toStoredRecord(r: ValidRecord, ctx: { nodeId: string; actor: string; now: string }): StoredRecord {
  const w = disclosureWindow(r);
  return {
    id: uuidv7(),
    type: r.type,
    classification: r.classification,
    subject: subjectOf(r),
    naturalKey: naturalKey(r),
    fields: r.fields,
    negative: getRecordType(r.type).negative,
    status: 'active',
    disputed: false,
    withdrawnReason: null,
    withdrawnAt: null,
    decisionDate: typeof r.fields.decisionDate === 'string' ? r.fields.decisionDate : null,
    repairFrom: w?.repairFrom ?? null,
    disclosureEnd: w?.disclosureEnd ?? null,
    sourceNode: ctx.nodeId,
    createdBy: ctx.actor,
    createdAt: ctx.now,
    updatedAt: ctx.now,
  };
}

export interface RecordView {
  id: string;
  type: string;
  classification: string;
  subject: string;
  masked: boolean;
  status: string;
  disputed: boolean;
  withdrawnReason?: string;
  withdrawnAt?: string;
  decisionDate?: string;
  repairFrom?: string;
  disclosureEnd?: string;
  sourceNode: string;
  createdAt: string;
  updatedAt: string;
  fields: Record<string, unknown>;
}

/** The record as the API shows it; `masked` applies protocol/mask.ts to personal data. */
export function viewOf(r: StoredRecord, view: 'full' | 'masked'): RecordView {
  const masked = view === 'masked';
  const fields = masked ? maskRecord({ type: r.type, fields: r.fields }).fields : r.fields;
  const out: RecordView = {
    id: r.id, type: r.type, classification: r.classification, subject: masked ? maskIdentifier(r.subject) : r.subject, masked,
    status: r.status, disputed: r.disputed, sourceNode: r.sourceNode, createdAt: r.createdAt, updatedAt: r.updatedAt, fields,
  };
  if (r.withdrawnReason) out.withdrawnReason = r.withdrawnReason;
  if (r.withdrawnAt) out.withdrawnAt = r.withdrawnAt;
  if (r.decisionDate) out.decisionDate = r.decisionDate;
  if (r.repairFrom) out.repairFrom = r.repairFrom;
  if (r.disclosureEnd) out.disclosureEnd = r.disclosureEnd;
  return out;
}
