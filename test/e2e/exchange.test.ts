/**
 * End to end with real processes on loopback and real mutual TLS: a CA, `credit hub start` and three
 * `credit node start` processes enrolled with `credit node init`. Enrolment (a token works once),
 * push with a signed receipt, pull of distributions by grade, withdrawal propagation, a
 * province-wide query filtered by grade, class and purpose, a replayed batch, revocation on the
 * next request, and a rewritten audit log caught by the hub's witness.
 */
import t from 'tap';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { openAuditLog, migrateAudit } from '../../audit/index.js';
import { witnessPayload } from '../../audit/witness.js';
import { connect } from '../../audit/knex-connect.js';
import { caTrust } from '../../protocol/ca-trust.js';
import { open } from '../../protocol/open.js';
import { seal } from '../../protocol/seal.js';
import { uuidv7 } from '../../protocol/crypto.js';
import type { ReceiptPayload, WireRecord } from '../../protocol/exchange.js';
import { readFileSync } from 'node:fs';
import { credit } from '../../scripts/demo/processes.js';
import { sampleRecord, sampleSet } from '../../scripts/demo/sample-data.js';
import { CHANGDE, CHANGSHA, LIUYANG, drained, federation, hubDb, hubRecordIds, nodeAgent, nodeDb, nodeRecordIds, post, status, waitFor, withSqlite } from './support.js';

const fed = await federation(t);
for (const spec of [CHANGSHA, CHANGDE, LIUYANG]) {
  await fed.enrolNode(spec);
  await fed.startNode(spec.id);
}
const caCertPem = readFileSync(fed.caCertFile, 'utf8');
const trust = caTrust({ caCertPems: [caCertPem] });
const set = sampleSet(CHANGSHA.id, 20);
let created: string[] = [];

t.test('enrolment: the nodes are registered with their grades, and a token works only once', async (t) => {
  const nodes = JSON.parse((await credit(['hub', 'nodes', '--config', fed.hubConfigFile, '--json'])).stdout) as { nodeId: string; grade: number; status: string }[];
  t.same(nodes.map((n) => [n.nodeId, n.grade, n.status]).sort(), [['430100', 3, 'active'], ['430181', 3, 'active'], ['430700', 2, 'active']]);
  const token = (await credit(['hub', 'token', '--config', fed.hubConfigFile, '--node', '431081', '--grade', '2'])).stdout.trim();
  const cfg = (n: number) => {
    const dir = join(fed.dir, `token-reuse-${n}`);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'node.json'), JSON.stringify({ nodeId: '431081', dataDir: join(dir, 'data') }));
    return join(dir, 'node.json');
  };
  const first = await credit(['node', 'init', '--config', cfg(1), '--hub', fed.hubUrl, '--token', token, '--ca', fed.caCertFile]);
  t.equal(first.code, 0, first.stderr);
  const again = await credit(['node', 'init', '--config', cfg(2), '--hub', fed.hubUrl, '--token', token, '--ca', fed.caCertFile]);
  t.equal(again.code, 1);
  t.match(again.stderr, /ERR_TOKEN_USED/);
});

t.test('push: records leave 长沙 in batches the hub answers with signed receipts', async (t) => {
  const res = await fed.api<{ accepted: number; records: { id: string }[] }>(CHANGSHA.id, 'POST', '/v1/records', set.records);
  t.equal(res.status, 201);
  created = res.body.records.map((r) => r.id);
  const s = await drained(fed, CHANGSHA.id);
  t.ok(s.batches.accepted >= 1, 'acknowledged');
  t.equal(s.batches.refused, 0);
  const atHub = await hubRecordIds(fed, CHANGSHA.id);
  t.equal(atHub.length, set.records.length - 1, 'every record but the internal one is at the hub');
  t.equal(new Set(atHub).size, atHub.length, 'no duplicates');
  t.notOk(atHub.includes(created[4]!), 'the internal record never left');
  const me = nodeAgent(fed, CHANGSHA.id);
  await me.agent.close();
  const receipts = await withSqlite(nodeDb(fed, CHANGSHA.id), (db) => db('node_batches').whereNotNull('receipt').select('id', 'receipt'));
  t.ok(receipts.length >= 1, 'receipts stored');
  let accepted = 0;
  for (const row of receipts as { id: string; receipt: string }[]) {
    const r = await open<ReceiptPayload>(row.receipt, { recipient: { nodeId: CHANGSHA.id, keyPem: me.keyPem }, trust, freshness: false });
    t.equal(r.signer.nodeId, '430000', 'signed by the hub');
    t.equal(r.payload.batchId, row.id);
    accepted += r.payload.accepted.length;
  }
  t.equal(accepted, set.records.length - 1, 'the receipts account for every record sent');
});

