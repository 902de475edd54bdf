/**
 * The hub's store copied while the hub runs and put back with the hub stopped, on both engines
 * (hub-restore-resync.test.ts, hub-restore-feed.test.ts): SQLite (VACUUM INTO, put back as the file)
 * and PostgreSQL (pg_dump of the hub's schema, put back with pg_restore: the feed's sequence goes
 * back with the data).
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { Knex } from 'knex';
import { connect } from '../../audit/knex-connect.js';
import { PG_URL } from '../helpers/db.js';

/** How the hub's store is copied while the hub runs, and put back with the hub stopped. */
export interface HubStore {
  name: string;
  open(): Promise<Knex>;
  copy(db: Knex): Promise<void>;
  /** Puts the copy back (the hub stopped, `db` destroyed) and opens the store again. */
  restore(): Promise<Knex>;
  drop(db: Knex): Promise<void>;
  /** The store as `credit audit …` takes it (--db, and --schema on PostgreSQL). */
  dbArgs: string[];
}

export function sqliteStore(dir: string): HubStore {
  const file = join(dir, 'hub', 'hub.sqlite');
  const copy = join(dir, 'hub-copy.sqlite');
  return {
    name: 'SQLite (file copy)',
    open: () => connect(file),
    async copy(db) {
      await db.raw('VACUUM INTO ?', [copy]); // a consistent copy of the running store, WAL included
    },
    async restore() {
      for (const f of [`${file}-wal`, `${file}-shm`]) rmSync(f, { force: true });
      copyFileSync(copy, file);
      return connect(file);
    },
    drop: (db) => db.destroy(),
    dbArgs: ['--db', file],
  };
}

export function pgStore(dir: string): HubStore {
  const schema = `t_${process.pid}_${randomBytes(4).toString('hex')}`;
  const dump = join(dir, 'hub.pgdump');
  const open = () => connect(PG_URL, { schema, poolMax: 4 });
  return {
    name: 'PostgreSQL (schema dump/restore)',
    open,
    async copy() {
      execFileSync('pg_dump', ['--format=custom', '--no-owner', `--schema=${schema}`, `--file=${dump}`, PG_URL], { stdio: ['ignore', 'ignore', 'pipe'] });
    },
    async restore() {
      const admin = await connect(PG_URL, { poolMax: 1 });
      try {
        await admin.raw('DROP SCHEMA IF EXISTS ?? CASCADE', [schema]);
      } finally {
        await admin.destroy();
      }
      execFileSync('pg_restore', ['--no-owner', `--dbname=${PG_URL}`, dump], { stdio: ['ignore', 'ignore', 'pipe'] });
      return open();
    },
    async drop(db) {
      await db.raw('DROP SCHEMA IF EXISTS ?? CASCADE', [schema]);
      await db.destroy();
    },
    dbArgs: ['--db', PG_URL, '--schema', schema],
  };
}

