/** The hub's tables sealed at rest (server/at-rest-store.ts, docs/at-rest.md). */
import type { AtRestSide } from '../server/at-rest-store.js';

export const hubRecordContext = (sourceNode: string, id: string): string => `hub_records/${sourceNode}/${id}`;

export const HUB_AT_REST: AtRestSide = {
  prefix: 'hub',
  tables: [{ table: 'hub_records', pk: ['source_node', 'id'], context: (r) => hubRecordContext(String(r.source_node), String(r.id)) }],
};
