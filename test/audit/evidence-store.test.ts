/**
 * The evidence tables on both engines (node 009_ / hub 007_ migrations, audit/evidence-store.ts):
 * a kept envelope comes back byte for byte (its header as signed), a second insert of the same
 * envelope is ignored, attempts of one batch are kept side by side, a time range never splits a
 * batch from its receipt, and the migrations go down and up again.
 */
import t from 'tap';
import { evidenceOf, answerFields, type EnvelopeEvidence } from '../../audit/evidence-record.js';
import { evidenceStore } from '../../audit/evidence-store.js';
import { envelopeDigest } from '../../protocol/envelope.js';
import { seal } from '../../protocol/seal.js';
import { migrateHub, rollbackHub } from '../../hub/migrations.js';
import { migrateNode, rollbackNode } from '../../node/migrations.js';
import { engines } from '../helpers/db.js';
import { issue, makeCa } from '../helpers/pki.js';

const ca = makeCa();
const node = issue(ca, '430100');
const hub = issue(ca, '430000');
const b1 = await seal({ type: 'batch', from: '430100', to: '430000', seq: 1, payload: { records: [], withdrawals: [] }, sender: node, recipientCertPem: hub.certPem, extra: { 'x-later-minor': '中文 ✓' } });
const b1again = await seal({ type: 'batch', from: '430100', to: '430000', seq: 1, id: b1.id, payload: { records: [], withdrawals: [] }, sender: node, recipientCertPem: hub.certPem });
const r1 = await seal({ type: 'receipt', from: '430000', to: '430100', seq: 1, payload: {}, sender: hub, recipientCertPem: node.certPem, extra: answerFields(b1.id, envelopeDigest(b1)) });

for (const engine of await engines()) {
  t.test(`evidence store (${engine.name})`, async (t) => {
    const store = await engine.open();
    t.teardown(() => store.close());
    const db = store.db;
    await migrateNode(db);
    await migrateHub(db);
    const sent = evidenceOf(b1, 'sent', '2026-12-01T10:00:00.000Z');
    t.equal(await evidenceStore.insert(db, 'node_exchange_evidence', sent), true);
    t.equal(await evidenceStore.insert(db, 'node_exchange_evidence', sent), false, 'the same envelope again: ignored');
    t.equal(await evidenceStore.insert(db, 'node_exchange_evidence', evidenceOf(b1again, 'sent', '2026-12-01T10:05:00.000Z')), true, 'a re-sent attempt (same id, new digest) is kept beside it');
    await evidenceStore.insert(db, 'node_exchange_evidence', evidenceOf(r1, 'received', '2026-12-02T09:00:00.000Z'));
    const all = await evidenceStore.list(db, 'node_exchange_evidence');
    t.equal(all.length, 3);
    t.same(all[0], sent, 'back exactly as kept, extra header fields included');
    const late: EnvelopeEvidence[] = await evidenceStore.list(db, 'node_exchange_evidence', { from: '2026-12-02T00:00:00.000Z' });
    t.same(late.map((e) => e.header.type).sort(), ['batch', 'batch', 'receipt'], 'a range holding only the receipt brings the batch it answers');
    const early = await evidenceStore.list(db, 'node_exchange_evidence', { to: '2026-12-01T10:00:00.000Z' });
    t.same(early.map((e) => e.header.type).sort(), ['batch', 'receipt'], "a range holding only the batch brings its receipt");
    t.equal((await evidenceStore.about(db, 'node_exchange_evidence', b1.id)).length, 3, 'about(): both attempts and the receipt naming it');
    t.equal((await evidenceStore.list(db, 'hub_exchange_evidence')).length, 0, "the hub's table is its own");
    await rollbackNode(db);
    await rollbackHub(db);
    t.equal(await evidenceStore.has(db, 'node_exchange_evidence'), false);
    await migrateNode(db);
    await migrateHub(db);
    t.equal(await evidenceStore.has(db, 'hub_exchange_evidence'), true);
  });
}
