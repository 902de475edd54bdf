/**
 * The node's schema as knex migrations (a migrationSource object: no file globbing), with its own
 * bookkeeping table so node/, audit/ and a co-located hub never collide. Every `up` has a `down`.
 */
import { atRestKeysMigration } from '../server/at-rest-store.js';
import type { Knex } from 'knex';
import { createEvidenceTable, dropEvidenceTable } from '../audit/evidence-store.js';
import { objectionsMigration } from './objections-migration.js';
import { nodeQualityMigration } from './quality-migration.js';
import { nodeQualityKeysMigration } from './quality-keys-migration.js';
import { accountsMigration } from './accounts-migration.js';
import { hubWitnessResetMigration } from './hub-witness-reset-store.js';
import { AUDIT_MIGRATIONS_TABLE, auditMigrationSource } from '../audit/schema.js';
import type { SchemaPart } from '../audit/migration-plan.js';

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
  },  {
    // Issue 16: the signed exchange log — the evidence (header, digest, signature) of every
    // envelope this node sends to or accepts from the hub (audit/evidence-store.ts).
    name: '009_exchange_evidence',
    up: (db) => createEvidenceTable(db, 'node_exchange_evidence'),
    down: (db) => dropEvidenceTable(db, 'node_exchange_evidence'),
  },
  {
    // Issue 14 (catalog 2027.1): each record keeps the catalog version it was validated against,
    // so a 2026.1 record is sent, received and re-checked as 2026.1. Every row stored before this
    // migration was written under 2026.1, the column's default; new rows always name their version.
    name: '004_records_catalog_version',
    async up(db) {
      await db.schema.alterTable('node_records', (t) => {
        t.string('catalog_version', 16).notNullable().defaultTo('2026.1');
      });
    },
    async down(db) {
      // Plain ALTER TABLE … DROP COLUMN (SQLite ≥ 3.35, PostgreSQL): knex's SQLite emulation would
      // copy and drop the table, which the outbox's foreign key forbids.
      await db.raw('alter table node_records drop column catalog_version');
    },
  },
  {
    // Issue 14: an imported record keeps the columns of the department's file that are not catalog
    // fields (`extra`, JSON text) and says when its severity was derived rather than given.
    name: '005_intake',
    async up(db) {
      await db.schema.alterTable('node_records', (t) => {
        t.string('severity_derived', 16).nullable();
        t.text('extra').nullable();
      });
    },
    async down(db) {
      // Plain ALTER TABLE … DROP COLUMN (SQLite ≥ 3.35, PostgreSQL): knex's SQLite emulation would
      // copy and drop the table, which the outbox's foreign key forbids.
      await db.raw('alter table node_records drop column extra');
      await db.raw('alter table node_records drop column severity_derived');
    },
  },
  // Issue 15 items 5 and 6 (objections across the province, credit repair): node/objections-migration.ts
  objectionsMigration,
  accountsMigration,
  {
    // Issue 15 (a record's life): a re-submission with the natural key of a stored record and other
    // content is a new VERSION of it, not a duplicate. node_records holds the current version and
    // its number; node_record_versions keeps every version of a record that has more than one
    // (version 1 is copied there when version 2 arrives, so a million never-corrected records are
    // not stored twice), with who, when and why.
    name: '007_record_versions',
    async up(db) {
      await db.schema.alterTable('node_records', (t) => {
        t.integer('version').notNullable().defaultTo(1);
      });
      await db.schema.createTable('node_record_versions', (t) => {
        t.string('record_id', 36).notNullable();
        t.integer('version').notNullable();
        t.string('class', 16).notNullable();
        t.string('subject', 32).notNullable();
        t.text('fields').notNullable();
        t.string('decision_date', 10).nullable();
        t.string('disclosure_end', 10).nullable();
        t.string('reason', 32).notNullable(); // created | correction
        t.text('note').nullable();
        t.string('changed_by', 128).notNullable();
        t.string('changed_at', 30).notNullable();
        t.primary(['record_id', 'version'], 'node_record_versions_pkey');
      });
    },
    async down(db) {
      await db.schema.dropTableIfExists('node_record_versions');
      // Plain ALTER TABLE … DROP COLUMN (SQLite ≥ 3.35, PostgreSQL): knex's SQLite emulation would
      // copy and drop the table, which the outbox's foreign key forbids.
      await db.raw('alter table node_records drop column version');
    },
  },
  nodeQualityMigration,
  nodeQualityKeysMigration,
  atRestKeysMigration('node', '040_node_at_rest_keys'),
  {
    // What each receipt says the hub took (accepted, versioned, withdrawn record ids), kept in clear
    // beside the sealed receipt: a batch rebuilt after its outbox rows were pruned
    // (exchange/resync.ts) must not depend on a key the node may no longer hold.
    name: '041_batch_receipt_items',
    async up(db) {
      await db.schema.alterTable('node_batches', (t) => {
        t.text('receipt_items').nullable();
      });
    },
    async down(db) {
      await db.raw('alter table node_batches drop column receipt_items');
    },
  },
  {
    // The hub's feed mark of each cursor this node applied a distribution page up to
    // (exchange/puller.ts): sent back with the next pull, and searched when the hub's feed diverged.
    name: '042_feed_marks',
    async up(db) {
      await db.schema.createTable('node_feed_marks', (t) => {
        t.bigInteger('cursor').primary();
        t.string('mark', 16).notNullable();
        t.string('at', 30).notNullable();
      });
    },
    async down(db) {
      await db.schema.dropTableIfExists('node_feed_marks');
    },
  },
  {
    // The same for the notice feed (exchange/objections-notices.ts).
    name: '043_notice_marks',
    async up(db) {
      await db.schema.createTable('node_notice_marks', (t) => {
        t.bigInteger('cursor').primary();
        t.string('mark', 16).notNullable();
        t.string('at', 30).notNullable();
      });
    },
    async down(db) {
      await db.schema.dropTableIfExists('node_notice_marks');
    },
  },
  {
    // The time of the last owner's `mark` notice applied per record (objections-service.ts): an
    // older one arriving later (the notice feed read again after a rewind) is not applied.
    name: '044_owner_mark_times',
    async up(db) {
      await db.schema.createTable('node_owner_marks', (t) => {
        t.string('record_id', 36).primary();
        t.string('at', 30).notNullable();
      });
    },
    async down(db) {
      await db.schema.dropTableIfExists('node_owner_marks');
    },
  },
  hubWitnessResetMigration,
];

export const nodeMigrationSource: Knex.MigrationSource<Migration> = {
  // applied in the order of their numbered names, whatever order the list above was written in
  getMigrations: async () => [...MIGRATIONS].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)),
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

/** The node's whole schema, in the order it is migrated: the audit log's tables, then the node's. */
export const NODE_SCHEMA: readonly SchemaPart[] = [
  { part: 'audit', source: auditMigrationSource as Knex.MigrationSource<unknown>, tableName: AUDIT_MIGRATIONS_TABLE },
  { part: 'node', source: nodeMigrationSource as Knex.MigrationSource<unknown>, tableName: NODE_MIGRATIONS_TABLE },
];
