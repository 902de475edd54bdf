/**
 * 030_node_quality (issue 19): every import row the node rejected (node_import_rejections: type,
 * 数据来源单位 USCC, first problem's code and field, time, import id and row number, a hash of the
 * 文书号 — no names or identifiers) and the node's quality counters per (数据来源单位, type, month)
 * (node_quality_agg), added to in each import batch's transaction.
 */
import type { Knex } from 'knex';

/** The counter columns as this migration creates them (protocol/quality-facts.ts QUALITY_COUNTERS at 030). */
const COUNTERS_030 = [
  'submitted', 'accepted', 'rejected', 'uscc_bad', 'missing_required', 'accuracy_fail', 'multi_name',
  'req_filled', 'req_slots', 'opt_filled', 'opt_slots', 'cond_filled', 'cond_slots',
  'timed', 'timely', 'wd_sum', 'untimed', 'dup_within', 'dup_across', 'corrected',
  'batches', 'batches_ok', 'latency_ms_sum',
] as const;

export const nodeQualityMigration = {
  name: '030_node_quality',
  async up(db: Knex) {
    await db.schema.createTable('node_import_rejections', (t) => {
      t.bigIncrements('id').primary();
      t.string('import_id', 36).notNullable();
      t.integer('line').notNullable();
      t.string('type', 16).nullable();
      t.string('source_unit', 20).notNullable();
      t.string('code', 64).notNullable();
      t.string('field', 100).nullable();
      t.string('at', 30).notNullable();
      t.string('month', 7).notNullable();
      t.string('doc_key', 32).nullable();
      t.string('corrected_at', 30).nullable();
      t.index(['month'], 'node_import_rejections_month_idx');
      t.index(['doc_key'], 'node_import_rejections_doc_idx');
    });
    await db.schema.createTable('node_quality_agg', (t) => {
      t.string('node', 6).notNullable();
      t.string('unit', 20).notNullable();
      t.string('type', 16).notNullable();
      t.string('month', 7).notNullable();
      for (const c of COUNTERS_030) t.bigInteger(c).notNullable().defaultTo(0);
      t.primary(['node', 'unit', 'type', 'month'], 'node_quality_agg_pkey');
    });
  },
  async down(db: Knex) {
    await db.schema.dropTableIfExists('node_quality_agg');
    await db.schema.dropTableIfExists('node_import_rejections');
  },
};
