/**
 * Opens the store: a SQLite file (embedded default, WAL) or PostgreSQL when given a
 * `postgres://` URL. Shared by audit/, node/ and hub/ so every part speaks to the database the
 * same way. `type Db = Knex | Knex.Transaction` lets stores run inside a caller's transaction.
 */
import knexFactory, { type Knex } from 'knex';
import { secureSqliteFiles } from './store-files.js';

export type Db = Knex | Knex.Transaction;

export interface ConnectOptions {
  /** PostgreSQL schema to use (created if missing); tests give each run its own. */
  schema?: string;
  /** Connection pool ceiling for PostgreSQL. */
  poolMax?: number;
  /** PostgreSQL session timeouts in ms (defaults: PG_TIMEOUTS). */
  timeouts?: Partial<PgTimeouts>;
}

export interface PgTimeouts {
  /** `statement_timeout`: a statement running longer is cancelled. */
  statementMs: number;
  /** `lock_timeout`: a statement waiting longer for a lock is cancelled (its transaction rolls back). */
  lockMs: number;
  /** `idle_in_transaction_session_timeout`: a session idle inside a transaction longer is ended. */
  idleInTransactionMs: number;
}

/**
 * Every PostgreSQL session of hub and node runs with these, so no lock cycle or forgotten
 * transaction can hold the store for ever: whatever waits longer fails, its transaction rolls back
 * and releases its locks (and, through it, the audit lock; see audit/log.ts, LOCK ORDER).
 * SQLite's counterpart is `busy_timeout` (5 s).
 */
export const PG_TIMEOUTS: Readonly<PgTimeouts> = Object.freeze({ statementMs: 30_000, lockMs: 10_000, idleInTransactionMs: 60_000 });

export function isPostgresUrl(target: string): boolean {
  return /^postgres(ql)?:\/\//.test(target);
}

export async function connect(target: string, opts: ConnectOptions = {}): Promise<Knex> {
  if (isPostgresUrl(target)) {
    const t = { ...PG_TIMEOUTS, ...opts.timeouts };
    const db = knexFactory({
      client: 'pg',
      // sent in the startup packet: set on every session before its first statement
      // (node-postgres options; knex's type does not list lock_timeout)
      connection: { connectionString: target, statement_timeout: t.statementMs, lock_timeout: t.lockMs, idle_in_transaction_session_timeout: t.idleInTransactionMs } as Knex.PgConnectionConfig,
      pool: { min: 0, max: opts.poolMax ?? 10 },
      ...(opts.schema ? { searchPath: [opts.schema] } : {}),
    });
    if (opts.schema) await db.raw('CREATE SCHEMA IF NOT EXISTS ??', [opts.schema]);
    return db;
  }
  if (target !== ':memory:' && !target.startsWith('file:')) secureSqliteFiles(target); // 0600, before SQLite creates it 0644
  return sqliteStore(target, ['PRAGMA journal_mode = WAL', 'PRAGMA synchronous = NORMAL', 'PRAGMA foreign_keys = ON', 'PRAGMA busy_timeout = 5000']);
}

type SqliteConn = { run: (sql: string, cb: (err: Error | null) => void) => void };

/** A one-connection SQLite store; `pragmas` run in order on the connection before its first use. */
function sqliteStore(filename: string, pragmas: string[]): Knex {
  return knexFactory({
    client: 'sqlite3',
    connection: { filename },
    useNullAsDefault: true,
    pool: {
      min: 1,
      max: 1,
      afterCreate: (conn: SqliteConn, done: (err: Error | null, conn: unknown) => void) => {
        const next = (i: number): void => {
          if (i === pragmas.length) return done(null, conn);
          conn.run(pragmas[i]!, (e) => (e ? done(e, conn) : next(i + 1)));
        };
        next(0);
      },
    },
  });
}

/**
 * A second SQLite connection for reads that must not queue behind a write transaction: the store
 * has one writing connection, and in WAL mode a reader sees the last commit without waiting for
 * the writer. `query_only` makes a write through it an error. On PostgreSQL (a pool), and for an
 * in-memory SQLite store (a second connection would open another database), `db` itself.
 */
export async function readerFor(db: Knex): Promise<{ reader: Knex; close: () => Promise<void> }> {
  const filename = (db.client as { config: { connection?: { filename?: string } } }).config.connection?.filename;
  if (engineOf(db) !== 'sqlite' || !filename || filename === ':memory:' || filename.startsWith('file:')) return { reader: db, close: async () => undefined };
  const reader = sqliteStore(filename, ['PRAGMA query_only = ON', 'PRAGMA busy_timeout = 5000']);
  return { reader, close: () => reader.destroy() };
}

export function engineOf(db: Knex): 'sqlite' | 'pg' {
  const client = (db.client as { config: { client: string } }).config.client;
  return client === 'pg' ? 'pg' : 'sqlite';
}