t.test('pull: other nodes receive what their grade allows, never restricted or internal', async (t) => {
  const expected = set.records.length - 2; // minus restricted, minus internal
  for (const id of [CHANGDE.id, LIUYANG.id]) {
    const got = await waitFor(`${id} to apply 长沙's distributions`, async () => {
      const ids = await nodeRecordIds(fed, id, CHANGSHA.id);
      return ids.length >= expected ? ids : undefined;
    });
    t.equal(got.length, expected, `${id} holds exactly the distributable records`);
    const classes = await withSqlite(nodeDb(fed, id), (db) => db('node_records').where({ source_node: CHANGSHA.id }).distinct('class').pluck('class'));
    t.same([...classes].sort(), ['public', 'shared'], `${id}: only public and shared`);
  }
});

t.test('withdrawal at 长沙 propagates to 常德', async (t) => {
  const target = created[1]!; // the featured subject's public CF
  const w = await fed.api(CHANGSHA.id, 'POST', `/v1/records/${target}/withdraw`, { reason: 'correction' });
  t.equal(w.status, 200);
  await waitFor('常德 to withdraw it', async () => ((await nodeRecordIds(fed, CHANGDE.id, CHANGSHA.id, 'withdrawn')).includes(target) ? true : undefined));
  const view = await fed.api<{ records: { id: string }[] }>(CHANGDE.id, 'GET', `/v1/subjects/${set.featured}`);
  t.notOk(view.body.records.some((r) => r.id === target), '常德 no longer shows it');
});

t.test('province-wide query: filtered by the asker grade, clearance and purpose', async (t) => {
  type Answer = { records: { classification: string; sourceNode: string }[]; withheld: { classification: string; code: string }[] };
  const purpose = encodeURIComponent('行政审批 e2e-001');
  const liuyang = await fed.api<Answer>(LIUYANG.id, 'GET', `/v1/subjects/${set.featured}?scope=province&purpose=${purpose}`);
  t.equal(liuyang.status, 200);
  t.same(liuyang.body.records.map((r) => r.classification).sort(), ['public', 'restricted', 'shared'], 'grade 3 with a purpose: restricted too (the withdrawn CF is gone, the internal XK never left)');
  const noPurpose = await fed.api<Answer>(LIUYANG.id, 'GET', `/v1/subjects/${set.featured}?scope=province`);
  t.notOk(noPurpose.body.records.some((r) => r.classification === 'restricted'), 'no purpose, no restricted');
  t.ok(noPurpose.body.withheld.some((w) => w.classification === 'restricted' && w.code === 'ERR_PURPOSE_REQUIRED'));
  const changde = await fed.api<Answer>(CHANGDE.id, 'GET', `/v1/subjects/${set.featured}?scope=province&purpose=${purpose}`);
  t.same(changde.body.records.map((r) => r.classification).sort(), ['public', 'shared'], 'grade 2: no restricted even with a purpose');
  t.ok(changde.body.withheld.some((w) => w.classification === 'restricted' && w.code === 'ERR_CLASSIFICATION_DENIED'));
});

