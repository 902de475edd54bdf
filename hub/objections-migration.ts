/**
 * Hub migration 006 (issue 15 item 5): hub_notices, the notices (protocol/notices.ts) routed
 * between nodes — one row per recipient, served in cursor order by GET /v1/notices — and
 * hub_disputes, each record's disputed mark as its owner last sent it.
 */
import type { Knex } from 'knex';

export const noticesMigration = {
  name: '006_hub_notices',
  async up(db: Knex): Promise<void> {
    await db.schema.createTable('hub_notices', (t) => {
      t.bigIncrements('cursor').primary();
      t.string('to_node', 6).notNullable();
      t.string('from_node', 6).notNullable();
      t.string('notice_id', 36).notNullable();
      t.string('kind', 20).notNullable();
      t.string('objection_id', 36).nullable();
      t.string('owner', 6).notNullable();
      t.string('record_id', 36).notNullable();
      t.text('notice').notNullable();
      t.string('created_at', 30).notNullable();
      t.index(['to_node', 'cursor'], 'hub_notices_to_idx');
      t.index(['objection_id'], 'hub_notices_objection_idx');
    });
    // The disputed mark of each record, as its owner last sent it: query answers carry it.
    await db.schema.createTable('hub_disputes', (t) => {
      t.string('source_node', 6).notNullable();
      t.string('record_id', 36).notNullable();
      t.boolean('disputed').notNullable();
      t.string('at', 30).notNullable();
      t.primary(['source_node', 'record_id']);
    });
  },
  async down(db: Knex): Promise<void> {
    await db.schema.dropTableIfExists('hub_disputes');
    await db.schema.dropTableIfExists('hub_notices');
  },
};
