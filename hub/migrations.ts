/**
 * The hub's schema as knex migrations (a migrationSource object: no file globbing), with its own
 * bookkeeping table so hub/, audit/ and a co-located node never collide. Every `up` has a `down`.
 * All state of a hub process lives here (registry, tokens, sequences, replay window, cursors), so
 * several hub processes can share one PostgreSQL.
 */
import type { Knex } from 'knex';

interface Migration {
  name: string;
  up(db: Knex): Promise<void>;
  down(db: Knex): Promise<void>;
}

const TABLES = ['hub_settings', 'hub_witness', 'hub_distributions', 'hub_records', 'hub_envelopes', 'hub_streams', 'hub_tokens', 'hub_certs', 'hub_nodes'];

const MIGRATIONS: Migration[] = [
  {
    name: '001_hub',
    async up(db) {
      await db.schema.createTable('hub_nodes', (t) => {
        t.string('node_id', 6).primary();
        t.string('name', 100).nullable();
        t.integer('grade').notNullable();
        t.string('status', 16).notNullable(); // pending | active | revoked
        t.string('enrolled_at', 30).nullable();
        t.string('last_seen_at', 30).nullable();
        t.bigInteger('batches_in').notNullable().defaultTo(0);
        t.bigInteger('records_in').notNullable().defaultTo(0);
        t.bigInteger('records_out').notNullable().defaultTo(0);
        t.bigInteger('queries').notNullable().defaultTo(0);
        t.string('created_at', 30).notNullable();
        t.string('updated_at', 30).notNullable();
      });
      await db.schema.createTable('hub_certs', (t) => {
        t.bigIncrements('n').primary();
        t.string('serial', 64).notNullable().unique('hub_certs_serial_uq');
        t.string('node_id', 6).notNullable().index('hub_certs_node_idx');
        t.string('not_before', 30).notNullable();
        t.string('not_after', 30).notNullable();
        t.string('status', 16).notNullable();
        t.string('issued_at', 30).notNullable();
        t.integer('grade').nullable();
        t.string('revoked_at', 30).nullable();
        t.string('reason', 32).nullable();
      });
      await db.schema.createTable('hub_tokens', (t) => {
        t.string('hash', 64).primary();
        t.string('node_id', 6).notNullable();
        t.integer('grade').notNullable();
        t.string('created_at', 30).notNullable();
        t.string('expires_at', 30).notNullable();
        t.string('used_at', 30).nullable();
      });
      await db.schema.createTable('hub_streams', (t) => {
        t.string('node_id', 6).notNullable();
        t.string('stream', 32).notNullable();
        t.bigInteger('last_seq').notNullable().defaultTo(0);
        t.primary(['node_id', 'stream']);
      });
      await db.schema.createTable('hub_envelopes', (t) => {
        t.string('id', 36).primary();
        t.string('from_node', 6).notNullable();
        t.string('type', 16).notNullable();
        t.bigInteger('seq').notNullable();
        t.string('ts', 30).notNullable();
        t.string('digest', 64).notNullable();
        t.string('received_at', 30).notNullable();
        t.string('outcome', 16).notNullable(); // accepted | refused | answered
        t.string('code', 64).nullable();
        t.text('response').nullable();
        t.index(['from_node', 'type', 'seq'], 'hub_envelopes_sender_idx');
      });
      await db.schema.createTable('hub_records', (t) => {
        t.string('id', 36).primary();
        t.string('source_node', 6).notNullable();
        t.string('type', 16).notNullable();
        t.string('class', 16).notNullable();
        t.string('subject', 32).notNullable().index('hub_records_subject_idx');
        t.text('fields').notNullable();
        t.string('status', 16).notNullable().defaultTo('active');
        t.string('withdrawn_reason', 32).nullable();
        t.string('withdrawn_at', 30).nullable();
        t.string('created_at', 40).notNullable();
        t.string('updated_at', 40).notNullable();
        t.string('received_at', 30).notNullable();
        t.string('batch_id', 36).notNullable();
      });
      await db.schema.createTable('hub_distributions', (t) => {
        t.bigIncrements('cursor').primary();
        t.string('kind', 16).notNullable(); // record | withdrawal
        t.string('source_node', 6).notNullable();
        t.string('record_id', 36).notNullable();
        t.string('class', 16).notNullable();
        t.string('reason', 32).nullable();
        t.string('at', 40).nullable();
        t.string('created_at', 30).notNullable();
      });
      await db.schema.createTable('hub_witness', (t) => {
        t.string('node_id', 6).notNullable();
        t.bigInteger('tree_size').notNullable();
        t.string('root_hash', 64).notNullable();
        t.text('checkpoint').notNullable();
        t.text('cosignature').notNullable();
        t.string('cosigned_at', 30).notNullable();
        t.primary(['node_id', 'tree_size']);
      });
      await db.schema.createTable('hub_settings', (t) => {
        t.string('name', 64).primary();
        t.text('value').notNullable();
      });
    },
    async down(db) {
      for (const name of TABLES) await db.schema.dropTableIfExists(name);
    },
  },
  {
    // issue 13: revoking a node (or `credit hub tokens cancel`) cancels its unused tokens (item 15);
    // renewal is rate-limited per node (item 14)
    name: '002_hub_tokens_cancelled',
    async up(db) {
      await db.schema.alterTable('hub_tokens', (t) => {
        t.string('cancelled_at', 30).nullable();
        t.index(['node_id'], 'hub_tokens_node_idx');
      });
      await db.schema.alterTable('hub_nodes', (t) => {
        t.string('last_renewed_at', 30).nullable();
      });
    },
    async down(db) {
      await db.schema.alterTable('hub_nodes', (t) => {
        t.dropColumn('last_renewed_at');
      });
      await db.schema.alterTable('hub_tokens', (t) => {
        t.dropIndex(['node_id'], 'hub_tokens_node_idx');
        t.dropColumn('cancelled_at');
      });
    },
  },
  {
    // Issue 13: a record is identified by (source node, id), so no node can take, block or shadow
    // another node's record id. The feed joins on both columns; this key serves that join.
    name: '003_hub_records_by_node',
    async up(db) {
      await db.schema.alterTable('hub_records', (t) => {
        t.dropPrimary('hub_records_pkey');
        t.primary(['source_node', 'id'], { constraintName: 'hub_records_pkey' });
      });
    },
    async down(db) {
      const shared = await db('hub_records').select('id').groupBy('id').havingRaw('count(*) > 1').first();
      if (shared) throw new Error(`cannot key hub_records by id alone again: record id ${String(shared.id)} is held by more than one node`);
      await db.schema.alterTable('hub_records', (t) => {
        t.dropPrimary('hub_records_pkey');
        t.primary(['id'], { constraintName: 'hub_records_pkey' });
      });
    },
  },
];

export const hubMigrationSource: Knex.MigrationSource<Migration> = {
  getMigrations: async () => MIGRATIONS,
  getMigrationName: (m) => m.name,
  getMigration: async (m) => ({ up: m.up, down: m.down }),
};

export const HUB_MIGRATIONS_TABLE = 'knex_migrations_hub';

const config = { migrationSource: hubMigrationSource, tableName: HUB_MIGRATIONS_TABLE };

/** Brings the hub's tables to the latest version. */
export async function migrateHub(db: Knex): Promise<void> {
  await db.migrate.latest(config);
}

/** Rolls every hub migration back (tests, uninstall). */
export async function rollbackHub(db: Knex): Promise<void> {
  await db.migrate.rollback(config, true);
}
