/** Protocol 1.2: the seq-refusal payload (protocol/exchange.ts isSeqRefusalPayload), as docs/protocol.md shows it, and its bounds. */
import { readFileSync } from 'node:fs';
import t from 'tap';
import { ENVELOPE_TYPES } from '../../protocol/envelope.js';
import { isSeqRefusalPayload, PAYLOAD_SCHEMAS, type SeqRefusalPayload } from '../../protocol/exchange.js';
import { checkSchema } from '../../protocol/schema-check.js';

const doc = readFileSync(new URL('../../docs/protocol.md', import.meta.url), 'utf8');
const example = JSON.parse(/with the payload `(\{"batchId"[^`]*\})`/.exec(doc)![1]!) as SeqRefusalPayload;

t.test('the documented payload is a seq refusal, and seq-refusal an envelope type with its integers', async (t) => {
  t.ok(isSeqRefusalPayload(example));
  t.ok(ENVELOPE_TYPES.includes('seq-refusal'));
  t.same(checkSchema(PAYLOAD_SCHEMAS['seq-refusal'], example), []);
  t.ok(checkSchema(PAYLOAD_SCHEMAS['seq-refusal'], { ...example, hubLastSeq: 2.5 }).length > 0, 'hubLastSeq is an integer');
});

t.test('a gap states a last seq below seq − 1, out of order one at or above seq; nothing else', async (t) => {
  const gap = { ...example, seq: 5, hubLastSeq: 2 };
  t.ok(isSeqRefusalPayload(gap));
  t.notOk(isSeqRefusalPayload({ ...gap, hubLastSeq: 4 }), 'a gap at the seq refused itself');
  t.notOk(isSeqRefusalPayload({ ...gap, hubLastSeq: 7 }), 'a gap above the seq refused');
  const ooo = { ...gap, code: 'ERR_OUT_OF_ORDER', hubLastSeq: 5 };
  t.ok(isSeqRefusalPayload(ooo));
  t.notOk(isSeqRefusalPayload({ ...ooo, hubLastSeq: 4 }), 'out of order below the seq refused');
  t.notOk(isSeqRefusalPayload({ ...gap, code: 'ERR_REPLAY' }), 'another code');
  t.notOk(isSeqRefusalPayload({ ...gap, seq: 0, hubLastSeq: 0 }), 'seqs start at 1');
  t.notOk(isSeqRefusalPayload({ ...gap, hubLastSeq: -1 }));
  t.notOk(isSeqRefusalPayload({ ...gap, hubLastSeq: 2.5 }));
  t.notOk(isSeqRefusalPayload({ ...gap, seq: '5' }));
  t.notOk(isSeqRefusalPayload({ ...gap, extra: 1 }), 'exactly its six members');
  const { refusedAt: _r, ...short } = gap;
  t.notOk(isSeqRefusalPayload(short));
  t.notOk(isSeqRefusalPayload([gap]));
  t.notOk(isSeqRefusalPayload(null));
});
