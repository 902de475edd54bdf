/**
 * Checks a server (node or hub) makes before it changes anything at start-up, so a start that is
 * bound to fail fails first, in one line with a code and the fix: the listen port is taken
 * (ERR_PORT_IN_USE), the store cannot be opened (ERR_DATABASE_UNREACHABLE) or was migrated by a
 * newer version (ERR_SCHEMA_TOO_NEW).
 */
import { createServer } from 'node:net';
import type { Knex } from 'knex';
import { serviceError } from '../protocol/service-errors.js';
import { existsSync } from 'node:fs';
import { connectReadOnly, isPostgresUrl } from './knex-connect.js';
import { assertNotNewer, migrationState, storeLabel, type SchemaPart } from './migration-plan.js';

function portInUse(host: string, port: number): Error {
  return serviceError('ERR_PORT_IN_USE', `${host}:${port} is already in use by another process: stop it (\`ss -ltnp 'sport = :${port}'\` shows which) or set listen.port in the config to a free port`, { host, port });
}

/** ERR_PORT_IN_USE when something already listens on host:port (port 0, "any free port", always passes). */
export async function assertPortFree(host: string, port: number): Promise<void> {
  if (port === 0) return;
  const probe = createServer();
  await new Promise<void>((resolve, reject) => {
    probe.once('error', (e: NodeJS.ErrnoException) => reject(e.code === 'EADDRINUSE' ? portInUse(host, port) : e));
    probe.listen({ host, port, exclusive: true }, () => probe.close(() => resolve()));
  });
}

/** The error to throw when listen() itself fails (another process took the port since the check). */
export function listenFailure(e: unknown, host: string, port: number): unknown {
  return (e as NodeJS.ErrnoException).code === 'EADDRINUSE' ? portInUse(host, port) : e;
}

/** Runs one query; ERR_DATABASE_UNREACHABLE naming the store (without its password) and the fix when it fails. */
export async function probeStore(db: Knex, target: string): Promise<void> {
  try {
    await db.raw('select 1');
  } catch (e) {
    const err = e as { code?: string; message?: string };
    const cause = err.code ?? err.message ?? 'error';
    const store = storeLabel(target);
    const fix = isPostgresUrl(target)
      ? 'check that PostgreSQL is running and that databaseUrl (or env DATABASE_URL) names the right host, database and user'
      : cause === 'SQLITE_NOTADB'
        ? 'the file is not a SQLite database: check dataDir, or move the file away / restore the store from a backup'
        : 'check that the file and its folder exist and are readable and writable by this user';
    throw serviceError('ERR_DATABASE_UNREACHABLE', `cannot open the store ${store} (${cause}): ${fix}`, { store, cause });
  }
}

/**
 * The store checks of a start, reading only: ERR_DATABASE_UNREACHABLE, ERR_SCHEMA_TOO_NEW. A
 * SQLite file that is not there yet passes (the start creates it after its checks).
 */
export async function preflightStore(target: string, parts: readonly SchemaPart[]): Promise<void> {
  if (!isPostgresUrl(target) && !existsSync(target)) return;
  const db = await connectReadOnly(target);
  try {
    await probeStore(db, target);
    assertNotNewer(await migrationState(db, parts), storeLabel(target));
  } finally {
    await db.destroy();
  }
}

/**
 * A real write that changes nothing, for readiness: the migration lock row set to itself (knex keeps
 * one row in `<migrations table>_lock`). A message when the SQLite file or PostgreSQL refuses writes.
 */
export async function storeWritable(db: Knex, migrationsTable: string): Promise<string | null> {
  try {
    await db(`${migrationsTable}_lock`).update({ is_locked: db.ref('is_locked') });
    return null;
  } catch (e) {
    return `the store does not accept writes: ${(e as { code?: string }).code ?? (e as Error).message}`;
  }
}
