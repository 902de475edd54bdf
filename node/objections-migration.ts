/**
 * Migration 008 (issue 15 items 5 and 6): objections across the province and credit repair.
 * - node_objections gains the owner and filing nodes and the decision deadline (existing rows are
 *   local objections: owner = the record's source node; filing node left null = this node).
 * - node_notices_out: notices (protocol/notices.ts) queued in the transaction of the change that
 *   caused them, sent to the hub by the notices loop (node/exchange/objections-notices.ts).
 * - node_repairs: credit repair applications (信用修复申请) and their decisions, kept for good.
 */
import type { Knex } from 'knex';

export const objectionsMigration = {
  name: '008_objections_repairs',
  async up(db: Knex): Promise<void> {
    await db.schema.alterTable('node_objections', (t) => {
      t.string('owner_node', 6).nullable();
      t.string('filed_node', 6).nullable();
      t.string('due_date', 10).nullable();
      t.index(['status', 'due_date'], 'node_objections_due_idx');
    });
    const rows = (await db('node_objections').select('node_objections.id', 'node_records.source_node').join('node_records', 'node_records.id', 'node_objections.record_id')) as { id: string; source_node: string }[];
    for (const r of rows) await db('node_objections').where({ id: r.id }).update({ owner_node: r.source_node });
    await db.schema.createTable('node_notices_out', (t) => {
      t.bigIncrements('n').primary();
      t.string('envelope_id', 36).notNullable().unique('node_notices_out_envelope_uq');
      t.text('notice').notNullable();
      t.string('created_at', 30).notNullable();
      t.string('sent_at', 30).nullable();
      t.integer('attempts').notNullable().defaultTo(0);
      t.string('last_error', 200).nullable();
      t.index(['sent_at', 'n'], 'node_notices_out_pending_idx');
    });
    await db.schema.createTable('node_repairs', (t) => {
      t.string('id', 36).primary();
      t.string('record_id', 36).notNullable().references('id').inTable('node_records').index('node_repairs_record_idx');
      t.string('status', 16).notNullable().defaultTo('pending');
      t.string('origin', 16).notNullable(); // application | upstream
      t.text('evidence').notNullable(); // JSON array of references
      t.text('commitment').nullable(); // 信用承诺 text
      t.string('applied_by', 128).notNullable();
      t.string('applied_at', 30).notNullable();
      t.string('due_date', 10).nullable();
      t.string('decided_by', 128).nullable();
      t.string('decided_at', 30).nullable();
      t.text('reason').nullable();
      t.string('upstream', 200).nullable(); // who decided upstream (department, 信用中国) and their reference
      t.index(['status', 'due_date'], 'node_repairs_due_idx');
    });
  },
  async down(db: Knex): Promise<void> {
    await db.schema.dropTableIfExists('node_repairs');
    await db.schema.dropTableIfExists('node_notices_out');
    await db.schema.alterTable('node_objections', (t) => {
      t.dropIndex(['status', 'due_date'], 'node_objections_due_idx');
      t.dropColumn('due_date');
      t.dropColumn('filed_node');
      t.dropColumn('owner_node');
    });
  },
};
