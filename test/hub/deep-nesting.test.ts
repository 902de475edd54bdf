/**
 * A sealed envelope with a deeply nested extra member (found by test/faults/hostile-envelopes.test.ts,
 * seed 2058607587: a 256-deep array under the key "") is refused with an envelope code on every
 * envelope route, never answered 500: at 256 and 257 the envelope passed its own depth check but the
 * signed text (two levels deeper) could not be canonicalised, and ERR_CANONICAL_JSON escaped as 500.
 */
import t from 'tap';
import { hubFixture, wire } from './fixture.js';

t.test('arrays 254–300 deep beside the envelope members: 400 ERR_ENVELOPE_MALFORMED, not 500', async (t) => {
  const f = await hubFixture(t);
  const cs = await f.enrol('430100', 3);
  const env = (await f.sealFrom(cs, 'batch', { records: [wire('XK')], withdrawals: [] }, { seq: 1 })) as Record<string, unknown>;
  const nest = (depth: number) => {
    let deep: unknown = [];
    for (let i = 1; i < depth; i++) deep = [deep];
    return deep;
  };
  for (const depth of [254, 255, 256, 257, 258, 300]) {
    for (const route of ['/v1/batches', '/v1/queries', '/v1/checkpoints', '/v1/notices'] as const) {
      for (const key of ['', 'x']) {
        const body = JSON.stringify({ ...env, [key]: nest(depth) });
        const r = await f.call(cs.agent, 'POST', route, body, { 'content-type': 'application/json' });
        // up to 255 the envelope is well formed and its signature (over other members) fails; deeper, it cannot be signed at all
        const want = depth <= 255 ? [401, 'ERR_SIGNATURE_INVALID'] : [400, 'ERR_ENVELOPE_MALFORMED'];
        t.same([r.status, r.json?.code], want, `${route}, member "${key}", ${depth} deep`);
      }
    }
  }
});
