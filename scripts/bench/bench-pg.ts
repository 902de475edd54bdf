/**
 * The PostgreSQL server the PostgreSQL scenarios (e2e-pg, hubs-pg) bench against, so that one run
 * on SQLite also reports PostgreSQL figures: `BENCH_PG_URL`, else `DATABASE_URL` when it is a
 * postgres:// URL (then the whole run is on PostgreSQL anyway), else none and those scenarios are
 * skipped, their keys null. Each run works in throwaway schemas of its own, dropped afterwards.
 */
import { randomBytes } from 'node:crypto';
import type { Knex } from 'knex';
import { isPostgresUrl } from '../../audit/knex-connect.js';

/** The PostgreSQL URL of the PostgreSQL scenarios, or undefined. */
export function benchPgUrl(env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (env.BENCH_PG_URL) return env.BENCH_PG_URL;
  if (env.DATABASE_URL && isPostgresUrl(env.DATABASE_URL)) return env.DATABASE_URL;
  return undefined;
}

/** Why a PostgreSQL scenario cannot run (no URL, or BENCH_PG_URL is not postgres://), or undefined. */
export function pgUnavailable(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const url = benchPgUrl(env);
  if (url === undefined) return 'no PostgreSQL: set BENCH_PG_URL=postgres://… (or DATABASE_URL=postgres://…)';
  if (!isPostgresUrl(url)) return `BENCH_PG_URL is not a postgres:// URL`;
  return undefined;
}

/** A fresh schema name for one store of this run. */
export function benchSchema(what: string): string {
  return `bench_${what.replace(/\W/g, '_')}_${process.pid}_${randomBytes(3).toString('hex')}`;
}

/**
 * `url` with the session's search_path set to `schema` (and, given, its application_name), for
 * a server process that takes a database URL and no schema option (`databaseUrl` of the hub).
 */
export function urlWithSchema(url: string, schema: string, applicationName?: string): string {
  const u = new URL(url);
  u.searchParams.set('options', `-c search_path=${schema}`);
  if (applicationName) u.searchParams.set('application_name', applicationName);
  return u.toString();
}

/** Drops the schema and closes the connection. */
export async function dropSchema(db: Knex, schema: string): Promise<void> {
  try {
    await db.raw('DROP SCHEMA IF EXISTS ?? CASCADE', [schema]);
  } finally {
    await db.destroy();
  }
}