t.test('a replayed batch is refused with ERR_REPLAY and the stored receipt', async (t) => {
  const spec = { id: '431081', name: '资兴市', grade: 2 };
  await fed.enrolNode({ ...spec, id: '431121' }); // a node enrolled but never started: the test speaks for it
  const me = nodeAgent(fed, '431121');
  t.teardown(() => me.agent.close());
  const rec = sampleRecord('XK', { nodeId: '431121', uscc: set.featured, serial: 1 });
  const now = new Date().toISOString();
  const payload = { records: [{ id: uuidv7(), type: rec.type, classification: 'public', fields: rec.fields, createdAt: now, updatedAt: now } satisfies WireRecord], withdrawals: [] };
  const env = await seal({ type: 'batch', from: '431121', to: '430000', seq: 1, payload, sender: { keyPem: me.keyPem, certPem: me.certPem }, recipientCertPem: me.hubCertPem });
  const first = await post(me.agent, `${fed.hubUrl}/v1/batches`, env);
  t.equal(first.status, 200);
  const replay = await post(me.agent, `${fed.hubUrl}/v1/batches`, env);
  t.equal(replay.status, 409);
  t.equal(replay.json.code, 'ERR_REPLAY');
  const stored = await open<ReceiptPayload>(replay.json.details.receipt, { recipient: { nodeId: '431121', keyPem: me.keyPem }, trust, freshness: false });
  t.equal(stored.payload.batchId, env.id, 'the receipt of the first delivery');
  t.equal((await hubRecordIds(fed, '431121')).length, 1, 'stored once');
});

t.test('revocation: 常德 is cut off on its next request', async (t) => {
  const before = (await hubRecordIds(fed, CHANGDE.id)).length;
  const rv = await credit(['hub', 'revoke', '--config', fed.hubConfigFile, '--node', CHANGDE.id]);
  t.equal(rv.code, 0, rv.stderr);
  const add = await fed.api(CHANGDE.id, 'POST', '/v1/records', [sampleRecord('XK', { nodeId: CHANGDE.id, uscc: set.featured, serial: 7 })]);
  t.equal(add.status, 201);
  const err = await waitFor("常德's batch to be refused", async () => {
    const s = await status(fed, CHANGDE.id);
    return s.lastError?.loop === 'sender' ? s.lastError : undefined;
  });
  t.equal(err.code, 'ERR_CERT_REVOKED');
  t.equal((await hubRecordIds(fed, CHANGDE.id)).length, before, 'nothing from 常德 was stored');
  const me = nodeAgent(fed, CHANGDE.id);
  t.teardown(() => me.agent.close());
  const direct = await post(me.agent, `${fed.hubUrl}/v1/queries`, {});
  t.equal(direct.status, 403);
  t.equal(direct.json.code, 'ERR_CERT_REVOKED');
});

t.test('a node audit log rewritten after the hub cosigned it is caught: ERR_AUDIT_INCONSISTENT', async (t) => {
  const cosigned = await waitFor('the hub to cosign 浏阳\'s log', async () => (await status(fed, LIUYANG.id)).witness ?? undefined);
  t.ok(cosigned.treeSize > 0);
  await fed.stopNode(LIUYANG.id);
  // The rewrite: a fresh log in place of the old one (its append-only triggers go with the tables).
  const db = await connect(nodeDb(fed, LIUYANG.id));
  t.teardown(() => db.destroy());
  for (const table of ['audit_frontiers', 'audit_meta', 'audit_witnessed', 'audit_cosignatures', 'audit_checkpoints', 'audit_prunes', 'audit_log', 'knex_migrations_audit', 'knex_migrations_audit_lock']) await db.schema.dropTableIfExists(table);
  await migrateAudit(db);
  const me = nodeAgent(fed, LIUYANG.id);
  t.teardown(() => me.agent.close());
  const log = await openAuditLog(db, { signer: { nodeId: LIUYANG.id, keyPem: me.keyPem, certPem: me.certPem } });
  for (let i = 0; i < cosigned.treeSize + 3; i++) await log.record({ actor: 'user:mallory', actorNode: LIUYANG.id, action: 'record.read', outcome: 'success' });
  const payload = await witnessPayload(db, log, { treeSize: 0, rootHash: null }); // a node that hides its past sends no proof
  await log.close();
  const env = await seal({ type: 'checkpoint', from: LIUYANG.id, to: '430000', seq: 1, payload, sender: { keyPem: me.keyPem, certPem: me.certPem }, recipientCertPem: me.hubCertPem });
  const res = await post(me.agent, `${fed.hubUrl}/v1/checkpoints`, env);
  t.equal(res.status, 409);
  t.equal(res.json.code, 'ERR_AUDIT_INCONSISTENT');
  const flagged = await withSqlite(hubDb(fed), (h) => h('audit_log').where({ action: 'checkpoint.cosign', outcome: 'failure', actor_node: LIUYANG.id }).count({ n: '*' }).first());
  t.ok(Number((flagged as { n: number }).n) >= 1, "the refusal is in the hub's own audit log");
});
