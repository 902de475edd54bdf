/** Protocol 1.1 (issue 15): the `versions` batch item, as docs/protocol.md shows it, against the wire schema. */
import { readFileSync } from 'node:fs';
import t from 'tap';
import { BATCH_SCHEMA } from '../../protocol/exchange.js';
import { checkSchema } from '../../protocol/schema-check.js';
import { PROTOCOL_VERSION } from '../../protocol/version.js';

const doc = readFileSync(new URL('../../docs/protocol.md', import.meta.url), 'utf8');
const example = JSON.parse(/```json\n(\{ "records": \[\], "withdrawals": \[\],[^`]*)```/.exec(doc)![1]!) as { versions: Record<string, unknown>[] };

t.test('the documented versions example is a valid 1.1 batch', async (t) => {
  t.not(PROTOCOL_VERSION, '1.0', 'versions came with a minor above 1.0');
  t.same(checkSchema(BATCH_SCHEMA, example), []);
  t.same(checkSchema(BATCH_SCHEMA, { records: [], withdrawals: [] }), [], 'versions is optional: a 1.0 batch is still valid');
});

t.test('a version must be 2 or more, say its status and when', async (t) => {
  const v = example.versions[0]!;
  t.ok(checkSchema(BATCH_SCHEMA, { ...example, versions: [{ ...v, version: 1 }] }).length > 0, 'version 1 is not a correction');
  t.ok(checkSchema(BATCH_SCHEMA, { ...example, versions: [{ ...v, status: 'deleted' }] }).length > 0, 'status is active or withdrawn');
  const { at: _at, ...noAt } = v;
  t.ok(checkSchema(BATCH_SCHEMA, { ...example, versions: [noAt] }).length > 0, 'at is required');
});
