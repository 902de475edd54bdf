/**
 * SQL of the exchange: node_outbox (what must reach the hub), node_batches (outbox rows cut into
 * numbered batches, each re-sent until its receipt is stored) and node_exchange_state (cursor and
 * markers). Every function takes a `Db`, so it runs in a caller's transaction when given one.
 * Nothing here loads more than one batch's worth of rows.
 */
import { openRecord } from '../../server/at-rest-store.js';
import { recordContext } from '../at-rest.js';
import type { Knex } from 'knex';
import { engineOf, type Db } from '../../audit/knex-connect.js';
import type { Classification } from '../../protocol/classification.js';
import type { WireRecord, WireVersion, WireWithdrawal } from '../../protocol/exchange.js';

/** `version` (protocol 1.1): a correction of a record sent before; the batch carries the record's current version. */
export type OutboxKind = 'record' | 'withdrawal' | 'version';
export type BatchStatus = 'open' | 'sent' | 'accepted' | 'refused';

export interface BatchRow {
  id: string;
  seq: number;
  status: BatchStatus;
  records: number;
  withdrawals: number;
  createdAt: string;
  sentAt: string | null;
  receiptAt: string | null;
  /** The receipt envelope (JSON text) as the hub signed it. */
  receipt: string | null;
  accepted: number | null;
  rejected: number | null;
  attempts: number;
  lastError: string | null;
}

type Row = Record<string, unknown>;

/** What a receipt says the hub took: the record ids of its `accepted`, `versioned` and `withdrawn` lists (node_batches.receipt_items). */
export interface ReceiptIds {
  accepted: string[];
  versioned: string[];
  withdrawn: string[];
}

/** receipt_items of a stored receipt that no longer opened when its ids were to be noted (renewal's backfill). */
export const UNREADABLE_RECEIPT = 'unreadable';

const isIds = (v: unknown): v is string[] => Array.isArray(v) && v.every((x) => typeof x === 'string');

/** receipt_items as stored, or null when absent or not of that shape. */
export function receiptIdsOf(text: unknown): ReceiptIds | null {
  if (typeof text !== 'string') return null;
  try {
    const v = JSON.parse(text) as Partial<ReceiptIds>;
    return isIds(v.accepted) && isIds(v.versioned) && isIds(v.withdrawn) ? { accepted: v.accepted, versioned: v.versioned, withdrawn: v.withdrawn } : null;
  } catch {
    return null;
  }
}
const O = 'node_outbox';
const B = 'node_batches';
const S = 'node_exchange_state';
const CHUNK = 500;

function batchFromRow(r: Row): BatchRow {
  const n = (v: unknown) => (v === null || v === undefined ? null : Number(v));
  return {
    id: String(r.id), seq: Number(r.seq), status: r.status as BatchStatus, records: Number(r.records), withdrawals: Number(r.withdrawals),
    createdAt: String(r.created_at), sentAt: (r.sent_at as string | null) ?? null, receiptAt: (r.receipt_at as string | null) ?? null,
    receipt: (r.receipt as string | null) ?? null, accepted: n(r.accepted), rejected: n(r.rejected), attempts: Number(r.attempts), lastError: (r.last_error as string | null) ?? null,
  };
}

/** Bytes counted for each row besides its record's text: its id, type, class, catalog version and times as they travel. */
export const ROW_OVERHEAD = 256;

/** An unbatched outbox row with the size of its record's stored text (what it adds to a batch). */
interface SizedRow {
  id: number | string;
  kind: OutboxKind;
  bytes: number;
}

/**
 * The first `n` unbatched rows in outbox order, each with the bytes of its record's stored `fields`
 * text (sealed at rest: base64url, about 4/3 of the JSON; clear: the JSON itself), which is most
 * of what the record adds to a sealed batch, plus ROW_OVERHEAD for every row (a withdrawal carries
 * no content).
 */
async function sizedRows(db: Db, n: number): Promise<SizedRow[]> {
  const size = engineOf(db as Knex) === 'pg' ? 'octet_length(r.fields)' : 'length(cast(r.fields as blob))';
  const rows = (await db(`${O} as o`)
    .leftJoin('node_records as r', 'r.id', 'o.record_id')
    .whereNull('o.batch_id')
    .orderBy('o.id')
    .limit(n)
    .select('o.id', 'o.kind', db.raw(`case when o.kind = 'withdrawal' then 0 else coalesce(${size}, 0) end as bytes`))) as Row[];
  return rows.map((r) => ({ id: r.id as number | string, kind: r.kind as OutboxKind, bytes: Number(r.bytes) + ROW_OVERHEAD }));
}

