/**
 * The audit schema as knex migrations (a migrationSource object, own bookkeeping table) and the
 * append-only triggers: UPDATE and DELETE on `audit_log`, `audit_checkpoints`, `audit_prunes` and
 * `audit_cosignatures` (witness cosignatures of this store's checkpoints, migration 002; one per
 * tree size and witness since 003) and `audit_witnessed` (the heads this store's owner cosigned for
 * another log: a node's of the hub's checkpoints, migration 003) are refused by
 * the database itself (SQLite RAISE(ABORT); PostgreSQL a plpgsql function raising an exception, plus
 * TRUNCATE). Pruning (prune.ts) is the one deliberate path that lifts the delete guard, inside
 * its own transaction.
 */
import type { Knex } from 'knex';
import { engineOf } from './knex-connect.js';

export const AUDIT_MIGRATIONS_TABLE = 'knex_migrations_audit';
/** The tables 001 creates and guards. */
const TABLES_001 = ['audit_log', 'audit_checkpoints', 'audit_prunes'] as const;
export const GUARDED_TABLES = [...TABLES_001, 'audit_cosignatures', 'audit_witnessed', 'audit_meta', 'audit_frontiers'] as const;

/** The audit_cosignatures columns when migration 003 rebuilds it; `pkey` names its primary key (PostgreSQL names are per schema). */
function cosignaturesTable(key: 'tree_size' | 'tree_size,witness', pkey: string) {
  return (t: Knex.CreateTableBuilder) => {
    t.bigInteger('tree_size').notNullable();
    t.string('root_hash', 64).notNullable();
    t.string('checkpoint_time', 24).notNullable();
    t.string('node_id', 16).notNullable();
    t.string('witness', 16).notNullable();
    t.string('cosigned_at', 24).notNullable();
    t.text('signature').notNullable();
    t.string('signer_fingerprint', 64).notNullable();
    t.text('cert_pem').notNullable();
    t.primary(key === 'tree_size' ? ['tree_size'] : ['tree_size', 'witness'], pkey);
  };
}

/** Rebuilds audit_cosignatures with another primary key (copying the rows; one per tree size when narrowing). */
async function rekeyCosignatures(db: Knex, key: 'tree_size' | 'tree_size,witness'): Promise<void> {
  for (const sql of unguardSql(db, 'audit_cosignatures')) await db.raw(sql);
  await db.schema.createTable('audit_cosignatures_next', cosignaturesTable(key, key === 'tree_size' ? 'audit_cosignatures_size_pkey' : 'audit_cosignatures_size_witness_pkey'));
  const rows = (await db('audit_cosignatures').select('*').orderBy([{ column: 'tree_size' }, { column: 'cosigned_at' }])) as Record<string, unknown>[];
  const seen = new Set<string>();
  for (const r of rows) {
    const k = key === 'tree_size' ? String(r.tree_size) : `${String(r.tree_size)}:${String(r.witness)}`;
    if (seen.has(k)) continue;
    seen.add(k);
    await db('audit_cosignatures_next').insert(r);
  }
  await db.schema.dropTable('audit_cosignatures');
  await db.schema.renameTable('audit_cosignatures_next', 'audit_cosignatures');
  for (const sql of guardSql(db, 'audit_cosignatures')) await db.raw(sql);
}

interface Migration {
  name: string;
  up(db: Knex): Promise<void>;
  down(db: Knex): Promise<void>;
}

/** SQL creating the guard triggers of one table. */
export function guardSql(db: Knex, table: string): string[] {
  if (engineOf(db) === 'sqlite') {
    return ['UPDATE', 'DELETE'].map(
      (op) => `CREATE TRIGGER ${table}_no_${op.toLowerCase()} BEFORE ${op} ON ${table} BEGIN SELECT RAISE(ABORT, '${table} is append-only: ${op} refused'); END`,
    );
  }
  return [
    `CREATE TRIGGER ${table}_no_change BEFORE UPDATE OR DELETE ON ${table} FOR EACH ROW EXECUTE FUNCTION audit_refuse_change()`,
    `CREATE TRIGGER ${table}_no_truncate BEFORE TRUNCATE ON ${table} FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_change()`,
  ];
}

/** Guards `tables` (append-only), creating PostgreSQL's trigger function first when it is not there yet. */
export async function guardTables(db: Knex, tables: readonly string[]): Promise<void> {
  if (engineOf(db) === 'pg') {
    await db.raw(`CREATE OR REPLACE FUNCTION audit_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP;
END $$`);
  }
  for (const table of tables) for (const sql of guardSql(db, table)) await db.raw(sql);
}

