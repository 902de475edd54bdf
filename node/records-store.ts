/**
 * SQL for credit records and objections: the only place in node/ that reads or writes those
 * tables. Every function takes a `Db`, so it runs inside a caller's transaction when given one.
 * Records are never deleted: withdrawal sets status, reason and time.
 */
import type { Knex } from 'knex';
import type { Db } from '../audit/knex-connect.js';
import type { Classification } from '../protocol/classification.js';
import { openRecord, sealRecord, subjectKeys } from '../server/at-rest-store.js';
import { recordContext, versionContext } from './at-rest.js';

export const WITHDRAW_REASONS = ['repair', 'correction', 'objection-upheld', 'expired'] as const;
export type WithdrawReason = (typeof WITHDRAW_REASONS)[number];
export type RecordStatus = 'active' | 'withdrawn';

export interface StoredRecord {
  id: string;
  type: string;
  classification: Classification;
  subject: string;
  naturalKey: string;
  fields: Record<string, unknown>;
  /** Catalog version the record was validated against (protocol/catalog-versions.ts). */
  catalogVersion: string;
  negative: boolean;
  status: RecordStatus;
  disputed: boolean;
  withdrawnReason: WithdrawReason | null;
  withdrawnAt: string | null;
  decisionDate: string | null;
  repairFrom: string | null;
  disclosureEnd: string | null;
  /** How a severity the source did not give was derived (catalog-rules.ts); null when given. */
  severityDerived?: 'disclosureEnd' | 'default' | null;
  /** Columns of an imported row that are not catalog fields, by their header as written. */
  extra?: Record<string, string> | null;
  sourceNode: string;
  createdBy: string;
  createdAt: string;
  updatedAt: string;
  /** 1 for the first; each correction adds one (node_record_versions keeps them all). */
  version: number;
}

/** One version of a record as node_record_versions keeps it. */
export interface RecordVersion {
  recordId: string;
  version: number;
  classification: Classification;
  subject: string;
  fields: Record<string, unknown>;
  decisionDate: string | null;
  disclosureEnd: string | null;
  /** `created` for version 1, `correction` for later ones. */
  reason: 'created' | 'correction';
  note: string | null;
  changedBy: string;
  changedAt: string;
}

export interface Objection {
  id: string;
  recordId: string;
  /** closed: the record was withdrawn for another reason while the objection was open. */
  status: 'open' | 'upheld' | 'rejected' | 'closed';
  grounds: string;
  filedBy: string;
  filedAt: string;
  resolvedBy: string | null;
  resolvedAt: string | null;
  resolutionNote: string | null;
}

type Row = Record<string, unknown>;

const T = 'node_records';
/** Columns written on insert (disputed takes its default; a record stored already expired is written withdrawn). */
const COLUMNS = [
  'id', 'type', 'class', 'subject', 'natural_key', 'fields', 'negative', 'status', 'withdrawn_reason', 'withdrawn_at',
  'decision_date', 'repair_from', 'disclosure_end', 'source_node', 'created_by', 'created_at', 'updated_at', 'version', 'catalog_version',
  'severity_derived', 'extra',
] as const;
const V = 'node_record_versions';
const O = 'node_objections';

/** The row of a record: subject, fields and extra columns sealed at rest (server/at-rest-store.ts). */
function toRow(db: Db, r: StoredRecord): Record<(typeof COLUMNS)[number], unknown> {
  const sealed = sealRecord(db, recordContext(r.id), { subject: r.subject, fields: r.fields, extra: r.extra ?? null });
  return {
    id: r.id, type: r.type, class: r.classification, subject: sealed.subject, natural_key: r.naturalKey,
    fields: sealed.fields, negative: r.negative, status: r.status, withdrawn_reason: r.withdrawnReason, withdrawn_at: r.withdrawnAt,
    decision_date: r.decisionDate, repair_from: r.repairFrom, disclosure_end: r.disclosureEnd, source_node: r.sourceNode,
    created_by: r.createdBy, created_at: r.createdAt, updated_at: r.updatedAt, version: r.version, catalog_version: r.catalogVersion,
    severity_derived: r.severityDerived ?? null, extra: sealed.extra,
  };
}

function fromRow(db: Db, row: Row): StoredRecord {
  const open = openRecord(db, recordContext(String(row.id)), row);
  return {
    id: String(row.id), type: String(row.type), classification: row.class as Classification, subject: open.subject,
    naturalKey: String(row.natural_key), fields: open.fields,
    catalogVersion: row.catalog_version === undefined || row.catalog_version === null ? '2026.1' : String(row.catalog_version),
    negative: Boolean(row.negative), status: row.status as RecordStatus, disputed: Boolean(row.disputed),
    withdrawnReason: (row.withdrawn_reason as WithdrawReason | null) ?? null, withdrawnAt: (row.withdrawn_at as string | null) ?? null,
    decisionDate: (row.decision_date as string | null) ?? null, repairFrom: (row.repair_from as string | null) ?? null,
    disclosureEnd: (row.disclosure_end as string | null) ?? null, sourceNode: String(row.source_node),
    createdBy: String(row.created_by), createdAt: String(row.created_at), updatedAt: String(row.updated_at),
    severityDerived: (row.severity_derived as 'disclosureEnd' | 'default' | null | undefined) ?? null,
    extra: open.extra ?? null,
    version: Number(row.version ?? 1),
  };
}

