/**
 * Opens the store: a SQLite file (embedded default, WAL) or PostgreSQL when given a
 * `postgres://` URL. Shared by audit/, node/ and hub/ so every part speaks to the database the
 * same way. `type Db = Knex | Knex.Transaction` lets stores run inside a caller's transaction.
 */
import { createRequire } from 'node:module';
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
  return sqliteStore(target, ['PRAGMA journal_mode = WAL', 'PRAGMA synchronous = NORMAL', 'PRAGMA foreign_keys = ON', 'PRAGMA busy_timeout = 5000'], ImmediateSqliteClient);
}

/**
 * Opens an existing store for reading only (start-up checks): PostgreSQL as connect() does,
 * SQLite without creating the file, changing its mode or switching it to WAL (`query_only`).
 */
export async function connectReadOnly(target: string): Promise<Knex> {
  if (isPostgresUrl(target)) return connect(target);
  return sqliteStore(target, ['PRAGMA query_only = ON', 'PRAGMA schema_version']);
}

type SqliteConn = { run: (sql: string, cb: (err: Error | null) => void) => void };

/*
 * Transactions of a writing SQLite store start with BEGIN IMMEDIATE. Another process (a CLI command
 * beside the server) may write the same file: in WAL mode a deferred transaction that has read and
 * then writes after that process committed fails at once with SQLITE_BUSY — busy_timeout cannot
 * help, its snapshot is stale. BEGIN IMMEDIATE takes the write lock first, waiting under
 * busy_timeout, and nothing can refuse the transaction's writes after that. Within one process the
 * store has one connection, so its transactions were serial already; a read-only transaction on the
 * writing connection now also waits for another process's write (the reader connection of
 * readerFor() does not). knex has no option for this: its SQLite client and transaction classes are
 * extended (knex/lib is CommonJS without an exports map).
 */
const require = createRequire(import.meta.url);
type TransactionCtor = new (...args: unknown[]) => { query(conn: unknown, sql: string): Promise<unknown> };
const SqliteClient = require('knex/lib/dialects/sqlite3/index.js') as new (config: Knex.Config) => object;
const SqliteTransaction = require('knex/lib/dialects/sqlite3/execution/sqlite-transaction.js') as TransactionCtor;

class ImmediateTransaction extends SqliteTransaction {
  begin(conn: unknown): Promise<unknown> {
    return this.query(conn, 'BEGIN IMMEDIATE;');
  }
}

class ImmediateSqliteClient extends SqliteClient {
  transaction(...args: unknown[]): unknown {
    return new ImmediateTransaction(this, ...args);
  }
}

/** A one-connection SQLite store; `pragmas` run in order on the connection before its first use. */
function sqliteStore(filename: string, pragmas: string[], client: string | (new (config: Knex.Config) => object) = 'sqlite3'): Knex {
  return knexFactory({
    client: client as Knex.Config['client'],
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

/**
 * `col IN (values)` for a long list: PostgreSQL binds it as an array parameter; SQLite reads one
 * JSON parameter through json_each (no limit on the number of bound variables).
 */
export function whereInList<Q extends Knex.QueryBuilder>(db: Db, q: Q, col: string, values: readonly string[]): Q {
  if (engineOf(db as Knex) === 'pg') return q.whereIn(col, values as string[]) as Q;
  return q.whereRaw(`${col} in (select value from json_each(?))`, [JSON.stringify(values)]) as Q;
}
