/**
 * Property-based fuzzing of the hub's envelope routes over real mutual TLS (fast-check):
 *   1. random bodies (JSON values, text, 100k-deep nesting) → 4xx with an envelope code;
 *   2. mutated real envelopes — one field flipped, retyped, swapped, deleted, or a field added —
 *      → 4xx with an envelope code (a change anywhere breaks the signature or the shape);
 *   3. hostile payloads sealed by an enrolled node (a modified sealer: any bytes, lone surrogates,
 *      NUL, huge numbers, deep nesting, wrong types anywhere) → a receipt / answer, or 4xx with
 *      its code; afterwards the distribution feed and queries still answer (nothing poisoned).
 * Never a 500, the status is the documented one for the code, and /healthz answers after.
 * `npm test`: a few hundred cases; CREDIT_FAULTS=long: thousands, on both engines.
 */
import t, { type Test } from 'tap';
import fc from 'fast-check';
import { HUB_HTTP_STATUS } from '../../hub/http-errors.js';
import type { DistributionPayload, QueryAnswerPayload, ReceiptPayload } from '../../protocol/exchange.js';
import { engines, sqliteEngine } from '../helpers/db.js';
import { hubFixture, wire, type HubFixture, type TestNode } from '../hub/fixture.js';
import { mutate, mutation, report, tally } from './hostile-fuzz.js';
import { DOCUMENTED_CODES, LONG, nested, runs, sealRaw } from './hostile-support.js';

const ROUTES = ['/v1/batches', '/v1/queries', '/v1/checkpoints'] as const;
const ENVELOPE_CODES = new Set([
  'ERR_ENVELOPE_MALFORMED', 'ERR_SIGNATURE_INVALID', 'ERR_PROTOCOL_VERSION', 'ERR_UNKNOWN_SUITE', 'ERR_SENDER_MISMATCH',
  'ERR_WRONG_RECIPIENT', 'ERR_ENVELOPE_TYPE', 'ERR_DECRYPT_FAILED', 'ERR_CERT_UNTRUSTED', 'ERR_CERT_EXPIRED',
]);

/** A reply is acceptable: 4xx, a documented code in `allowed`, and the status that code is documented with. */
function refusedWell(r: { status: number; json: { code?: string } }, allowed: ReadonlySet<string>): boolean {
  const code = typeof r.json === 'object' && r.json !== null ? r.json.code : undefined;
  return r.status >= 400 && r.status < 500 && code !== undefined && allowed.has(code) && DOCUMENTED_CODES.has(code) && HUB_HTTP_STATUS[code] === r.status;
}

async function alive(t: Test, f: HubFixture, node: TestNode): Promise<void> {
  t.equal((await f.call(f.anonymous, 'GET', '/healthz')).status, 200, '/healthz answers afterwards');
  t.equal((await f.call(node.agent, 'GET', '/v1/checkpoints/latest')).status, 200, 'an mTLS route answers afterwards');
}

// The long run (CREDIT_FAULTS=long) needs more than the per-file timeout of .taprc on a busy machine.
if (LONG) t.setTimeout(45 * 60_000);

t.test('random bodies and mutated envelopes: 4xx with an envelope code, never a 500', async (t) => {
  const f = await hubFixture(t);
  const cs = await f.enrol('430100', 3);
  const uscc = String(wire('XK').fields.uscc);
  const pool = [
    await f.sealFrom(cs, 'batch', { records: [wire('XK'), wire('CF')], withdrawals: [] }, { seq: 1 }),
    await f.sealFrom(cs, 'query', { subject: uscc, actor: 'user:a', clearance: 'public' }),
    await f.sealFrom(cs, 'checkpoint', { checkpoint: { treeSize: 1, rootHash: 'a'.repeat(64), time: new Date().toISOString(), nodeId: '430100', signature: 'c2ln', signerFingerprint: 'b'.repeat(64) }, signerCertPem: cs.certPem }),
  ];
  const seen = tally();
  const body = fc.oneof(fc.jsonValue().map((v) => JSON.stringify(v)), fc.string({ unit: 'binary', maxLength: 200 }), fc.constantFrom(nested(100_000), nested(100_000, 'object'), '', '{', 'null', '{"v":"1.0"'));
  await fc.assert(
    fc.asyncProperty(fc.constantFrom(...ROUTES), body, async (route, text) => {
      const r = await f.call(cs.agent, 'POST', route, text, { 'content-type': 'application/json' });
      seen.add(r.status, r.json?.code);
      return report(t, refusedWell(r, ENVELOPE_CODES), r);
    }),
    { numRuns: runs(150, 3000) },
  );
  t.pass(`random bodies: ${seen.text()}`);

  const mutated = tally();
  await fc.assert(
    fc.asyncProperty(fc.nat({ max: pool.length - 1 }), fc.constantFrom(...ROUTES), mutation, async (i, route, m) => {
      const text = mutate(pool[i], m);
      fc.pre(text !== JSON.stringify(pool[i]));
      const r = await f.call(cs.agent, 'POST', route, text, { 'content-type': 'application/json' });
      mutated.add(r.status, r.json?.code);
      return report(t, refusedWell(r, ENVELOPE_CODES), r);
    }),
    { numRuns: runs(300, 5000) },
  );
  t.pass(`mutated envelopes: ${mutated.text()}`);
  t.equal(await f.hub.app.hubCtx.db('hub_records').count({ n: '*' }).first().then((x) => Number(x?.n)), 0, 'no mutated batch stored anything');
  await alive(t, f, cs);
});