/**
 * Runs `fn` inside `trx` with the UPDATE/DELETE guard of `table` lifted, and puts it back before
 * returning (SQLite: its triggers dropped and created again; PostgreSQL: disabled and enabled, which
 * locks the table until the transaction ends). A failure rolls the whole transaction back, guard
 * included. The deliberate paths only: pruning (prune.ts), a node's witness reset of the hub's log.
 */
export async function withGuardLifted<T>(trx: Knex.Transaction, table: string, fn: () => Promise<T>): Promise<T> {
  const pg = engineOf(trx) === 'pg';
  if (pg) await trx.raw(`ALTER TABLE ?? DISABLE TRIGGER ??`, [table, `${table}_no_change`]);
  else for (const sql of unguardSql(trx, table)) await trx.raw(sql);
  const out = await fn();
  if (pg) await trx.raw(`ALTER TABLE ?? ENABLE TRIGGER ??`, [table, `${table}_no_change`]);
  else for (const sql of guardSql(trx, table)) await trx.raw(sql);
  return out;
}

/** SQL removing the guard triggers of one table (used by `down` and, in SQLite, by pruning). */
export function unguardSql(db: Knex, table: string): string[] {
  if (engineOf(db) === 'sqlite') return ['update', 'delete'].map((op) => `DROP TRIGGER IF EXISTS ${table}_no_${op}`);
  return [`DROP TRIGGER IF EXISTS ${table}_no_change ON ${table}`, `DROP TRIGGER IF EXISTS ${table}_no_truncate ON ${table}`];
}

