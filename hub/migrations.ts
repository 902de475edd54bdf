/**
 * The hub's schema as knex migrations (a migrationSource object: no file globbing), with its own
 * bookkeeping table so hub/, audit/ and a co-located node never collide. Every `up` has a `down`.
 * All state of a hub process lives here (registry, tokens, sequences, replay window, cursors), so
 * several hub processes can share one PostgreSQL.
 */
import { atRestKeysMigration } from '../server/at-rest-store.js';
import type { Knex } from 'knex';
import { createEvidenceTable, dropEvidenceTable } from '../audit/evidence-store.js';
import { noticesMigration } from './objections-migration.js';
import { hubQualityMigration } from './quality-migration.js';
import { hubQualityWindowsMigration } from './quality-windows.js';
import { witnessResetMigration } from './witness-reset-store.js';
import { createAccountTables, dropAccountTables } from '../server/accounts-migration.js';
import { AUDIT_MIGRATIONS_TABLE, auditMigrationSource } from '../audit/schema.js';
import type { SchemaPart } from '../audit/migration-plan.js';

interface Migration {
  name: string;
  up(db: Knex): Promise<void>;
  down(db: Knex): Promise<void>;
}

const TABLES = ['hub_rate_limits', 'hub_catalogs', 'hub_settings', 'hub_witness', 'hub_distributions', 'hub_records', 'hub_envelopes', 'hub_streams', 'hub_tokens', 'hub_certs', 'hub_nodes'];

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
  },  {
    // Issue 16: the signed exchange log — the evidence (header, digest, signature) of every
    // envelope the hub accepts from or sends to a node (audit/evidence-store.ts).
    name: '007_exchange_evidence',
    up: (db) => createEvidenceTable(db, 'hub_exchange_evidence'),
    down: (db) => dropEvidenceTable(db, 'hub_exchange_evidence'),
  },
  {
    // Issue 14 item 7: the province supplementary catalog (地方补充目录), one row per published
    // serial; the highest is the one the hub serves and checks batches against.
    name: '004_hub_catalogs',
    async up(db) {
      await db.schema.createTable('hub_catalogs', (t) => {
        t.integer('serial').primary();
        t.string('digest', 64).notNullable();
        t.string('published_at', 30).notNullable();
        t.text('document').notNullable();
      });
    },
    async down(db) {
      await db.schema.dropTableIfExists('hub_catalogs');
    },
  },
  {
    // Issue 14 (catalog 2027.1): each record keeps the catalog version it was validated against,
    // so the feed and query answers hand a 2026.1 record on as 2026.1. Every row stored before this
    // migration was written under 2026.1, the column's default; new rows always name their version.
    name: '010_hub_records_catalog_version',
    async up(db) {
      await db.schema.alterTable('hub_records', (t) => {
        t.string('catalog_version', 16).notNullable().defaultTo('2026.1');
      });
    },
    async down(db) {
      // Plain ALTER TABLE … DROP COLUMN (SQLite ≥ 3.35, PostgreSQL): knex's SQLite emulation would
      // copy and drop the table, which the outbox's foreign key forbids.
      await db.raw('alter table hub_records drop column catalog_version');
    },
  },
  // Issue 15 item 5 (objections across the province): hub/objections-migration.ts
  noticesMigration,
  {
    // Issue 15: corrections are versions of a record. The hub keeps the version number of its
    // copy (a batch's `versions` item must be above it) and serves it with the record.
    name: '005_records_version',
    async up(db) {
      await db.schema.alterTable('hub_records', (t) => {
        t.integer('version').notNullable().defaultTo(1);
      });
    },
    async down(db) {
      // Plain ALTER TABLE … DROP COLUMN (SQLite ≥ 3.35, PostgreSQL): knex's SQLite emulation would
      // copy and drop the table, which the outbox's foreign key forbids.
      await db.raw('alter table hub_records drop column version');
    },
  },
  {
    // Issue 17 item 9: retention picks hub_envelopes rows by the time they were processed.
    name: '013_hub_envelopes_received_idx',
    async up(db) {
      await db.schema.alterTable('hub_envelopes', (t) => {
        t.index(['received_at'], 'hub_envelopes_received_idx');
      });
    },
    async down(db) {
      await db.schema.alterTable('hub_envelopes', (t) => {
        t.dropIndex(['received_at'], 'hub_envelopes_received_idx');
      });
    },
  },
  {
    // Issue 17 item 8: the cursor each node last pulled its feed from, for the per-node feed lag in /metrics.
    name: '013_hub_feed_cursors',
    async up(db) {
      await db.schema.createTable('hub_feed_cursors', (t) => {
        t.string('node_id', 6).primary();
        t.bigInteger('cursor').notNullable();
        t.string('pulled_at', 30).notNullable();
      });
    },
    async down(db) {
      await db.schema.dropTableIfExists('hub_feed_cursors');
    },
  },
  {
    // issue 22: the request rate limit shared by every hub process on one PostgreSQL (hub/rate-limit-store.ts)
    name: '034_hub_rate_limits',
    async up(db) {
      await db.schema.createTable('hub_rate_limits', (t) => {
        t.string('key', 200).primary();
        t.bigInteger('window_start').notNullable();
        t.integer('count').notNullable();
      });
    },
    async down(db) {
      await db.schema.dropTableIfExists('hub_rate_limits');
    },
  },
  hubQualityMigration,
  hubQualityWindowsMigration,
  // Issue 17: operator-armed witness reset after a node restore (hub/witness-reset-store.ts)
  witnessResetMigration,
  {
    // Issue 18: the hub's operator accounts (hub_users, hub_sessions, hub_login_failures,
    // hub_login_locks), the shape the node's accounts have (server/accounts-migration.ts).
    name: '033_hub_accounts',
    up: (db) => createAccountTables(db, 'hub'),
    down: (db) => dropAccountTables(db, 'hub'),
  },
  atRestKeysMigration('hub', '040_hub_at_rest_keys'),
];

export const hubMigrationSource: Knex.MigrationSource<Migration> = {
  // applied in the order of their numbered names, whatever order the list above was written in
  getMigrations: async () => [...MIGRATIONS].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)),
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

/** The hub's whole schema, in the order it is migrated: the audit log's tables, then the hub's. */
export const HUB_SCHEMA: readonly SchemaPart[] = [
  { part: 'audit', source: auditMigrationSource as Knex.MigrationSource<unknown>, tableName: AUDIT_MIGRATIONS_TABLE },
  { part: 'hub', source: hubMigrationSource as Knex.MigrationSource<unknown>, tableName: HUB_MIGRATIONS_TABLE },
];
