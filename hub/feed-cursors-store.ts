/**
 * SQL of hub_feed_cursors: the cursor each node last pulled its distribution feed from (the
 * `after` of its latest GET /v1/distributions: everything up to it has reached the node), and the
 * lag behind it that /metrics shows (credit_hub_node_feed_lag_items / _seconds).
 */
import type { Db } from '../audit/knex-connect.js';

type Row = Record<string, unknown>;
const T = 'hub_feed_cursors';

export interface FeedLag {
  /** Feed items after the node's cursor that it may receive. */
  items: number;
  /** When the oldest of them was queued (null: none). */
  oldestAt: string | null;
}

export const feedCursorsStore = {
  async set(db: Db, nodeId: string, cursor: number, at: string): Promise<void> {
    await db(T).insert({ node_id: nodeId, cursor, pulled_at: at }).onConflict('node_id').merge({ cursor, pulled_at: at });
  },

  /** The cursor a node last pulled from (0 before its first pull). */
  async get(db: Db, nodeId: string): Promise<number> {
    const r: Row | undefined = await db(T).where({ node_id: nodeId }).first('cursor');
    return r ? Number(r.cursor) : 0;
  },

  /** What waits in a node's feed after its cursor: items of other nodes, of the classes its grade receives. */
  async lag(db: Db, nodeId: string, classes: readonly string[]): Promise<FeedLag> {
    if (classes.length === 0) return { items: 0, oldestAt: null };
    const after = await feedCursorsStore.get(db, nodeId);
    const r = (await db('hub_distributions')
      .where('cursor', '>', after)
      .whereNot('source_node', nodeId)
      .whereIn('class', classes)
      .first(db.raw('count(*) as n'), db.raw('min(created_at) as oldest'))) as Row | undefined;
    return { items: Number(r?.n ?? 0), oldestAt: (r?.oldest as string | null | undefined) ?? null };
  },
};