export const outboxStore = {
  async enqueue(db: Db, rows: { recordId: string; kind: OutboxKind }[], at: string): Promise<void> {
    for (let i = 0; i < rows.length; i += CHUNK) {
      await db(O).insert(rows.slice(i, i + CHUNK).map((r) => ({ record_id: r.recordId, kind: r.kind, created_at: at })));
    }
  },

  /** Queues every active own record of `classes` that has never been queued (one statement). Returns how many. */
  async backfill(db: Db, nodeId: string, classes: readonly Classification[], at: string): Promise<number> {
    if (classes.length === 0) return 0;
    const before = await outboxStore.maxId(db);
    await db.raw(
      `insert into ${O} (record_id, kind, created_at)
       select r.id, 'record', ? from node_records r
       where r.source_node = ? and r.status = 'active' and r.class in (${classes.map(() => '?').join(',')})
         and not exists (select 1 from ${O} o where o.record_id = r.id)
       order by r.id`,
      [at, nodeId, ...classes],
    );
    const after = await outboxStore.maxId(db);
    if (after === before) return 0;
    const row = (await db(O).where('id', '>', before).count({ n: '*' }).first()) as Row | undefined;
    return Number(row?.n ?? 0);
  },

  async maxId(db: Db): Promise<number> {
    const row = (await db(O).max({ m: 'id' }).first()) as Row | undefined;
    return Number(row?.m ?? 0);
  },

  /**
   * The oldest unbatched row's time, and whether a full batch waits: `n` rows, or rows whose
   * records' stored text reaches `maxBytes` (sizedRows); null when none waits.
   */
  async pending(db: Db, n: number, maxBytes = Infinity): Promise<{ oldestAt: string; full: boolean } | null> {
    const first = (await db(O).select('created_at').whereNull('batch_id').orderBy('id').first()) as Row | undefined;
    if (!first) return null;
    const nth = n <= 1 ? first : ((await db(O).select('id').whereNull('batch_id').orderBy('id').offset(n - 1).first()) as Row | undefined);
    if (nth !== undefined || maxBytes === Infinity) return { oldestAt: String(first.created_at), full: nth !== undefined };
    // fewer than n rows wait: full when their records' text reaches maxBytes
    const bytes = (await sizedRows(db, n)).reduce((sum, r) => sum + r.bytes, 0);
    return { oldestAt: String(first.created_at), full: bytes >= maxBytes };
  },

  /**
   * Cuts unbatched rows, in outbox order, into a new batch with the next seq: up to `max` rows, and
   * no more rows than keep the records' stored text within `maxBytes` (the first row always goes,
   * whatever its size). Run it in a transaction.
   */
  async cut(db: Db, o: { id: string; max: number; maxBytes?: number; at: string }): Promise<BatchRow | null> {
    const rows: SizedRow[] = [];
    let bytes = 0;
    for (const r of await sizedRows(db, o.max)) {
      if (rows.length > 0 && bytes + r.bytes > (o.maxBytes ?? Infinity)) break;
      rows.push(r);
      bytes += r.bytes;
    }
    if (rows.length === 0) return null;
    const top = (await db(B).max({ m: 'seq' }).first()) as Row | undefined;
    const seq = Number(top?.m ?? 0) + 1;
    const records = rows.filter((r) => r.kind !== 'withdrawal').length; // records and versions
    await db(B).insert({ id: o.id, seq, status: 'open', records, withdrawals: rows.length - records, created_at: o.at, attempts: 0 });
    const ids = rows.map((r) => r.id as number | string);
    if (engineOf(db as Knex) === 'sqlite') {
      // the ids as one bound JSON array: one statement, not one per 500 ids
      await db(O).whereRaw('id in (select value from json_each(?))', [JSON.stringify(ids.map(Number))]).whereNull('batch_id').update({ batch_id: o.id });
    } else {
      for (let i = 0; i < ids.length; i += CHUNK) await db(O).whereIn('id', ids.slice(i, i + CHUNK)).whereNull('batch_id').update({ batch_id: o.id });
    }
    return batchFromRow({ id: o.id, seq, status: 'open', records, withdrawals: rows.length - records, created_at: o.at, attempts: 0 });
  },

  /** The lowest-seq batch without a receipt (above `afterSeq` when given). */
  async nextUnacknowledged(db: Db, afterSeq?: number): Promise<BatchRow | undefined> {
    const q = db(B).whereIn('status', ['open', 'sent']);
    if (afterSeq !== undefined) q.where('seq', '>', afterSeq);
    const r = (await q.orderBy('seq').first()) as Row | undefined;
    return r ? batchFromRow(r) : undefined;
  },

  async getBatch(db: Db, id: string): Promise<BatchRow | undefined> {
    const r = (await db(B).where({ id }).first()) as Row | undefined;
    return r ? batchFromRow(r) : undefined;
  },

  async listBatches(db: Db, limit = 100): Promise<BatchRow[]> {
    return ((await db(B).orderBy('seq', 'desc').limit(limit)) as Row[]).map(batchFromRow);
  },

  /**
   * The batch's content as it travels, in outbox order, from the records' current rows — only what
   * may leave the node NOW, whenever the row was queued (a first send, a retry, or a resend to a hub
   * that lost it): this node's own records (`nodeId`), content (record, version) only in a class it
   * may send (`classes`: never `internal`, nothing above its grade), and a `record` item only while the
   * record is active. A record raised to an unsendable class or withdrawn after it was queued travels
   * by its own withdrawal/version item instead; its content is never sent in the old form. (Hostile
   * review of the resync: a record raised to internal went out as internal, the hub refused the
   * whole batch and its other records were lost; a withdrawn record was re-published as active; a
   * hub-named id of another node's record was sent as this node's.)
   */
  async items(db: Db, batchId: string, may: { nodeId: string; classes: readonly Classification[] }): Promise<{ records: WireRecord[]; withdrawals: WireWithdrawal[]; versions: WireVersion[] }> {
    const rows = (await db(`${O} as o`)
      .join('node_records as r', 'r.id', 'o.record_id')
      .where('o.batch_id', batchId)
      .andWhere('r.source_node', may.nodeId)
      .orderBy('o.id')
      .select('o.kind', 'r.id', 'r.type', 'r.class', 'r.catalog_version', 'r.fields', 'r.status', 'r.created_at', 'r.updated_at', 'r.withdrawn_reason', 'r.withdrawn_at', 'r.version')) as Row[];
    const records: WireRecord[] = [];
    const withdrawals: WireWithdrawal[] = [];
    const versions: WireVersion[] = [];
    // one version item per record per batch: the current one (a record corrected twice before the cut travels once)
    const lastVersion = new Map<string, number>();
    rows.forEach((r, i) => {
      if (r.kind === 'version') lastVersion.set(String(r.id), i);
    });
    for (const [i, r] of rows.entries()) {
      const wire = (): WireRecord => ({ id: String(r.id), type: String(r.type), classification: r.class as Classification, catalogVersion: String(r.catalog_version ?? '2026.1'), fields: openRecord(db, recordContext(String(r.id)), r).fields, createdAt: String(r.created_at), updatedAt: String(r.updated_at) });
      const version = Number(r.version ?? 1);
      const sendable = may.classes.includes(r.class as Classification);
      if (r.kind === 'record') {
        if (!sendable || r.status !== 'active') continue;
        records.push(version > 1 ? { ...wire(), version } : wire());
      } else if (r.kind === 'version') {
        if (lastVersion.get(String(r.id)) !== i || version < 2 || !sendable) continue;
        versions.push({ ...wire(), version, status: r.status === 'active' ? 'active' : 'withdrawn', at: String(r.updated_at) });
      } else if (r.withdrawn_reason && r.withdrawn_at) {
        withdrawals.push({ id: String(r.id), reason: r.withdrawn_reason as WireWithdrawal['reason'], at: String(r.withdrawn_at) });
      } else if (!sendable) {
        // still active here, but corrected to a class this node may not send (internal, or above its
        // grade): the hub's copy is withdrawn, reason correction (outbox-hooks.ts onRecordVersioned)
        withdrawals.push({ id: String(r.id), reason: 'correction', at: String(r.updated_at) });
      }
    }
    return { records, withdrawals, versions };
  },

  /** One more attempt; the first moves the batch from open to sent. */
  async markAttempt(db: Db, id: string, at: string): Promise<void> {
    // one statement: every SET expression reads the row as it was before the update
    await db(B).where({ id }).update({
      attempts: db.raw('attempts + 1'),
      status: db.raw("case when status = 'open' then 'sent' else status end"),
      sent_at: db.raw("case when status = 'open' then ? else sent_at end", [at]),
    });
  },

  async markError(db: Db, id: string, error: string): Promise<void> {
    await db(B).where({ id }).update({ last_error: error.slice(0, 200) });
  },

  /** Stores the receipt; false when the batch already had one (another process stored it first). */
  async storeReceipt(db: Db, id: string, r: { status: 'accepted' | 'refused'; receipt: string | null; items: ReceiptIds | null; accepted: number; rejected: number; at: string; error?: string }): Promise<boolean> {
    const n = await db(B)
      .where({ id })
      .whereIn('status', ['open', 'sent'])
      .update({ status: r.status, receipt: r.receipt, receipt_items: r.items ? JSON.stringify(r.items) : null, accepted: r.accepted, rejected: r.rejected, receipt_at: r.at, last_error: r.error ?? null });
    return n === 1;
  },

  /** Up to `limit` receipted batches above seq `after` whose receipt_items are not noted yet (stores from before the column), seq order. */
  async receiptsWithoutItems(db: Db, after: number, limit: number): Promise<{ id: string; seq: number; receipt: string }[]> {
    const rows = (await db(B).select('id', 'seq', 'receipt').whereNotNull('receipt').whereNull('receipt_items').where('seq', '>', after).orderBy('seq').limit(limit)) as Row[];
    return rows.map((r) => ({ id: String(r.id), seq: Number(r.seq), receipt: String(r.receipt) }));
  },

  /** Notes a receipt's ids, or UNREADABLE_RECEIPT when it no longer opens (so it is not tried again). */
  async noteReceiptItems(db: Db, id: string, items: ReceiptIds | typeof UNREADABLE_RECEIPT): Promise<void> {
    await db(B).where({ id }).whereNull('receipt_items').update({ receipt_items: items === UNREADABLE_RECEIPT ? items : JSON.stringify(items) });
  },

  /**
   * What the hub says it took, kept only where it names this batch's own outbox rows of that kind
   * (accepted → record, versioned → version, withdrawn → withdrawal): a receipt naming anything else
   * (another record of this node, an id it never sent) cannot make a later rebuild send it. When the
   * batch's rows are gone (pruned), the lists are kept as the verified receipt gives them.
   */
  async ownReceiptIds(db: Db, batchId: string, said: ReceiptIds): Promise<ReceiptIds> {
    const rows = (await db(O).where({ batch_id: batchId }).select('record_id', 'kind')) as Row[];
    const strings = (xs: readonly unknown[]) => xs.filter((x): x is string => typeof x === 'string');
    if (rows.length === 0) return { accepted: strings(said.accepted), versioned: strings(said.versioned), withdrawn: strings(said.withdrawn) };
    const held = new Set(rows.map((r) => `${String(r.kind)}:${String(r.record_id)}`));
    const own = (xs: readonly unknown[], kind: OutboxKind) => strings(xs).filter((id) => held.has(`${kind}:${id}`));
    return { accepted: own(said.accepted, 'record'), versioned: own(said.versioned, 'version'), withdrawn: own(said.withdrawn, 'withdrawal') };
  },

  /** Unbatched rows, and batches still waiting for a receipt. */
  async backlog(db: Db): Promise<{ unbatched: number; unacknowledged: number }> {
    const a = (await db(O).whereNull('batch_id').count({ n: '*' }).first()) as Row | undefined;
    const b = (await db(B).whereIn('status', ['open', 'sent']).count({ n: '*' }).first()) as Row | undefined;
    return { unbatched: Number(a?.n ?? 0), unacknowledged: Number(b?.n ?? 0) };
  },

  async getState(db: Db, key: string): Promise<string | undefined> {
    const r = (await db(S).where({ key }).first()) as Row | undefined;
    return r ? String(r.value) : undefined;
  },

  async setState(db: Db, key: string, value: string, at: string): Promise<void> {
    await db(S).insert({ key, value, updated_at: at }).onConflict('key').merge(['value', 'updated_at']);
  },
};
