/**
 * A @fastify/rate-limit store in the hub's PostgreSQL (table hub_rate_limits), so every hub process
 * on the store counts against one budget per client (issue 22): one upsert per request moves the
 * client's fixed window on or adds one to it, and answers the count and the window's start. On
 * SQLite (one hub process) the plugin's in-memory store is used instead.
 */
import type { Knex } from 'knex';
import type { FastifyRateLimitOptions, FastifyRateLimitStore, FastifyRateLimitStoreCtor } from '@fastify/rate-limit';

type Callback = (err: Error | null, res?: { current: number; ttl: number }) => void;

/** The store class @fastify/rate-limit instantiates (`store` option), counting in `db`. */
export function pgRateLimitStore(db: Knex): FastifyRateLimitStoreCtor {
  return class PgRateLimitStore implements FastifyRateLimitStore {
    constructor(private readonly options: FastifyRateLimitOptions) {}

    // the plugin passes the window (ms) as the third argument; its type declaration leaves it out
    incr(key: string, cb: Callback, window?: number): void {
      const timeWindow = window ?? Number((this.options as { timeWindow?: unknown }).timeWindow);
      const now = Date.now();
      db.raw(
        `insert into hub_rate_limits (key, window_start, count) values (?, ?, 1)
         on conflict (key) do update set
           count = case when hub_rate_limits.window_start + ? <= excluded.window_start then 1 else hub_rate_limits.count + 1 end,
           window_start = case when hub_rate_limits.window_start + ? <= excluded.window_start then excluded.window_start else hub_rate_limits.window_start end
         returning count, window_start`,
        [key.slice(0, 200), now, timeWindow, timeWindow],
      ).then(
        (r: { rows: Array<{ count: number | string; window_start: number | string }> }) => {
          const row = r.rows[0]!;
          cb(null, { current: Number(row.count), ttl: Math.max(0, Number(row.window_start) + timeWindow - now) });
        },
        (e: Error) => cb(e),
      );
    }

    child(): FastifyRateLimitStore {
      return new PgRateLimitStore(this.options);
    }
  };
}
