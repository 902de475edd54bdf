/**
 * Where a bench writes: a fresh SQLite file in the bench's temp directory, or, when DATABASE_URL
 * is a postgres:// URL, a fresh schema there (dropped afterwards). Every scenario of one run uses
 * the same engine, so their rates compare.
 */
import { join } from 'node:path';
import type { Knex } from 'knex';
import { connect } from '../../audit/knex-connect.js';

export type Engine = 'SQLite' | 'PostgreSQL';

export interface StoreTarget {
  engine: Engine;
  /** SQLite file path or PostgreSQL URL. */
  target: string;
  /** PostgreSQL schema (unique per store), absent for SQLite. */
  schema?: string;
}

/** The engine of this run: PostgreSQL when DATABASE_URL is set, else SQLite. */
export function benchEngine(): Engine {
  return process.env.DATABASE_URL ? 'PostgreSQL' : 'SQLite';
}

/** A new, empty store target named `name` (a file under `dir`, or a schema). */
export function storeTarget(dir: string, name: string): StoreTarget {
  const url = process.env.DATABASE_URL;
  if (url) return { engine: 'PostgreSQL', target: url, schema: `bench_${name.replace(/\W/g, '_')}_${process.pid}_${Date.now()}` };
  return { engine: 'SQLite', target: join(dir, `${name}.sqlite`) };
}

export async function openStore(t: StoreTarget): Promise<Knex> {
  return connect(t.target, t.schema ? { schema: t.schema } : {});
}

/** Closes the connection; drops the PostgreSQL schema (the SQLite file goes with the temp dir). */
export async function closeStore(db: Knex, t: StoreTarget): Promise<void> {
  try {
    if (t.schema) await db.raw('DROP SCHEMA IF EXISTS ?? CASCADE', [t.schema]);
  } finally {
    await db.destroy();
  }
}
