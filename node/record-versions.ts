/**
 * Versions, not duplicates (issue 15): how a node writes its OWN records. A submission whose
 * natural key (type + decision number + source unit) is already held by this node is
 *  - a duplicate when its content (class, subject, fields) is the same as the current version's
 *    and the record was not withdrawn for correction;
 *  - otherwise a new version of that record: same id, version + 1, the content replaced, the
 *    class only ever raised, every version kept in node_record_versions with who, when and why.
 * A record withdrawn for `correction` or `objection-upheld` becomes active again with its new
 * version (withdraw + re-submit = the corrected record); one withdrawn for `repair` or `expired`
 * keeps its state (the version is kept, nothing is shown again). A version whose disclosure window
 * has already ended is stored expired, like a new record.
 * Runs inside the caller's transaction; the caller writes the audit entries (returned) last.
 */
import type { Knex } from 'knex';
import type { AuditEvent } from '../audit/types.js';
import { canonicalize } from '../protocol/canonical-json.js';
import { classRank } from '../protocol/classification.js';
import { runWritten, type RecordHooks } from './hooks.js';
import { recordsStore, type RecordVersion, type StoredRecord, type WithdrawReason } from './records-store.js';

/** Withdrawal reasons after which a new version makes the record active again. */
export const REINSTATED_AFTER: readonly WithdrawReason[] = ['correction', 'objection-upheld'];

/** `hidden`: the stored record is hidden from the writer (access.ts hiddenFrom); nothing was written. */
export type WriteKind = 'created' | 'version' | 'duplicate' | 'hidden';

export interface WriteOutcome {
  kind: WriteKind;
  /** The record's id: the new one, or the stored record's for a version or duplicate. */
  id: string;
  /** The record as it is now (for a duplicate: the stored one). */
  record: StoredRecord;
  /** A version that made a withdrawn record active again. */
  reinstated?: boolean;
}

export interface WriteResult {
  outcomes: WriteOutcome[];
  created: StoredRecord[];
  versions: { before: StoredRecord; after: StoredRecord }[];
  /** record.create / record.version entries for the caller to record last (audit/log.ts lock order). */
  audit: AuditEvent[];
}

function sameContent(a: StoredRecord, b: StoredRecord): boolean {
  return a.classification === b.classification && a.subject === b.subject && canonicalize(a.fields) === canonicalize(b.fields);
}

function kept(r: StoredRecord, reason: RecordVersion['reason'], changedBy: string, changedAt: string, note: string | null): RecordVersion {
  return {
    recordId: r.id, version: r.version, classification: r.classification, subject: r.subject, fields: r.fields,
    decisionDate: r.decisionDate, disclosureEnd: r.disclosureEnd, reason, note, changedBy, changedAt,
  };
}

/**
 * Makes `next` the current version of `cur`'s record and keeps both in node_record_versions
 * (version 1 is kept only when version 2 arrives). Throws when another writer changed the record first.
 */
export async function replaceKept(trx: Knex.Transaction, cur: StoredRecord, next: StoredRecord, changedBy: string, at: string, note: string | null): Promise<void> {
  if (!(await recordsStore.replaceVersion(trx, next, cur.version))) throw new Error(`record ${cur.id} changed while its version ${next.version} was written`);
  const first = cur.version === 1 ? [kept(cur, 'created', cur.createdBy, cur.createdAt, null)] : [];
  await recordsStore.keepVersions(trx, [...first, kept(next, 'correction', changedBy, at, note)]);
}

/** The next version of `cur` with the content of `s` (a record built from the new submission). */
export function nextVersion(cur: StoredRecord, s: StoredRecord, at: string): StoredRecord {
  const reinstate = cur.status === 'withdrawn' && cur.withdrawnReason !== null && REINSTATED_AFTER.includes(cur.withdrawnReason);
  const state = cur.status === 'active' || reinstate ? { status: s.status, withdrawnReason: s.withdrawnReason, withdrawnAt: s.withdrawnAt } : { status: cur.status, withdrawnReason: cur.withdrawnReason, withdrawnAt: cur.withdrawnAt };
  return {
    ...s,
    ...state,
    id: cur.id,
    classification: classRank(s.classification) >= classRank(cur.classification) ? s.classification : cur.classification,
    sourceNode: cur.sourceNode,
    disputed: cur.disputed,
    createdBy: cur.createdBy,
    createdAt: cur.createdAt,
    updatedAt: at,
    version: cur.version + 1,
  };
}

/** Whether a submission equal to `cur` in content is still a new version (re-submitted after a withdrawal for correction). */
function isVersion(cur: StoredRecord, s: StoredRecord): boolean {
  return !sameContent(cur, s) || (cur.status === 'withdrawn' && cur.withdrawnReason === 'correction');
}

/**
 * Writes `stored` (this node's own records, built by toStoredRecord) inside `trx`: new natural keys
 * are inserted, known ones become versions or duplicates. Runs the record hooks.
 */
export async function writeOwnRecords(
  trx: Knex.Transaction,
  deps: { nodeId: string; hooks: RecordHooks },
  stored: StoredRecord[],
  o: { actor: string; at: string; note?: string | null; hidden?: (stored: StoredRecord) => boolean },
): Promise<WriteResult> {
  const inserted = await recordsStore.insertMany(trx, stored);
  const created = stored.filter((s) => inserted.has(s.id));
  const rest = stored.filter((s) => !inserted.has(s.id));
  const current = rest.length === 0 ? new Map<string, StoredRecord>() : await recordsStore.findByNaturalKeys(trx, deps.nodeId, rest.map((s) => s.naturalKey));
  const versions: WriteResult['versions'] = [];
  const byId = new Map<string, WriteOutcome>();
  for (const s of created) byId.set(s.id, { kind: 'created', id: s.id, record: s });
  for (const s of rest) {
    const cur = current.get(s.naturalKey);
    if (!cur) throw new Error(`record with natural key ${s.naturalKey} was neither inserted nor found`);
    if (o.hidden?.(cur)) {
      byId.set(s.id, { kind: 'hidden', id: cur.id, record: cur });
      continue;
    }
    if (!isVersion(cur, s)) {
      byId.set(s.id, { kind: 'duplicate', id: cur.id, record: cur });
      continue;
    }
    const next = nextVersion(cur, s, o.at);
    await replaceKept(trx, cur, next, o.actor, o.at, o.note ?? null);
    current.set(s.naturalKey, next); // a later line with the same key in this write builds on this one
    versions.push({ before: cur, after: next });
    byId.set(s.id, { kind: 'version', id: cur.id, record: next, reinstated: cur.status === 'withdrawn' && next.status === 'active' });
  }
  await runWritten(deps.hooks, trx, created);
  for (const v of versions) for (const h of deps.hooks.onRecordVersioned ?? []) await h(trx, v.after, v.before);
  const audit: AuditEvent[] = [
    ...versions.map((v): AuditEvent => ({
      actor: o.actor, actorNode: deps.nodeId, action: 'record.version', object: v.after.id, class: v.after.classification, outcome: 'success',
      reason: `correction v${v.after.version}${v.before.status === 'withdrawn' && v.after.status === 'active' ? ' reinstated' : ''}`,
    })),
  ];
  return { outcomes: stored.map((s) => byId.get(s.id)!), created, versions, audit };
}
