/** SQL for hub_notices and hub_disputes: the only place in hub/ that touches those tables. */
import type { Db } from '../audit/knex-connect.js';
import type { Notice, NoticeFeedItem } from '../protocol/notices.js';

type Row = Record<string, unknown>;
const T = 'hub_notices';

export const noticesStore = {
  async insert(db: Db, o: { to: string[]; from: string; noticeId: string; notice: Notice; at: string }): Promise<void> {
    if (o.to.length === 0) return;
    const objectionId = 'objectionId' in o.notice ? o.notice.objectionId : null;
    await db(T).insert(o.to.map((to) => ({
      to_node: to, from_node: o.from, notice_id: o.noticeId, kind: o.notice.kind, objection_id: objectionId,
      owner: o.notice.owner, record_id: o.notice.recordId, notice: JSON.stringify(o.notice), created_at: o.at,
    })));
  },

  /** The node that filed an objection (the sender of its `objection` notice), if the hub routed it. */
  async objectionFiler(db: Db, objectionId: string): Promise<{ from: string; owner: string; recordId: string } | undefined> {
    const r: Row | undefined = await db(T).where({ objection_id: objectionId, kind: 'objection' }).first('from_node', 'owner', 'record_id');
    return r ? { from: String(r.from_node), owner: String(r.owner), recordId: String(r.record_id) } : undefined;
  },

  /** The notice row at `cursor` routed to `to`, as its mark is derived (hub/feed-mark.ts noticeMark), or null. */
  async rowAt(db: Db, to: string, cursor: number): Promise<{ cursor: number; toNode: string; fromNode: string; noticeId: string; createdAt: string } | null> {
    const r: Row | undefined = await db(T).where({ cursor, to_node: to }).first('cursor', 'to_node', 'from_node', 'notice_id', 'created_at');
    return r ? { cursor: Number(r.cursor), toNode: String(r.to_node), fromNode: String(r.from_node), noticeId: String(r.notice_id), createdAt: String(r.created_at) } : null;
  },

  /** Notices routed to `to` after `after`, in cursor order, each with its row's created_at (for the mark). */
  async feed(db: Db, to: string, after: number, limit: number): Promise<(NoticeFeedItem & { createdAt: string })[]> {
    const rows: Row[] = await db(T).where({ to_node: to }).andWhere('cursor', '>', after).orderBy('cursor').limit(limit);
    return rows.map((r) => ({ cursor: Number(r.cursor), from: String(r.from_node), noticeId: String(r.notice_id), notice: JSON.parse(String(r.notice)) as Notice, createdAt: String(r.created_at) }));
  },

  /** Keeps the owner's disputed mark of a record (a later mark replaces an earlier one). */
  async setDisputed(db: Db, sourceNode: string, recordId: string, disputed: boolean, at: string): Promise<void> {
    await db('hub_disputes').insert({ source_node: sourceNode, record_id: recordId, disputed, at }).onConflict(['source_node', 'record_id']).merge(['disputed', 'at']);
  },

  /** `sourceNode/id` of those of `records` whose owner marks them disputed. */
  async disputedAmong(db: Db, records: readonly { sourceNode: string; id: string }[]): Promise<Set<string>> {
    const out = new Set<string>();
    if (records.length === 0) return out;
    for (let i = 0; i < records.length; i += 400) {
      const ids = [...new Set(records.slice(i, i + 400).map((r) => r.id))];
      const rows: Row[] = await db('hub_disputes').whereIn('record_id', ids).andWhere({ disputed: true });
      for (const r of rows) out.add(`${String(r.source_node)}/${String(r.record_id)}`);
    }
    return out;
  },
};
