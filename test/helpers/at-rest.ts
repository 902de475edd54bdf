/** The fields of a record row as stored (sealed at rest, docs/at-rest.md), opened with the store's attached key. */
import type { Knex } from 'knex';
import { hubRecordContext } from '../../hub/at-rest.js';
import { recordContext } from '../../node/at-rest.js';
import { openRecord, sealRecord } from '../../server/at-rest-store.js';

/** A node_records row (needs `id` and `fields`). */
export function nodeFields(db: Knex, row: { id: string; fields: string }): Record<string, unknown> {
  return openRecord(db, recordContext(row.id), row).fields;
}

/** A hub_records row (needs `source_node`, `id` and `fields`). */
export function hubFields(db: Knex, row: { source_node: string; id: string; fields: string }): Record<string, unknown> {
  return openRecord(db, hubRecordContext(row.source_node, row.id), row).fields;
}

/** The columns to write for a node_records row whose fields a test changes behind the node's back (re-sealed). */
export function nodeFieldsChanged(db: Knex, row: { id: string; fields: string; subject?: string; extra?: string | null }, change: Record<string, unknown>): { subject: string; fields: string; extra: string | null } {
  const open = openRecord(db, recordContext(row.id), row);
  return sealRecord(db, recordContext(row.id), { ...open, fields: { ...open.fields, ...change } });
}

/** The same for a hub_records row. */
export function hubFieldsChanged(db: Knex, row: { source_node: string; id: string; fields: string; subject?: string }, change: Record<string, unknown>): { subject: string; fields: string } {
  const open = openRecord(db, hubRecordContext(row.source_node, row.id), row);
  const s = sealRecord(db, hubRecordContext(row.source_node, row.id), { subject: open.subject, fields: { ...open.fields, ...change } });
  return { subject: s.subject, fields: s.fields };
}

