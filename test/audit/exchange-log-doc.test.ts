/**
 * docs/exchange-log.md against the code: the head line it shows is canonical JSON that the reader
 * accepts, the envelope line lists exactly the members the reader requires, and the error codes it
 * names are the declared ones.
 */
import t from 'tap';
import { readFileSync } from 'node:fs';
import { readExchangeLog } from '../../audit/evidence-log.js';
import { EVIDENCE_ERRORS } from '../../audit/evidence-errors.js';
import { canonicalize } from '../../protocol/canonical-json.js';

const doc = readFileSync(new URL('../../docs/exchange-log.md', import.meta.url), 'utf8');
const blocks = [...doc.matchAll(/```json\n([\s\S]*?)```/g)].map((m) => m[1]!.trim());

t.test('the head line example is canonical and read as a head', async (t) => {
  const head = blocks.find((b) => b.includes('"kind":"head"'))!;
  t.ok(head, 'the document shows a head line');
  t.equal(canonicalize(JSON.parse(head)), head, 'written as JCS');
  const declared = (JSON.parse(head) as { envelopes: number }).envelopes;
  const { log, problems } = readExchangeLog(head + '\n');
  t.ok(log, 'accepted as a head');
  t.same(problems.map((p) => p.message), [`line 1: the head declares ${declared} envelope line(s), the file has 0`], 'only the count is missing');
});

t.test('the envelope line example has exactly the members the reader requires', async (t) => {
  const line = blocks.find((b) => b.includes('"kind":"envelope"'))!;
  const members = [...line.matchAll(/(?:^\{|,)"(digest|direction|header|kind|recordedAt|sig)":/g)].map((m) => m[1]);
  t.same(members, ['digest', 'direction', 'header', 'kind', 'recordedAt', 'sig'], 'in JCS order');
});

t.test('every code the document names is declared', async (t) => {
  const named = new Set([...doc.matchAll(/`(ERR_(?:EXCHANGE|EVIDENCE)_[A-Z_]+)`/g)].map((m) => m[1]!));
  for (const c of named) t.ok(Object.hasOwn(EVIDENCE_ERRORS, c), c);
  for (const c of Object.keys(EVIDENCE_ERRORS)) if (c !== 'ERR_EVIDENCE_NOT_FOUND') t.ok(named.has(c), `${c} is described`);
});
