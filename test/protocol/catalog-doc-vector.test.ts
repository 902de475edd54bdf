/** docs/catalog.md's province catalog test vector, checked against the code (STYLE.md 11). */
import t from 'tap';
import { readFileSync } from 'node:fs';
import { canonicalize } from '../../protocol/canonical-json.js';
import { assertCatalogBody } from '../../protocol/catalog-document.js';
import { catalogDigest } from '../../protocol/catalog-signature.js';
import { RECORD_TYPES_BY_CODE } from '../../protocol/catalog-types.js';

const doc = readFileSync(new URL('../../docs/catalog.md', import.meta.url), 'utf8');
const section = doc.slice(doc.indexOf('### Test vector'));

t.test('the test vector in docs/catalog.md matches the code', async (t) => {
  const json = /```json\n([\s\S]*?)```/.exec(section)![1]!;
  const canonical = /```text\n([\s\S]*?)\n```/.exec(section)![1]!;
  const digest = /SHA-256 of the payload[^`]*`([0-9a-f]{64})`/.exec(section)![1]!;
  const prefix = /The signing input begins `([A-Za-z0-9_.-]+)…`/.exec(section)![1]!;
  const body = assertCatalogBody(JSON.parse(json), new Set(RECORD_TYPES_BY_CODE.keys()));
  t.equal(canonicalize(body), canonical);
  t.equal(catalogDigest(body), digest);
  const input = `${Buffer.from('{"alg":"PS256"}').toString('base64url')}.${Buffer.from(canonical, 'utf8').toString('base64url')}`;
  t.ok(input.startsWith(prefix), 'signing input prefix');
});
