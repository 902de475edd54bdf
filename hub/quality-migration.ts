/**
 * 030_hub_quality (issue 19): the items the hub refused (hub_rejections: no personal data — type,
 * 数据来源单位 USCC, code, field, time, the record's wire id and a hash of its 文书号), the quality
 * counters per (node, 数据来源单位, type, month) added to in each batch's transaction
 * (hub_quality_agg), and the two small indexes the duplicate and one-USCC-several-names checks
 * look in (hashes only).
 */
import type { Knex } from 'knex';

/** The counter columns as this migration creates them (protocol/quality-facts.ts QUALITY_COUNTERS at 030). */
export const COUNTERS_030 = [
  'submitted', 'accepted', 'rejected', 'uscc_bad', 'missing_required', 'accuracy_fail', 'multi_name',
  'req_filled', 'req_slots', 'opt_filled', 'opt_slots', 'cond_filled', 'cond_slots',
  'timed', 'timely', 'wd_sum', 'untimed', 'dup_within', 'dup_across', 'corrected',
  'batches', 'batches_ok', 'latency_ms_sum',
] as const;

export const hubQualityMigration = {
  name: '030_hub_quality',
  async up(db: Knex) {
    await db.schema.createTable('hub_rejections', (t) => {
      t.bigIncrements('id').primary();
      t.string('source_node', 6).notNullable();
      t.string('batch_id', 64).notNullable();
      t.string('record_id', 64).notNullable();
      t.string('type', 16).nullable();
      t.string('source_unit', 20).notNullable();
      t.string('code', 64).notNullable();
      t.string('field', 100).nullable();
      t.string('at', 30).notNullable();
      t.string('month', 7).notNullable();
      t.string('doc_key', 32).nullable();
      t.string('corrected_at', 30).nullable();
      t.index(['month'], 'hub_rejections_month_idx');
      t.index(['source_node', 'doc_key'], 'hub_rejections_doc_idx');
    });
    await db.schema.createTable('hub_quality_agg', (t) => {
      t.string('node', 6).notNullable();
      t.string('unit', 20).notNullable();
      t.string('type', 16).notNullable();
      t.string('month', 7).notNullable();
      for (const c of COUNTERS_030) t.bigInteger(c).notNullable().defaultTo(0);
      t.primary(['node', 'unit', 'type', 'month'], 'hub_quality_agg_pkey');
      t.index(['month'], 'hub_quality_agg_month_idx');
    });
    await db.schema.createTable('hub_quality_doc_keys', (t) => {
      t.string('doc_key', 32).notNullable();
      t.string('source_node', 6).notNullable();
      t.string('record_id', 64).notNullable();
      t.primary(['doc_key', 'source_node', 'record_id'], 'hub_quality_doc_keys_pkey');
    });
    await db.schema.createTable('hub_quality_names', (t) => {
      t.string('uscc', 18).notNullable();
      t.string('name_key', 32).notNullable();
      t.primary(['uscc', 'name_key'], 'hub_quality_names_pkey');
    });
  },
  async down(db: Knex) {
    await db.schema.dropTableIfExists('hub_quality_names');
    await db.schema.dropTableIfExists('hub_quality_doc_keys');
    await db.schema.dropTableIfExists('hub_quality_agg');
    await db.schema.dropTableIfExists('hub_rejections');
  },
};
