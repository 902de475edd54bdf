/**
 * Issue 13 item 3, the node's side: a node speaks only for itself. Records received from the hub
 * are keyed by their source node, so another city's record carrying this node's decision number
 * and source unit never blocks, shadows or replaces the local record (and one sender never blocks
 * another's); a received record cannot be withdrawn here (ERR_NOT_RECORD_OWNER).
 */
import t from 'tap';
import { nodeFields } from '../helpers/at-rest.js';
import { exampleRecord } from '../../protocol/catalog.js';
import { uuidv7 } from '../../protocol/crypto.js';
import type { WireRecord } from '../../protocol/exchange.js';
import { engines } from '../helpers/db.js';
import { makeCa } from '../helpers/pki.js';
import { startFakeHub } from './exchange-fake-hub.js';
import { codeOf, exchangeSetup } from './exchange-fixture.js';

/** 浏阳's own decision: the fields 浏阳 (430181) records, and anyone may copy into a forged record. */
const LIUYANG: Record<string, unknown> = { ...exampleRecord('CF').fields, decisionNo: '浏市监处〔2026〕7号' };

function forged(content: string): WireRecord {
  const at = new Date().toISOString();
  return { id: uuidv7(), type: 'CF', classification: 'public', fields: { ...LIUYANG, content }, createdAt: at, updatedAt: at };
}

for (const engine of await engines()) {
  t.test(`${engine.name}: a received record with this node's natural key neither blocks nor replaces the local one`, async (t) => {
    const ca = makeCa();
    const hub = await startFakeHub(ca);
    t.teardown(() => hub.close());
    const s = await exchangeSetup(t, { engine, ca, nodeId: '430181', hubUrl: hub.url, hubCertPem: hub.identity.certPem });
    const submitter = s.caller('submitter', 'internal');
    const officer = s.caller('officer', 'internal');

    // 常德 (430700) publishes first, with 浏阳's decision number and source unit.
    const spoof = forged('常德伪造的处罚内容');
    hub.distributions.push({ cursor: 1, kind: 'record', sourceNode: '430700', record: spoof });
    t.match(await s.exchange.puller.pullOnce(), { records: 1, skipped: 0 }, 'stored as 常德\'s record');

    const created = await s.records.create(submitter, [{ type: 'CF', fields: LIUYANG }]);
    t.same([created.accepted, created.duplicates, created.records[0]!.duplicate], [1, 0, false], '浏阳\'s genuine record is stored, not a duplicate');
    const localId = created.records[0]!.id;
    t.not(localId, spoof.id, 'the answer never names the received record');
    const local = await s.records.get(s.caller('query', 'shared'), localId);
    t.same([local.sourceNode, local.fields.content], ['430181', LIUYANG.content], 'GET returns the local record');
    t.equal((await s.db('node_outbox').where({ record_id: localId })).length, 1, 'and it is queued for the hub');

    // A resubmission is still a duplicate of the local record, never of the received one.
    const again = await s.records.create(submitter, [{ type: 'CF', fields: LIUYANG }]);
    t.same(again.records[0], { index: 0, id: localId, duplicate: true, outcome: 'duplicate', version: 1, status: 'active' });

    // 430600 then claims the same key: stored beside 常德's, neither blocks nor overwrites the other.
    const other = forged('另一节点的内容');
    const replay = forged('常德第二次发布同一键');
    hub.distributions.push({ cursor: 2, kind: 'record', sourceNode: '430600', record: other }, { cursor: 3, kind: 'record', sourceNode: '430700', record: replay });
    t.match(await s.exchange.puller.pullOnce(), { records: 1, skipped: 1 }, '430600\'s stored; 常德\'s second record with its own key skipped');
    const rows = await s.db('node_records').orderBy('source_node').select('id', 'source_node', 'fields');
    t.same(rows.map((r: { id: string; source_node: string }) => [r.source_node, r.id]), [['430181', localId], ['430600', other.id], ['430700', spoof.id]]);
    t.equal(nodeFields(s.db, rows[2]).content, '常德伪造的处罚内容', '常德\'s first record unchanged');

    const bySubject = await s.records.bySubject(s.caller('query', 'shared'), LIUYANG.uscc as string);
    t.same(bySubject.records.map((r) => [r.sourceNode, r.id]).sort(), [['430181', localId], ['430600', other.id], ['430700', spoof.id]].sort(), 'the subject lists each with its source node');

    // Only the source node may withdraw: a local officer cannot withdraw a received record.
    t.equal(await codeOf(s.repair.withdraw(officer, spoof.id, 'correction')), 'ERR_NOT_RECORD_OWNER');
    t.equal((await s.db('node_records').where({ id: spoof.id }).first()).status, 'active');
    t.ok(await s.db('audit_log').where({ action: 'access.denied', object: spoof.id, reason: 'ERR_NOT_RECORD_OWNER' }).first(), 'the refusal is audited');
    const w = await s.repair.withdraw(officer, localId, 'correction');
    t.equal(w.status, 'withdrawn');
    t.same((await s.db('node_records').whereNot({ id: localId }).select('status')).map((r: { status: string }) => r.status), ['active', 'active'], 'withdrawing the local record leaves received ones alone');

    // An objection on a received record may be filed (a local flag) but not upheld here.
    const o = await s.repair.object(officer, other.id, '异议：非本单位决定');
    t.equal(await codeOf(s.repair.resolveObjection(officer, o.id, 'upheld')), 'ERR_NOT_RECORD_OWNER');
    t.equal((await s.db('node_records').where({ id: other.id }).first()).status, 'active');
  });

  t.test(`${engine.name}: a local record first, then another node's record with its key`, async (t) => {
    const ca = makeCa();
    const hub = await startFakeHub(ca);
    t.teardown(() => hub.close());
    const s = await exchangeSetup(t, { engine, ca, nodeId: '430181', hubUrl: hub.url, hubCertPem: hub.identity.certPem });
    const created = await s.records.create(s.caller('submitter', 'internal'), [{ type: 'CF', fields: LIUYANG }]);
    const localId = created.records[0]!.id;
    const spoof = forged('常德伪造的处罚内容');
    // It even claims the local record's id: skipped, the local row untouched.
    const sameId = { ...forged('冒用本地记录编号'), id: localId };
    hub.distributions.push({ cursor: 1, kind: 'record', sourceNode: '430700', record: spoof }, { cursor: 2, kind: 'record', sourceNode: '430600', record: sameId });
    t.match(await s.exchange.puller.pullOnce(), { records: 1, skipped: 1 });
    const local = await s.records.get(s.caller('query', 'shared'), localId);
    t.same([local.sourceNode, local.fields.content], ['430181', LIUYANG.content]);
    t.equal((await s.db('node_records').where({ id: spoof.id }).first()).source_node, '430700', 'stored in 常德\'s namespace');
  });
}
