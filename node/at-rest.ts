/** The node's tables sealed at rest (server/at-rest-store.ts, docs/at-rest.md). */
import type { AtRestSide } from '../server/at-rest-store.js';

export const recordContext = (id: string): string => `node_records/${id}`;
export const versionContext = (recordId: string, version: number): string => `node_record_versions/${recordId}/${version}`;

export const NODE_AT_REST: AtRestSide = {
  prefix: 'node',
  tables: [
    { table: 'node_records', pk: ['id'], context: (r) => recordContext(String(r.id)) },
    { table: 'node_record_versions', pk: ['record_id', 'version'], context: (r) => versionContext(String(r.record_id), Number(r.version)) },
  ],
};
