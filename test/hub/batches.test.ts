/**
 * POST /v1/batches over real mutual TLS on both engines: signed receipts, replay with the stored
 * receipt, order/gap/stale, class policy (seq consumed), per-record rejections, records keyed
 * by (source node, id), and envelopes that are signed by another node or addressed elsewhere.
 */
import t from 'tap';
import { hubFields } from '../helpers/at-rest.js';
import { subjectKeys } from '../../server/at-rest-store.js';
import type { ReceiptPayload, SeqRefusalPayload } from '../../protocol/exchange.js';
import { envelopeDigest } from '../../protocol/envelope.js';
import { uuidv7 } from '../../protocol/crypto.js';
import { engines } from '../helpers/db.js';
import { envelopesStore } from '../../hub/envelopes-store.js';
import { SIGNED_PER_HOUR } from '../../hub/seq-refusal.js';
import { buildHalf, packageText } from '../../audit/evidence-package.js';
import { verifyPackage } from '../../audit/evidence-package-verify.js';
import { hubFixture, wire, type HubFixture, type TestNode } from './fixture.js';

async function push(f: HubFixture, node: TestNode, payload: unknown, o: Parameters<HubFixture['sealFrom']>[3] = {}) {
  const env = await f.sealFrom(node, 'batch', payload, o);
  return { env, res: await f.call(node.agent, 'POST', '/v1/batches', env) };
}

