/**
 * 031_node_quality_keys (issue 19): the node's own duplicate and one-USCC-several-names checks, as
 * the hub makes them (hub/quality-migration.ts): the 文书号 key of every record this node created
 * by import (a SHA-256 prefix of type + normalised 文书号 + authority) and the name keys held under
 * each organisation's USCC (SHA-256 prefixes; no names). Filled from this version on.
 */
import type { Knex } from 'knex';

export const nodeQualityKeysMigration = {
  name: '031_node_quality_keys',
  async up(db: Knex) {
    await db.schema.createTable('node_quality_doc_keys', (t) => {
      t.string('doc_key', 32).notNullable();
      t.string('record_id', 36).notNullable();
      t.primary(['doc_key', 'record_id'], 'node_quality_doc_keys_pkey');
    });
    await db.schema.createTable('node_quality_names', (t) => {
      t.string('uscc', 18).notNullable();
      t.string('name_key', 32).notNullable();
      t.primary(['uscc', 'name_key'], 'node_quality_names_pkey');
    });
  },
  async down(db: Knex) {
    await db.schema.dropTableIfExists('node_quality_names');
    await db.schema.dropTableIfExists('node_quality_doc_keys');
  },
};
