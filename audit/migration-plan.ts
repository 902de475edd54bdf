/**
 * The schema of a server as a list of parts (audit + node, audit + hub), each a knex migration
 * source with its own bookkeeping table: what is applied, what is pending, and whether the store
 * was migrated by a newer version than this one (then nothing may run against it).
 */
import type { Knex } from 'knex';
import { serviceError } from '../protocol/service-errors.js';
import { isPostgresUrl } from './knex-connect.js';

/** A store's name for messages and logs: the SQLite path, or a PostgreSQL URL without its password. */
export function storeLabel(target: string): string {
  if (!isPostgresUrl(target)) return target;
  try {
    const u = new URL(target);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return 'postgres://…';
  }
}

export interface SchemaPart {
  /** e.g. "audit", "node", "hub" */
  part: string;
  source: Knex.MigrationSource<unknown>;
  tableName: string;
}

export interface MigrationState {
  applied: { part: string; name: string }[];
  pending: { part: string; name: string }[];
  /** Applied in the store but unknown to this version: the store is newer than the code. */
  unknown: { part: string; name: string }[];
}

async function knownNames(p: SchemaPart): Promise<string[]> {
  return (await p.source.getMigrations([])).map((m) => p.source.getMigrationName(m));
}

async function appliedNames(db: Knex, p: SchemaPart): Promise<string[]> {
  if (!(await db.schema.hasTable(p.tableName))) return [];
  return (await db(p.tableName).select('name').orderBy('id')).map((r: { name: string }) => r.name);
}

/** Reads the bookkeeping tables; changes nothing. */
export async function migrationState(db: Knex, parts: readonly SchemaPart[]): Promise<MigrationState> {
  const state: MigrationState = { applied: [], pending: [], unknown: [] };
  for (const p of parts) {
    const known = await knownNames(p);
    const applied = await appliedNames(db, p);
    const done = new Set(applied);
    for (const name of applied) (known.includes(name) ? state.applied : state.unknown).push({ part: p.part, name });
    for (const name of known) if (!done.has(name)) state.pending.push({ part: p.part, name });
  }
  return state;
}

/** Every migration of `parts` as pending (a store that does not exist yet). */
export async function allPending(parts: readonly SchemaPart[]): Promise<MigrationState> {
  const state: MigrationState = { applied: [], pending: [], unknown: [] };
  for (const p of parts) for (const name of await knownNames(p)) state.pending.push({ part: p.part, name });
  return state;
}

/** ERR_SCHEMA_TOO_NEW unless every applied migration is one this version knows. */
export function assertNotNewer(state: MigrationState, store: string): void {
  if (state.unknown.length === 0) return;
  const names = state.unknown.map((u) => `${u.part} ${u.name}`).join(', ');
  throw serviceError('ERR_SCHEMA_TOO_NEW', `the store ${store} was migrated by a newer version (${names}); run that version (or newer), or restore a backup made by this one — this version never downgrades a store`, { store, unknown: names });
}

/** Refuses a newer store (ERR_SCHEMA_TOO_NEW), then applies every pending migration, part by part. */
/**
 * Key of the PostgreSQL session advisory lock (with the schema's hash as second key) held while a process migrates a store: several hub
 * processes starting together on a new database would otherwise race in knex's migrator (each
 * creating `knex_migrations_*_lock`: "relation … already exists", and the loser exits).
 */
export const MIGRATE_LOCK_KEY = 430_000_003;

export async function migrateParts(db: Knex, parts: readonly SchemaPart[], store: string): Promise<MigrationState> {
  const pg = (db.client as { config?: { client?: unknown } }).config?.client === 'pg';
  // on PostgreSQL one process at a time: the lock on a connection of its own, held across the
  // migrations (which run on the pool's other connections), released whatever happens
  const conn: unknown = pg ? await db.client.acquireConnection() : undefined;
  try {
    if (pg) {
      // wait as long as another process migrates (the sessions' lock/statement timeouts would cut a
      // long upgrade short: knex-connect.ts), one lock per schema (the stores in one database are independent)
      await db.raw('SET lock_timeout = 0').connection(conn);
      await db.raw('SET statement_timeout = 0').connection(conn);
      await db.raw('select pg_advisory_lock(?, hashtext(current_schema()))', [MIGRATE_LOCK_KEY]).connection(conn);
    }
    const before = await migrationState(db, parts);
    assertNotNewer(before, store);
    for (const p of parts) await db.migrate.latest({ migrationSource: p.source, tableName: p.tableName });
    return before;
  } finally {
    if (pg) {
      await db.raw('select pg_advisory_unlock(?, hashtext(current_schema()))', [MIGRATE_LOCK_KEY]).connection(conn).catch(() => undefined);
      await db.raw('RESET lock_timeout').connection(conn).catch(() => undefined);
      await db.raw('RESET statement_timeout').connection(conn).catch(() => undefined);
      await db.client.releaseConnection(conn);
    }
  }
}
