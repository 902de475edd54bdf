/**
 * Store engines for tests: every store suite runs against SQLite (a temp file) and PostgreSQL
 * (127.0.0.1:5432, a fresh schema per run so parallel runs cannot collide). Under CI=true an
 * unreachable PostgreSQL fails the suite; elsewhere it is skipped with a loud reason.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { Knex } from 'knex';
import { connect } from '../../audit/knex-connect.js';

export const PG_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

export interface Engine {
  name: 'sqlite' | 'pg';
  /** A fresh, empty database; call close() when done (drops the PG schema / removes the file). */
  open(): Promise<{ db: Knex; target: string; schema?: string; close(): Promise<void> }>;
}

export const sqliteEngine: Engine = {
  name: 'sqlite',
  async open() {
    const dir = mkdtempSync(join(tmpdir(), 'credit-test-'));
    const target = join(dir, 'store.sqlite');
    const db = await connect(target);
    return {
      db,
      target,
      async close() {
        await db.destroy();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  },
};

export const pgEngine: Engine = {
  name: 'pg',
  async open() {
    const schema = `t_${process.pid}_${randomBytes(4).toString('hex')}`;
    const db = await connect(PG_URL, { schema, poolMax: 4 });
    return {
      db,
      target: PG_URL,
      schema,
      async close() {
        await db.raw('DROP SCHEMA IF EXISTS ?? CASCADE', [schema]);
        await db.destroy();
      },
    };
  },
};

let pgReachable: Promise<string | null> | undefined;

/** null when PostgreSQL answers, else the reason it does not. */
export function pgProblem(): Promise<string | null> {
  pgReachable ??= (async () => {
    try {
      const db = await connect(PG_URL, { poolMax: 1 });
      try {
        await db.raw('select 1');
      } finally {
        await db.destroy();
      }
      return null;
    } catch (e) {
      return (e as Error).message;
    }
  })();
  return pgReachable;
}

/**
 * Whether a PostgreSQL-only test may run: true when PostgreSQL answers; else under CI=true `t` fails
 * (a PostgreSQL suite never skips there) and elsewhere the skip is noted.
 */
export async function pgReady(t: { fail(message: string): void; comment(message: string): void }): Promise<boolean> {
  const problem = await pgProblem();
  if (problem === null) return true;
  if (process.env.CI === 'true') t.fail(`PostgreSQL unreachable under CI: ${problem}`);
  else t.comment(`SKIPPED: PostgreSQL unreachable: ${problem}`);
  return false;
}

/**
 * The engines a store suite must run on. With PostgreSQL down: under CI the returned pg engine
 * throws on open (the suite fails); elsewhere it is left out and a warning is printed.
 */
export async function engines(): Promise<Engine[]> {
  const problem = await pgProblem();
  if (problem === null) return [sqliteEngine, pgEngine];
  if (process.env.CI === 'true') {
    return [
      sqliteEngine,
      {
        name: 'pg',
        async open() {
          throw new Error(`PostgreSQL at ${PG_URL} is unreachable under CI=true: ${problem}`);
        },
      },
    ];
  }
  console.warn(`# WARNING: PostgreSQL unreachable (${problem}); running SQLite only. Under CI this fails.`);
  return [sqliteEngine];
}