const MIGRATIONS: Migration[] = [
  {
    name: '001_audit_log',
    async up(db) {
      await db.schema.createTable('audit_log', (t) => {
        t.bigInteger('seq').primary();
        t.string('time', 24).notNullable().index('audit_log_time_idx');
        t.string('actor', 200).notNullable();
        t.string('actor_node', 16).nullable();
        t.string('action', 64).notNullable();
        t.string('object', 400).nullable();
        t.string('class', 16).nullable();
        t.string('outcome', 8).notNullable();
        t.text('reason').nullable();
        t.string('prev_hash', 64).notNullable();
        t.string('leaf_hash', 64).notNullable();
      });
      await db.schema.createTable('audit_checkpoints', (t) => {
        t.bigInteger('tree_size').primary();
        t.string('root_hash', 64).notNullable();
        t.string('time', 24).notNullable();
        t.string('node_id', 16).notNullable();
        t.text('signature').notNullable();
        t.string('signer_fingerprint', 64).notNullable();
        t.text('cert_pem').notNullable();
        t.text('chain_pems').notNullable();
      });
      // What pruning keeps of the removed entries: the compact range (frontier) at first_kept - 1.
      await db.schema.createTable('audit_prunes', (t) => {
        t.bigInteger('first_kept').primary();
        t.text('frontier').notNullable();
        t.string('prev_hash', 64).notNullable();
        t.string('root_hash', 64).notNullable();
        t.string('time', 24).notNullable();
      });
      await guardTables(db, TABLES_001);
    },
    async down(db) {
      for (const table of TABLES_001) for (const sql of unguardSql(db, table)) await db.raw(sql);
      if (engineOf(db) === 'pg') await db.raw('DROP FUNCTION IF EXISTS audit_refuse_change()');
      await db.schema.dropTableIfExists('audit_prunes');
      await db.schema.dropTableIfExists('audit_checkpoints');
      await db.schema.dropTableIfExists('audit_log');
    },
  },
  {
    // Hub cosignatures of this store's checkpoints (cosign.ts): one per tree size, the first kept.
    name: '002_audit_cosignatures',
    async up(db) {
      await db.schema.createTable('audit_cosignatures', (t) => {
        t.bigInteger('tree_size').primary();
        t.string('root_hash', 64).notNullable();
        t.string('checkpoint_time', 24).notNullable();
        t.string('node_id', 16).notNullable();
        t.string('witness', 16).notNullable();
        t.string('cosigned_at', 24).notNullable();
        t.text('signature').notNullable();
        t.string('signer_fingerprint', 64).notNullable();
        t.text('cert_pem').notNullable();
      });
      for (const sql of guardSql(db, 'audit_cosignatures')) await db.raw(sql);
    },
    async down(db) {
      for (const sql of unguardSql(db, 'audit_cosignatures')) await db.raw(sql);
      await db.schema.dropTableIfExists('audit_cosignatures');
    },
  },
  {
    // Mutual witnessing (issue 16): the hub's log is cosigned by every node, so a store keeps one
    // cosignature per tree size *and witness*; and a node keeps the hub heads it cosigned
    // (audit_witnessed: its records for `credit audit witness-export`, and the `prev` of its next check).
    name: '003_audit_mutual_witness',
    async up(db) {
      await rekeyCosignatures(db, 'tree_size,witness');
      await db.schema.createTable('audit_witnessed', (t) => {
        t.string('node_id', 16).notNullable();
        t.bigInteger('tree_size').notNullable();
        t.string('root_hash', 64).notNullable();
        t.text('checkpoint').notNullable();
        t.text('cosignature').notNullable();
        t.string('cosigned_at', 24).notNullable();
        t.primary(['node_id', 'tree_size']);
      });
      for (const sql of guardSql(db, 'audit_witnessed')) await db.raw(sql);
    },
    async down(db) {
      for (const sql of unguardSql(db, 'audit_witnessed')) await db.raw(sql);
      await db.schema.dropTableIfExists('audit_witnessed');
      await rekeyCosignatures(db, 'tree_size');
    },
  },
  {
    // The log's settings fixed when it is created (log-meta.ts): `hash` = sha256 | sm3. Append-only
    // like the log, so a log cannot be switched to another algorithm half way.
    name: '004_audit_meta',
    async up(db) {
      await db.schema.createTable('audit_meta', (t) => {
        t.string('name', 32).primary();
        t.string('value', 200).notNullable();
        t.string('set_at', 24).notNullable();
      });
      for (const sql of guardSql(db, 'audit_meta')) await db.raw(sql);
    },
    async down(db) {
      for (const sql of unguardSql(db, 'audit_meta')) await db.raw(sql);
      await db.schema.dropTableIfExists('audit_meta');
    },
  },
  {
    // Witness epochs (docs/audit-format.md §10a): a hub cosignature states the node's epoch (number
    // of witness resets before it); NULL = absent = 0. Adding a nullable column leaves the triggers.
    name: '005_audit_cosignature_epoch',
    async up(db) {
      await db.schema.alterTable('audit_cosignatures', (t) => {
        t.integer('epoch').nullable();
      });
    },
    async down(db) {
      for (const sql of unguardSql(db, 'audit_cosignatures')) await db.raw(sql);
      await db.schema.alterTable('audit_cosignatures', (t) => {
        t.dropColumn('epoch');
      });
      for (const sql of guardSql(db, 'audit_cosignatures')) await db.raw(sql);
    },
  },
  {
    // Persisted Merkle frontiers (issue 22 item 3): every so many entries, at a signed checkpoint,
    // the log stores its compact range and chain head, so opening it reads only the entries after
    // the newest frontier instead of every entry since the last prune (store.ts loadHead).
    // Derived data, checked against the checkpoint's signed root before use; append-only like the log.
    name: '006_audit_frontiers',
    async up(db) {
      await db.schema.createTable('audit_frontiers', (t) => {
        t.bigInteger('tree_size').primary();
        t.text('frontier').notNullable();
        t.string('head_hash', 64).notNullable();
      });
      for (const sql of guardSql(db, 'audit_frontiers')) await db.raw(sql);
    },
    async down(db) {
      for (const sql of unguardSql(db, 'audit_frontiers')) await db.raw(sql);
      await db.schema.dropTableIfExists('audit_frontiers');
    },
  },
];

export const auditMigrationSource: Knex.MigrationSource<Migration> = {
  // applied in the order of their numbered names, whatever order the list above was written in
  getMigrations: async () => [...MIGRATIONS].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)),
  getMigrationName: (m) => m.name,
  getMigration: async (m) => ({ up: m.up, down: m.down }),
};

const config = { migrationSource: auditMigrationSource, tableName: AUDIT_MIGRATIONS_TABLE };

export async function migrateAudit(db: Knex): Promise<void> {
  await db.migrate.latest(config);
}

/** Rolls the audit schema back (tests, uninstall): drops the tables and their triggers. */
export async function rollbackAudit(db: Knex): Promise<void> {
  await db.migrate.rollback(config, true);
}
