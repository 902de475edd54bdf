/**
 * The node's schema as knex migrations (a migrationSource object: no file globbing), with its own
 * bookkeeping table so node/, audit/ and a co-located hub never collide. Every `up` has a `down`.
 */
import type { Knex } from 'knex';

interface Migration {
  name: string;
  up(db: Knex): Promise<void>;
  down(db: Knex): Promise<void>;
}

const MIGRATIONS: Migration[] = [
  {
    name: '001_records',
    async up(db) {
      await db.schema.createTable('node_records', (t) => {
        t.string('id', 36).primary();
        t.string('type', 16).notNullable();
        t.string('class', 16).notNullable();
        t.string('subject', 32).notNullable().index('node_records_subject_idx');
        t.string('natural_key', 600).notNullable().unique('node_records_natural_key_uq');
        t.text('fields').notNullable();
        t.boolean('negative').notNullable();
        t.string('status', 16).notNullable().defaultTo('active');
        t.boolean('disputed').notNullable().defaultTo(false);
        t.string('withdrawn_reason', 32).nullable();
        t.string('withdrawn_at', 30).nullable();
        t.string('decision_date', 10).nullable();
        t.string('repair_from', 10).nullable();
        t.string('disclosure_end', 10).nullable();
        t.string('source_node', 6).notNullable();
        t.string('created_by', 128).notNullable();
        t.string('created_at', 30).notNullable();
        t.string('updated_at', 30).notNullable();
        t.index(['status', 'disclosure_end'], 'node_records_expiry_idx');
      });
      await db.schema.createTable('node_objections', (t) => {
        t.string('id', 36).primary();
        t.string('record_id', 36).notNullable().references('id').inTable('node_records').index('node_objections_record_idx');
        t.string('status', 16).notNullable().defaultTo('open');
        t.text('grounds').notNullable();
        t.string('filed_by', 128).notNullable();
        t.string('filed_at', 30).notNullable();
        t.string('resolved_by', 128).nullable();
        t.string('resolved_at', 30).nullable();
        t.text('resolution_note').nullable();
      });
    },
    async down(db) {
      await db.schema.dropTableIfExists('node_objections');
      await db.schema.dropTableIfExists('node_records');
    },
  },
  {
    // The hub exchange (issue #6): the outbox filled in each record's own transaction, the batches
    // cut from it (id + seq fixed at the cut, re-sent until a receipt is stored), and small state
    // (the inbox cursor, what has been backfilled).
    name: '002_exchange',
    async up(db) {
      await db.schema.createTable('node_outbox', (t) => {
        t.bigIncrements('id').primary();
        t.string('record_id', 36).notNullable();
        t.string('kind', 16).notNullable();
        t.string('created_at', 30).notNullable();
        t.string('batch_id', 36).nullable();
        t.index(['batch_id', 'id'], 'node_outbox_batch_idx');
        t.index(['record_id'], 'node_outbox_record_idx');
      });
      await db.schema.createTable('node_batches', (t) => {
        t.string('id', 36).primary();
        t.bigInteger('seq').notNullable().unique('node_batches_seq_uq');
        t.string('status', 16).notNullable().defaultTo('open');
        t.integer('records').notNullable();
        t.integer('withdrawals').notNullable();
        t.string('created_at', 30).notNullable();
        t.string('sent_at', 30).nullable();
        t.string('receipt_at', 30).nullable();
        t.text('receipt').nullable();
        t.integer('accepted').nullable();
        t.integer('rejected').nullable();
        t.integer('attempts').notNullable().defaultTo(0);
        t.string('last_error', 200).nullable();
        t.index(['status', 'seq'], 'node_batches_status_idx');
      });
      await db.schema.createTable('node_exchange_state', (t) => {
        t.string('key', 64).primary();
        t.text('value').notNullable();
        t.string('updated_at', 30).notNullable();
      });
    },
    async down(db) {
      await db.schema.dropTableIfExists('node_exchange_state');
      await db.schema.dropTableIfExists('node_batches');
      await db.schema.dropTableIfExists('node_outbox');
    },
  },
  {
    // Issue 13 (a node speaks only for itself): the natural key is unique per source node, so a
    // record received from another node never blocks, shadows or replaces a local record with the
    // same type + decision number + source unit, and one sender's record never blocks another's.
    // Existing rows already satisfy the narrower key; they migrate unchanged.
    name: '003_records_source_key',
    async up(db) {
      await db.schema.alterTable('node_records', (t) => {
        t.dropUnique(['natural_key'], 'node_records_natural_key_uq');
        t.unique(['source_node', 'natural_key'], { indexName: 'node_records_source_key_uq' });
      });
    },
    async down(db) {
      // Going back to one key space would have to drop records (never done): refuse instead.
      const held = (await db('node_records').select('natural_key').groupBy('natural_key').havingRaw('count(*) > 1')) as unknown[];
      if (held.length > 0) {
        throw new Error(`003_records_source_key cannot go down: ${held.length} natural key(s) are held by more than one source node`);
      }
      await db.schema.alterTable('node_records', (t) => {
        t.dropUnique(['source_node', 'natural_key'], 'node_records_source_key_uq');
        t.unique(['natural_key'], { indexName: 'node_records_natural_key_uq' });
      });
    },
  },
];

export const nodeMigrationSource: Knex.MigrationSource<Migration> = {
  getMigrations: async () => MIGRATIONS,
  getMigrationName: (m) => m.name,
  getMigration: async (m) => ({ up: m.up, down: m.down }),
};

export const NODE_MIGRATIONS_TABLE = 'knex_migrations_node';

const config = { migrationSource: nodeMigrationSource, tableName: NODE_MIGRATIONS_TABLE };

/** Brings the node's tables to the latest version. */
export async function migrateNode(db: Knex): Promise<void> {
  await db.migrate.latest(config);
}

/** Rolls every node migration back (tests, uninstall). */
export async function rollbackNode(db: Knex): Promise<void> {
  await db.migrate.rollback(config, true);
}