for (const engine of await engines()) {
  t.test(`batch intake (${engine.name})`, async (t) => {
    const f = await hubFixture(t, { engine });
    const ctx = f.hub.app.hubCtx;
    const cs = await f.enrol('430100', 3, { name: '长沙市' });
    const cd = await f.enrol('430700', 1, { name: '常德市' });

    t.test('a batch gets a receipt signed by 430000 and sealed to the sender', async (t) => {
      const records = [wire('XK'), wire('CF'), wire('SXBZX')];
      const { env, res } = await push(f, cs, { records, withdrawals: [] });
      t.equal(res.status, 200, String(res.json.code ?? 'ok'));
      t.equal(res.json.type, 'receipt');
      t.equal(res.json.from, '430000');
      t.equal(res.json.to, '430100');
      const opened = await f.openAs<ReceiptPayload>(cs, res.json);
      t.equal(opened.signer.nodeId, '430000', 'signed by the hub certificate');
      t.equal(opened.payload.batchId, env.id);
      t.equal(opened.payload.seq, 1);
      t.equal(opened.payload.outcome, 'accepted');
      t.same(opened.payload.accepted, records.map((r) => r.id));
      t.same(opened.payload.rejected, []);
      const row = await ctx.db('hub_records').where({ id: records[0]!.id }).first();
      t.equal(row.source_node, '430100');
      t.not(row.subject, records[0]!.fields.uscc, 'the subject column holds the blind index, not the code (docs/at-rest.md)');
      t.ok(subjectKeys(ctx.db, String(records[0]!.fields.uscc)).includes(row.subject), 'the blind index of the code');
      const node = await ctx.db('hub_nodes').where({ node_id: '430100' }).first();
      t.equal(Number(node.batches_in), 1);
      t.equal(Number(node.records_in), 3);
    });

    t.test('re-posting a processed batch: 409 ERR_REPLAY with the stored receipt', async (t) => {
      const { env, res } = await push(f, cs, { records: [wire('XK')], withdrawals: [] });
      t.equal(res.status, 200);
      const again = await f.call(cs.agent, 'POST', '/v1/batches', env);
      t.equal(again.status, 409);
      t.equal(again.json.code, 'ERR_REPLAY');
      t.same(again.json.details.receipt, res.json, 'the very receipt of the first answer');
      const resealed = await f.sealFrom(cs, 'batch', { records: [], withdrawals: [] }, { id: env.id, seq: env.seq });
      const r2 = await f.call(cs.agent, 'POST', '/v1/batches', resealed);
      t.equal(r2.json.code, 'ERR_REPLAY', 'the same id with a fresh ts is still a replay');
      t.equal((await f.openAs<ReceiptPayload>(cs, r2.json.details.receipt)).payload.batchId, env.id);
    });

    t.test(`at most ${SIGNED_PER_HOUR} signed seq refusals per node and hour (each costs a signature, evidence and an audit entry); then unsigned, saying why`, async (t) => {
      const node = await f.enrol('430181', 1, { name: '浏阳市' });
      let signed = 0;
      let last: { json: { details: { refusal?: unknown; refusalUnavailable?: string } } } | undefined;
      for (let i = 0; i <= SIGNED_PER_HOUR; i++) {
        last = (await push(f, node, { records: [], withdrawals: [] }, { seq: 5 })).res;
        if (last.json.details.refusal) signed++;
      }
      t.equal(signed, SIGNED_PER_HOUR);
      t.equal(last!.json.details.refusal, undefined);
      t.equal(last!.json.details.refusalUnavailable, 'ERR_RATE_LIMITED');
      t.equal((await ctx.db('audit_log').where({ action: 'batch.seq-refusal', actor_node: '430181' })).length, SIGNED_PER_HOUR);
      const counted = Object.fromEntries((await ctx.metrics.seqRefusals.get()).values.map((v) => [String(v.labels.signed), v.value]));
      t.equal(counted.ERR_RATE_LIMITED, 1, 'the unsigned one counted by why (credit_hub_seq_refusals_total)');
      t.ok((counted.yes ?? 0) >= SIGNED_PER_HOUR, 'the signed ones too');
    });

    t.test('out of order, gap and stale timestamps are refused and consume nothing', async (t) => {
      const old = await push(f, cs, { records: [], withdrawals: [] }, { seq: 1 });
      t.equal(old.res.status, 409);
      t.equal(old.res.json.code, 'ERR_OUT_OF_ORDER');
      t.match(old.res.json.details, { lastSeq: 2, seq: 1 });
      const gap = await push(f, cs, { records: [], withdrawals: [] }, { seq: 9 });
      t.equal(gap.res.status, 409);
      t.equal(gap.res.json.code, 'ERR_SEQUENCE_GAP');
      t.equal(gap.res.json.details.expected, 3);
      // protocol 1.2: both come with the hub's signed refusal of that very attempt, kept on the hub's side too
      for (const [what, r, code, hubLastSeq] of [['out of order', old, 'ERR_OUT_OF_ORDER', 2], ['gap', gap, 'ERR_SEQUENCE_GAP', 2]] as const) {
        const refusal = r.res.json.details.refusal;
        t.equal(refusal?.type, 'seq-refusal', `${what}: signed`);
        const opened = await f.openAs<SeqRefusalPayload>(cs, refusal);
        t.equal(opened.signer.nodeId, '430000');
        t.same(opened.payload, { batchId: r.env.id, digest: envelopeDigest(r.env), seq: r.env.seq, code, hubLastSeq, refusedAt: opened.payload.refusedAt }, `${what}: names the attempt refused`);
        t.match(opened.header, { to: '430100', re: r.env.id, reDigest: envelopeDigest(r.env) });
        const kept = await ctx.db('hub_exchange_evidence').whereIn('envelope_id', [r.env.id, refusal.id]).orderBy('direction');
        t.same(kept.map((k: { type: string; direction: string }) => [k.type, k.direction]), [['batch', 'received'], ['seq-refusal', 'sent']], `${what}: the attempt and the refusal in the hub's exchange log`);
        const audited = await ctx.db('audit_log').where({ action: 'batch.seq-refusal', object: r.env.id });
        t.equal(audited.length, 1, `${what}: audited`);
        t.equal(audited[0].reason, `${code} seq=${r.env.seq} hubLastSeq=${hubLastSeq} digest=${envelopeDigest(r.env)} refusal=${refusal.id} refusalDigest=${envelopeDigest(refusal)}`);
        // the hub's half of the refused batch's evidence package: the attempt, the refusal naming it and the audit entry, proven
        const half = await buildHalf({ role: 'hub', nodeId: '430000', db: ctx.db, table: 'hub_exchange_evidence', signer: { keyPem: ctx.identity.keyPem, certPem: ctx.identity.certPem }, caCertPem: f.caCertPem, crlPem: null }, r.env.id);
        t.same(half.half.exchange.map((x) => x.header.type).sort(), ['batch', 'seq-refusal'], `${what}: the package holds the attempt and the refusal`);
        t.ok(half.half.proofs.some((p) => p.entry.action === 'batch.seq-refusal'), `${what}: and the audit entry naming them, proven`);
        const v = await verifyPackage(packageText(r.env.id, [half]), [f.caCertPem], { oneSide: true });
        t.same(v.problems.filter((p) => p.code !== 'ERR_EVIDENCE_REVOCATION_UNCHECKED').map((p) => p.code), [], `${what}: it verifies (one side)`);
      }
      // an attempt outside the hub's window is refused unsigned, saying why (a node's attempts are sealed fresh)
      const staleGap = await push(f, cs, { records: [], withdrawals: [] }, { seq: 9, ts: new Date(Date.now() - 10 * 60_000).toISOString() });
      t.equal(staleGap.res.json.code, 'ERR_SEQUENCE_GAP');
      t.equal(staleGap.res.json.details.refusal, undefined, 'not signed');
      t.equal(staleGap.res.json.details.refusalUnavailable, 'ERR_STALE_TIMESTAMP');
      const again = await push(f, cs, { records: [], withdrawals: [] }, { seq: 9 });
      t.equal(again.res.json.code, 'ERR_SEQUENCE_GAP');
      const other = await push(f, cs, { records: [], withdrawals: [] }, { seq: 10 });
      t.equal(other.res.json.code, 'ERR_SEQUENCE_GAP');
      const gaps = await f.hub.app.hubCtx.db('audit_log').where({ action: 'batch.gap', actor_node: '430100' });
      t.equal(gaps.length, 1, 'the gap audited once, not once per retry or per other seq posted against it');
      t.match(gaps[0], { actor: 'node:430100', object: 'node:430100 seq=9', outcome: 'failure', reason: 'ERR_SEQUENCE_GAP seq=9 expected=3 hubLastSeq=2' });
      const stale = await push(f, cs, { records: [], withdrawals: [] }, { seq: 3, ts: new Date(Date.now() - 10 * 60_000).toISOString() });
      t.equal(stale.res.status, 400);
      t.equal(stale.res.json.code, 'ERR_STALE_TIMESTAMP');
      const future = await push(f, cs, { records: [], withdrawals: [] }, { seq: 3, ts: new Date(Date.now() + 10 * 60_000).toISOString() });
      t.equal(future.res.json.code, 'ERR_STALE_TIMESTAMP');
      cs.seq = 3;
      const next = await push(f, cs, { records: [], withdrawals: [] });
      t.equal(next.res.status, 200, 'seq 3 is still free');
    });

    t.test('internal records or a class above the grade: 403 ERR_CLASSIFICATION_DENIED, seq consumed', async (t) => {
      const internal = wire('XK', { classification: 'internal' });
      const { env, res } = await push(f, cs, { records: [wire('XK'), internal], withdrawals: [] });
      t.equal(res.status, 403);
      t.equal(res.json.code, 'ERR_CLASSIFICATION_DENIED');
      t.same(res.json.details.records, [internal.id]);
      const refused = await f.openAs<ReceiptPayload>(cs, res.json.details.receipt);
      t.equal(refused.payload.outcome, 'refused');
      t.equal(refused.payload.code, 'ERR_CLASSIFICATION_DENIED');
      t.equal(refused.payload.batchId, env.id);
      t.same(refused.payload.accepted, []);
      t.equal(await ctx.db('hub_records').where({ id: internal.id }).first(), undefined, 'nothing stored');
      const resend = await f.call(cs.agent, 'POST', '/v1/batches', env);
      t.equal(resend.json.code, 'ERR_REPLAY', 'a resend gets the stored refusal');
      t.equal((await f.openAs<ReceiptPayload>(cs, resend.json.details.receipt)).payload.outcome, 'refused');
      const next = await push(f, cs, { records: [wire('XK')], withdrawals: [] });
      t.equal(next.res.status, 200, 'the next seq goes through');

      const shared = await push(f, cd, { records: [wire('SXBZX')], withdrawals: [] });
      t.equal(shared.res.status, 403, 'shared needs grade 2; 430700 is grade 1');
      t.equal(shared.res.json.code, 'ERR_CLASSIFICATION_DENIED');
      const restricted = await push(f, cs, { records: [wire('XK', { classification: 'restricted' })], withdrawals: [] });
      t.equal(restricted.res.status, 200, 'restricted is fine from grade 3');
      const ok = await push(f, cd, { records: [wire('XK')], withdrawals: [] });
      t.equal(ok.res.status, 200, '430700 moves on to seq 2');
      t.equal((await f.openAs<ReceiptPayload>(cd, ok.res.json)).payload.seq, 2);
    });

    t.test('invalid records are listed in receipt.rejected with their codes; the rest is stored', async (t) => {
      const good = wire('CF');
      const badUscc = wire('XK', { fields: { uscc: '91430102000000000X' } });
      const badType = { ...wire('XK'), type: 'NOPE' };
      const lowered = wire('SXBZX', { classification: 'public' });
      const dup = { ...wire('XK'), id: good.id };
      const { res } = await push(f, cs, { records: [good, badUscc, badType, lowered, dup], withdrawals: [] });
      t.equal(res.status, 200);
      const p = (await f.openAs<ReceiptPayload>(cs, res.json)).payload;
      t.same(p.accepted, [good.id]);
      const codes = Object.fromEntries(p.rejected.map((r) => [r.id, r.code]));
      t.equal(codes[badUscc.id], 'ERR_INVALID_USCC');
      t.equal(codes[badType.id], 'ERR_UNKNOWN_RECORD_TYPE');
      t.equal(codes[lowered.id], 'ERR_CLASSIFICATION_LOWERED');
      t.equal(p.rejected.filter((r) => r.id === good.id)[0]?.code, 'ERR_RECORD_CONFLICT', 'a second copy of an id in one batch');
      t.ok(p.rejected.every((r) => r.message.length > 0));
    });

    t.test('records are keyed by (source node, id): another node\'s id is its own record, never the owner\'s', async (t) => {
      const mine = wire('XK');
      t.equal((await push(f, cs, { records: [mine], withdrawals: [] })).res.status, 200);
      const unknown = uuidv7();
      const { res } = await push(f, cd, { records: [], withdrawals: [{ id: mine.id, reason: 'repair', at: new Date().toISOString() }, { id: unknown, reason: 'correction', at: new Date().toISOString() }] });
      const p = (await f.openAs<ReceiptPayload>(cd, res.json)).payload;
      t.same(p.withdrawn, []);
      t.same(p.rejected.map((r) => [r.id, r.code]), [[mine.id, 'ERR_RECORD_UNKNOWN'], [unknown, 'ERR_RECORD_UNKNOWN']], '430700 never published these');
      const same = await push(f, cd, { records: [{ ...wire('XK'), id: mine.id }], withdrawals: [] });
      t.same((await f.openAs<ReceiptPayload>(cd, same.res.json)).payload.accepted, [mine.id], 'the same id from 430700 is 430700\'s own record');
      const rows = await ctx.db('hub_records').where({ id: mine.id }).orderBy('source_node');
      t.same(rows.map((r: { source_node: string; status: string }) => [r.source_node, r.status]), [['430100', 'active'], ['430700', 'active']]);
      t.equal(hubFields(ctx.db, rows[0]).decisionNo, mine.fields.decisionNo, '430100\'s record is unchanged');
      const w = await push(f, cs, { records: [], withdrawals: [{ id: mine.id, reason: 'repair', at: new Date().toISOString() }] });
      t.same((await f.openAs<ReceiptPayload>(cs, w.res.json)).payload.withdrawn, [mine.id]);
      t.equal((await ctx.db('hub_records').where({ id: mine.id, source_node: '430100' }).first()).status, 'withdrawn');
      t.equal((await ctx.db('hub_records').where({ id: mine.id, source_node: '430700' }).first()).status, 'active', 'only the sender\'s record');
    });

    t.test('an envelope signed by 430700 over 430100\'s connection: 403 ERR_SENDER_MISMATCH', async (t) => {
      const env = await f.sealFrom(cd, 'batch', { records: [], withdrawals: [] }, { seq: 50 });
      const r = await f.call(cs.agent, 'POST', '/v1/batches', env);
      t.equal(r.status, 403);
      t.equal(r.json.code, 'ERR_SENDER_MISMATCH');
      t.same(r.json.details, { signer: '430700', peer: '430100' });
    });

    t.test('an envelope addressed to another node: 400 ERR_WRONG_RECIPIENT', async (t) => {
      const env = await f.sealFrom(cs, 'batch', { records: [], withdrawals: [] }, { to: '430700', recipientCertPem: cd.certPem, seq: 50 });
      const r = await f.call(cs.agent, 'POST', '/v1/batches', env);
      t.equal(r.status, 400);
      t.equal(r.json.code, 'ERR_WRONG_RECIPIENT');
    });

    t.test('concurrent posts: the same batch twice, or two batches with one seq — exactly one is applied', async (t) => {
      const env = await f.sealFrom(cd, 'batch', { records: [wire('XK')], withdrawals: [] });
      const both = await Promise.all([f.call(cd.agent, 'POST', '/v1/batches', env), f.call(cd.agent, 'POST', '/v1/batches', env)]);
      t.same(both.map((r) => r.status).sort(), [200, 409]);
      t.equal(both.find((r) => r.status === 409)!.json.code, 'ERR_REPLAY');
      const seq = cd.seq;
      const a = await f.sealFrom(cd, 'batch', { records: [wire('XK')], withdrawals: [] }, { seq });
      const b = await f.sealFrom(cd, 'batch', { records: [wire('XK')], withdrawals: [] }, { seq });
      cd.seq = seq + 1;
      const race = await Promise.all([f.call(cd.agent, 'POST', '/v1/batches', a), f.call(cd.agent, 'POST', '/v1/batches', b)]);
      t.same(race.map((r) => r.status).sort(), [200, 409]);
      t.equal(race.find((r) => r.status === 409)!.json.code, 'ERR_OUT_OF_ORDER');
      const stored = await ctx.db('hub_envelopes').whereIn('id', [a.id, b.id]).select('id');
      t.equal(stored.length, 1, 'one of the two is stored');
    });

    // PostgreSQL (READ COMMITTED) only: SQLite runs one transaction at a time, so the twin cannot commit in between.
    t.test('a resend arriving while its twin is inside its transaction waits for it (the stream lock) and is ERR_REPLAY with the receipt', { skip: engine.name !== 'pg' && 'SQLite transactions do not interleave' }, async (t) => {
      const env = await f.sealFrom(cd, 'batch', { records: [wire('XK')], withdrawals: [] });
      const lastSeq = envelopesStore.lastSeq;
      let twin: ReturnType<typeof f.call> | undefined;
      // The first request, inside its transaction (after the replay check), sends the twin; whenever the
      // twin arrives, it waits for the node's stream lock and so sees the first one committed.
      envelopesStore.lastSeq = async (db, nodeId, stream) => {
        if (!twin) twin = f.call(cd.agent, 'POST', '/v1/batches', env);
        return lastSeq(db, nodeId, stream);
      };
      t.teardown(() => void (envelopesStore.lastSeq = lastSeq));
      const r = await f.call(cd.agent, 'POST', '/v1/batches', env);
      envelopesStore.lastSeq = lastSeq;
      t.equal(r.status, 200, 'the first is applied');
      const tw = await twin!;
      t.equal(tw.status, 409);
      t.equal(tw.json.code, 'ERR_REPLAY', 'the twin, after the first committed: a replay');
      t.ok((tw.json as { details?: { receipt?: unknown } }).details?.receipt, 'answered with the stored receipt');
    });

    t.test('wrong envelope type, malformed envelopes and payloads, media type', async (t) => {
      const q = await f.sealFrom(cs, 'query', { subject: 'x' });
      const r = await f.call(cs.agent, 'POST', '/v1/batches', q);
      t.equal(r.status, 400);
      t.equal(r.json.code, 'ERR_ENVELOPE_TYPE');
      const junk = await f.call(cs.agent, 'POST', '/v1/batches', '{"v":"1.0"');
      t.equal(junk.status, 400);
      t.equal(junk.json.code, 'ERR_ENVELOPE_MALFORMED');
      const text = await f.call(cs.agent, 'POST', '/v1/batches', 'hello', { 'content-type': 'text/plain' });
      t.equal(text.status, 415);
      t.equal(text.json.code, 'ERR_UNSUPPORTED_MEDIA_TYPE');
      const env = await f.sealFrom(cs, 'batch', { records: 'all of them' });
      const bad = await f.call(cs.agent, 'POST', '/v1/batches', env);
      t.equal(bad.status, 400);
      t.equal(bad.json.code, 'ERR_ENVELOPE_MALFORMED');
      t.ok(bad.json.details.problems.some((p: { field: string }) => p.field === 'payload.records'));
      t.equal((await f.openAs<ReceiptPayload>(cs, bad.json.details.receipt)).payload.outcome, 'refused', 'a verified but malformed batch consumes its seq too');
      t.equal((await push(f, cs, { records: [], withdrawals: [] })).res.status, 200);
    });
  });
}

t.test('a body over maxEnvelopeBytes: 413 ERR_BODY_TOO_LARGE', async (t) => {
  const f = await hubFixture(t, { config: { maxEnvelopeBytes: 65_536 } });
  const cs = await f.enrol('430100', 2);
  const records = Array.from({ length: 200 }, () => wire('XK'));
  const env = await f.sealFrom(cs, 'batch', { records, withdrawals: [] });
  const r = await f.call(cs.agent, 'POST', '/v1/batches', env);
  t.equal(r.status, 413);
  t.equal(r.json.code, 'ERR_BODY_TOO_LARGE');
});