function versionFromRow(db: Db, row: Row): RecordVersion {
  const open = openRecord(db, versionContext(String(row.record_id), Number(row.version)), row);
  return {
    recordId: String(row.record_id), version: Number(row.version), classification: row.class as Classification, subject: open.subject,
    fields: open.fields, decisionDate: (row.decision_date as string | null) ?? null,
    disclosureEnd: (row.disclosure_end as string | null) ?? null, reason: row.reason === 'created' ? 'created' : 'correction',
    note: (row.note as string | null) ?? null, changedBy: String(row.changed_by), changedAt: String(row.changed_at),
  };
}

function objectionFromRow(row: Row): Objection {
  return {
    id: String(row.id), recordId: String(row.record_id), status: row.status as Objection['status'], grounds: String(row.grounds),
    filedBy: String(row.filed_by), filedAt: String(row.filed_at), resolvedBy: (row.resolved_by as string | null) ?? null,
    resolvedAt: (row.resolved_at as string | null) ?? null, resolutionNote: (row.resolution_note as string | null) ?? null,
  };
}

export const recordsStore = {
  /**
   * Inserts new records (status active, not disputed); rows whose natural key already exists for
   * the same source node are skipped. Returns the ids inserted. The key is (source node, natural
   * key): a record received from another node never collides with a local one (issue 13).
   * SQLite gets one `INSERT … VALUES (…),(…) ON CONFLICT DO NOTHING RETURNING id` per ≤1500 rows
   * (knex's builder would emit a compound SELECT, limited to 500 terms and slower).
   */
  async insertMany(db: Db, records: StoredRecord[]): Promise<Set<string>> {
    const ids = new Set<string>();
    if (records.length === 0) return ids;
    const pg = (db.client as { config: { client: string } }).config.client === 'pg';
    const per = pg ? 3000 : 1500;
    for (let i = 0; i < records.length; i += per) {
      const rows = records.slice(i, i + per).map((r) => toRow(db, r));
      let out: { id: string }[];
      if (pg) {
        out = await db(T).insert(rows).onConflict(['source_node', 'natural_key']).ignore().returning('id');
      } else {
        const one = `(${COLUMNS.map(() => '?').join(',')})`;
        const sql = `insert into ${T} (${COLUMNS.join(',')}) values ${rows.map(() => one).join(',')} on conflict (source_node, natural_key) do nothing returning id`;
        out = (await db.raw(sql, rows.flatMap((r) => COLUMNS.map((c) => (r[c] ?? null) as Knex.Value)))) as { id: string }[];
      }
      for (const r of out) ids.add(r.id);
    }
    return ids;
  },

  /** Id and class of the records of `sourceNode` that hold these natural keys. */
  async idsByNaturalKey(db: Db, sourceNode: string, keys: string[]): Promise<Map<string, { id: string; classification: Classification }>> {
    const out = new Map<string, { id: string; classification: Classification }>();
    for (let i = 0; i < keys.length; i += 500) {
      const rows: Row[] = await db(T).select('id', 'class', 'natural_key').where({ source_node: sourceNode }).whereIn('natural_key', keys.slice(i, i + 500));
      for (const r of rows) out.set(String(r.natural_key), { id: String(r.id), classification: r.class as Classification });
    }
    return out;
  },

  /** The records of `sourceNode` that hold these natural keys, in full. */
  async findByNaturalKeys(db: Db, sourceNode: string, keys: string[]): Promise<Map<string, StoredRecord>> {
    const out = new Map<string, StoredRecord>();
    const unique = [...new Set(keys)];
    for (let i = 0; i < unique.length; i += 500) {
      const rows: Row[] = await db(T).where({ source_node: sourceNode }).whereIn('natural_key', unique.slice(i, i + 500));
      for (const r of rows) out.set(String(r.natural_key), fromRow(db, r));
    }
    return out;
  },

  /**
   * Makes `next` the current version of record `next.id` (content, class, subject, window,
   * status, version, catalog version, derived severity, extra columns). Compare-and-set on the version it replaces: false when another writer
   * got there first.
   */
  async replaceVersion(db: Db, next: StoredRecord, replaces: number): Promise<boolean> {
    const sealed = sealRecord(db, recordContext(next.id), { subject: next.subject, fields: next.fields, extra: next.extra ?? null });
    const n = await db(T).where({ id: next.id, version: replaces }).update({
      class: next.classification, subject: sealed.subject, fields: sealed.fields, negative: next.negative,
      status: next.status, withdrawn_reason: next.withdrawnReason, withdrawn_at: next.withdrawnAt,
      decision_date: next.decisionDate, repair_from: next.repairFrom, disclosure_end: next.disclosureEnd,
      updated_at: next.updatedAt, version: next.version, catalog_version: next.catalogVersion,
      severity_derived: next.severityDerived ?? null, extra: sealed.extra,
    });
    return n === 1;
  },

  /** Keeps versions in node_record_versions; a version already kept is left as it is. */
  async keepVersions(db: Db, versions: RecordVersion[]): Promise<void> {
    if (versions.length === 0) return;
    await db(V)
      .insert(versions.map((v) => {
        const sealed = sealRecord(db, versionContext(v.recordId, v.version), { subject: v.subject, fields: v.fields });
        return {
        record_id: v.recordId, version: v.version, class: v.classification, subject: sealed.subject, fields: sealed.fields,
        decision_date: v.decisionDate, disclosure_end: v.disclosureEnd, reason: v.reason, note: v.note, changed_by: v.changedBy, changed_at: v.changedAt,
        };
      }))
      .onConflict(['record_id', 'version'])
      .ignore();
  },

  /** Every kept version of a record, oldest first (empty for a record never corrected). */
  async listVersions(db: Db, recordId: string): Promise<RecordVersion[]> {
    const rows: Row[] = await db(V).where({ record_id: recordId }).orderBy('version');
    return rows.map((r) => versionFromRow(db, r));
  },

  async findById(db: Db, id: string): Promise<StoredRecord | undefined> {
    const row: Row | undefined = await db(T).where({ id }).first();
    return row ? fromRow(db, row) : undefined;
  },

  async listBySubject(db: Db, subject: string): Promise<StoredRecord[]> {
    // the blind index under each key held (and the code itself, for a row not yet sealed)
    const rows: Row[] = await db(T).whereIn('subject', subjectKeys(db, subject)).orderBy('id');
    return rows.map((r) => fromRow(db, r)).filter((r) => r.subject === subject);
  },

  /** Withdraws an active record; false when it was not active (already withdrawn or absent). */
  async withdraw(db: Db, id: string, reason: WithdrawReason, at: string): Promise<boolean> {
    const n = await db(T).where({ id, status: 'active' }).update({ status: 'withdrawn', withdrawn_reason: reason, withdrawn_at: at, updated_at: at });
    return n === 1;
  },

  async setDisputed(db: Db, id: string, disputed: boolean, at: string): Promise<void> {
    await db(T).where({ id }).update({ disputed, updated_at: at });
  },

  /** Active negative records whose last day of disclosure is before `today`. */
  async findExpired(db: Db, today: string, limit: number): Promise<StoredRecord[]> {
    const rows: Row[] = await db(T).where({ status: 'active', negative: true }).andWhere('disclosure_end', '<', today).orderBy('id').limit(limit);
    return rows.map((r) => fromRow(db, r));
  },

  async countByStatus(db: Db): Promise<Record<string, number>> {
    const rows: Row[] = await db(T).select('status').count({ n: '*' }).groupBy('status');
    return Object.fromEntries(rows.map((r) => [String(r.status), Number(r.n)]));
  },

  async insertObjection(db: Db, o: Objection): Promise<void> {
    await db(O).insert({
      id: o.id, record_id: o.recordId, status: o.status, grounds: o.grounds, filed_by: o.filedBy, filed_at: o.filedAt,
      resolved_by: o.resolvedBy, resolved_at: o.resolvedAt, resolution_note: o.resolutionNote,
    });
  },

  async findObjection(db: Db, id: string): Promise<Objection | undefined> {
    const row: Row | undefined = await db(O).where({ id }).first();
    return row ? objectionFromRow(row) : undefined;
  },

  async listObjections(db: Db, recordId: string): Promise<Objection[]> {
    const rows: Row[] = await db(O).where({ record_id: recordId }).orderBy('id');
    return rows.map(objectionFromRow);
  },

  /** Resolves open objections (one, or all of a record's); returns how many changed. */
  async resolveObjections(db: Db, where: { id?: string; recordId?: string }, outcome: 'upheld' | 'rejected' | 'closed', by: string, at: string, note: string | null): Promise<number> {
    const q = db(O).where({ status: 'open' });
    if (where.id) q.andWhere({ id: where.id });
    if (where.recordId) q.andWhere({ record_id: where.recordId });
    return q.update({ status: outcome, resolved_by: by, resolved_at: at, resolution_note: note });
  },

  async countOpenObjections(db: Db, recordId: string): Promise<number> {
    const row = (await db(O).where({ record_id: recordId, status: 'open' }).count({ n: '*' }).first()) as Row | undefined;
    return Number(row?.n ?? 0);
  },
};

export type RecordsStore = typeof recordsStore;