for (const engine of LONG ? await engines() : [sqliteEngine]) {
  t.test(`hostile payloads sealed by an enrolled node (${engine.name}): receipt, answer or 4xx; nothing poisoned`, async (t) => {
    const f = await hubFixture(t, { engine });
    const cs = await f.enrol('430100', 3);
    const reader = await f.enrol('430700', 2);
    const good = wire('CF');
    const uscc = String(good.fields.uscc);
    const bases = {
      batch: { records: [good, wire('XK'), wire('SXBZX')], withdrawals: [{ id: good.id, reason: 'repair', at: new Date().toISOString() }] },
      query: { subject: uscc, actor: 'user:a', purpose: '行政审批 2026-1', clearance: 'restricted' },
      checkpoint: { checkpoint: { treeSize: 2, rootHash: 'a'.repeat(64), time: new Date().toISOString(), nodeId: '430100', signature: 'c2ln', signerFingerprint: 'b'.repeat(64) }, signerCertPem: cs.certPem, proof: { from: 1, fromRoot: 'c'.repeat(64), proof: [] } },
    } as const;
    const allowed = {
      batch: new Set(['ERR_ENVELOPE_MALFORMED', 'ERR_CLASSIFICATION_DENIED']),
      query: new Set(['ERR_ENVELOPE_MALFORMED']),
      checkpoint: new Set(['ERR_ENVELOPE_MALFORMED', 'ERR_AUDIT_CHECKPOINT_SIGNATURE', 'ERR_AUDIT_UNTRUSTED_SIGNER', 'ERR_AUDIT_INCONSISTENT']),
    };
    const path = { batch: '/v1/batches', query: '/v1/queries', checkpoint: '/v1/checkpoints' } as const;
    const seen = tally();
    const rejectedCodes = new Set<string>();
    let stored = 0;
    const plaintext = fc.oneof(
      { weight: 8, arbitrary: mutation.map((m) => (base: unknown) => mutate(base, m)) },
      { weight: 1, arbitrary: fc.oneof(fc.string({ unit: 'binary', maxLength: 100 }), fc.constantFrom(nested(100_000), nested(300, 'object'), '{"records":[],"withdrawals":[],"x":1e999}', '{"records":[],"records":[],"withdrawals":[]}')).map((s) => () => s) },
      { weight: 1, arbitrary: fc.uint8Array({ maxLength: 64 }).map((b) => () => Buffer.from(b)) },
    );
    await fc.assert(
      fc.asyncProperty(fc.constantFrom('batch', 'query', 'checkpoint') as fc.Arbitrary<keyof typeof bases>, plaintext, async (type, make) => {
        const env = await sealRaw({ type, from: cs, recipientCertPem: f.hubCertPem, seq: type === 'batch' ? cs.seq : 1, plaintext: make(bases[type]) });
        const r = await f.call(cs.agent, 'POST', path[type], env);
        seen.add(r.status, r.json?.code);
        if (type === 'batch' && (r.status === 200 || r.json?.details?.receipt)) cs.seq++;
        if (r.status !== 200) return report(t, refusedWell(r, allowed[type]), r);
        if (type === 'checkpoint') return false; // never a cosignature for a made-up checkpoint
        if (type === 'query') return (await f.openAs<QueryAnswerPayload>(cs, r.json)).header.type === 'query-answer';
        const receipt = (await f.openAs<ReceiptPayload>(cs, r.json)).payload;
        stored += receipt.accepted.length;
        for (const x of receipt.rejected) rejectedCodes.add(x.code);
        return receipt.rejected.every((x) => DOCUMENTED_CODES.has(x.code) && x.message.length > 0);
      }),
      { numRuns: runs(200, 3000) },
    );
    t.pass(`sealed hostile payloads: ${seen.text()}; in receipts rejected as ${[...rejectedCodes].sort().join(', ')}; ${stored} records stored`);
    // Whatever was stored can still be distributed and answered (sealing it must not fail).
    let after = 0;
    for (let more = true; more; ) {
      const r = await f.call(reader.agent, 'GET', `/v1/distributions?after=${after}&limit=500`);
      t.equal(r.status, 200, `the distribution feed answers after cursor ${after}`);
      if (r.status !== 200) break;
      const p = (await f.openAs<DistributionPayload>(reader, r.json)).payload;
      ({ next: after, more } = p);
    }
    const q = await f.call(reader.agent, 'POST', '/v1/queries', await f.sealFrom(reader, 'query', { subject: uscc, actor: 'user:b', clearance: 'shared' }));
    t.equal(q.status, 200, 'a province query over the fuzzed subject answers');
    await alive(t, f, cs);
  });
}
