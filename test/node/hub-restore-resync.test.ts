/**
 * The hub's store goes back in time (issue 22 item 5: a failover to a standby that missed the last
 * commits, a hub store restored from an older backup), against the real hub over mutual TLS on
 * loopback, its store on both engines: SQLite (a copy made with VACUUM INTO while the hub runs, put
 * back as the file) and PostgreSQL (pg_dump of the hub's schema, put back with pg_restore). The node
 * (SQLite) holds receipts for batches the restored hub no longer has, and the hub had cosigned the
 * node's log holding those receipts. Then: the node's next batch is refused ERR_SEQUENCE_GAP, the
 * node sends the lost batches again with their ids and seqs (node/exchange/resync.ts reopenFrom) and
 * goes on; the hub holds every record once and the receipts the node holds are the hub's; the resync
 * is audited on both sides ('batch.resync.hub' on the node — a failure, ERR_HUB_ROLLED_BACK, since
 * the hub had attested what it lost — and 'batch.gap' on the hub); and the node's witness refuses
 * the hub's rolled-back audit log (a failed 'hub.checkpoint.cosign'), the security event it is,
 * while the restored hub goes on cosigning the node's own log from the older head it still has.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import type { Test } from 'tap';
import type { Knex } from 'knex';
import { exampleRecord } from '../../protocol/catalog.js';
import { initCaDir } from '../../certs/ca-dir.js';
import { buildHubConfig, makeToken, startHub, type RunningHub } from '../../hub/index.js';
import { enrollNode } from '../../node/exchange/enroll.js';
import { PG_URL, pgProblem } from '../helpers/db.js';
import { pgStore, sqliteStore, type HubStore } from './hub-store-copy.js';
import { eventually, nodeApp, type NodeApp } from './exchange-fixture.js';

const FAST = { pollIntervalMs: 100, batchMaxAgeMs: 20, checkpointIntervalMs: 500 };
const rec = (n: number) => ({ type: 'CF', fields: { ...exampleRecord('CF').fields, decisionNo: `省测回滚〔2026〕${n}号` } });
const count = async (q: Knex.QueryBuilder): Promise<number> => Number(((await q.count({ n: '*' })) as { n: number | string }[])[0]!.n);

async function scenario(t: Test, make: (dir: string) => HubStore): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'hub-restore-'));
  const caDir = join(dir, 'ca');
  const { certPem: caCertPem } = await initCaDir(caDir, { cn: 'Test Provincial Credit CA (hub restore)' });
  mkdirSync(join(dir, 'hub'), { recursive: true });
  const store = make(dir);
  let hubDb = await store.open();
  const hubConfig = (port: number) => buildHubConfig({ dataDir: join(dir, 'hub'), caDir, listen: { host: '127.0.0.1', port }, rateLimit: { enabled: false }, logLevel: 'silent' }, {});
  let hub: RunningHub = await startHub({ config: hubConfig(0), db: hubDb });
  const port = Number(new URL(hub.url).port);
  let node: NodeApp | undefined;
  t.teardown(async () => {
    await node?.close();
    await hub.close();
    await store.drop(hubDb);
    rmSync(dir, { recursive: true, force: true });
  });

  const dataDir = join(dir, 'node-430100', 'data');
  await enrollNode({ dataDir, nodeId: '430100', hubUrl: hub.url, token: (await makeToken(hubDb, hub.app.hubCtx.ca, { nodeId: '430100', grade: 3, ttlMs: 3_600_000 })).token, caCertPem });
  node = await nodeApp(dataDir, { url: hub.url, ...FAST });
  const nodeDb = node.app.nodeCtx.db;
  const auth = async (role: 'submitter' | 'auditor') => node!.auth(role, 'public');
  const status = async () => (await node!.app.inject({ method: 'GET', url: '/v1/exchange/status', headers: await auth('auditor') })).json();
  const drained = () => eventually('the outbox to drain', async () => {
    const s = await status();
    return s.outbox.pending === 0 && s.batches.pending === 0 && s.batches.accepted >= 1 ? s : undefined;
  }, 60_000);
  const post = async (...nums: number[]): Promise<string[]> => {
    const ids: string[] = [];
    for (const n of nums) {
      // one record per request: one batch each (batchMaxAgeMs 20)
      const r = await node!.app.inject({ method: 'POST', url: '/v1/records', headers: await auth('submitter'), payload: [rec(n)] });
      if (r.statusCode !== 201) throw new Error(`POST /v1/records: ${r.statusCode} ${r.body}`);
      ids.push(...(r.json().records as { id: string }[]).map((x) => x.id));
      await drained();
    }
    return ids;
  };
  // Witness rounds are the node's own loop's (every 500 ms and after each receipt): a round run from
  // here beside the loop could show the hub a proof from a head the loop's round just moved past,
  // which the hub refuses (ERR_AUDIT_INCONSISTENT) — a race of the test's making.

  const a = await post(1, 2);
  await store.copy(hubDb);
  const copiedSize = await count(hubDb('audit_log')); // an upper bound of the copy's log
  const copiedSeq = Number((await hubDb('hub_streams').where({ node_id: '430100', stream: 'batch' }).first()).last_seq);
  const b = await post(3, 4); // receipted, and lost with the restore
  // the hub cosigns a head of the node's log holding the receipts of b (the node's witness loop
  // runs after every round with a receipt), and the node cosigns a hub head beyond the copy
  const lastReceipt = Number((await nodeDb('audit_log').where({ action: 'batch.receipt' }).max({ m: 'seq' }).first())!.m);
  await eventually('the hub cosigns the node\'s receipts', async () => ((await nodeDb('audit_cosignatures').where('tree_size', '>=', lastReceipt).first()) ? true : undefined), 60_000);
  await hub.app.hubCtx.audit.checkpoint();
  await eventually('the node cosigns a hub head beyond the copy', async () => ((await nodeDb('audit_witnessed').where({ node_id: '430000' }).where('tree_size', '>', copiedSize).first()) !== undefined ? true : undefined), 60_000);

  t.equal(await count(nodeDb('audit_log').where({ action: 'hub.checkpoint.cosign', outcome: 'failure' })), 0, 'the witness in step before the restore');
  const cosignedBefore = Number((await nodeDb('audit_cosignatures').max({ m: 'tree_size' }).first())!.m);

  // the hub's store goes back to the copy
  await hub.close();
  await hubDb.destroy();
  hubDb = await store.restore();
  t.equal(Number((await hubDb('hub_streams').where({ node_id: '430100', stream: 'batch' }).first()).last_seq), copiedSeq, 'the restored hub lost the batches of b');
  hub = await startHub({ config: hubConfig(port), db: hubDb });
  const c = await post(5);
  await drained();

  const hubIds = (await hubDb('hub_records').where({ source_node: '430100' }).select('id')).map((r: { id: string }) => r.id).sort();
  t.same(hubIds, [...a, ...b, ...c].sort(), 'every record at the hub, each once');
  const envelopes = await hubDb('hub_envelopes').where({ from_node: '430100', type: 'batch' }).orderBy('seq');
  t.same(envelopes.map((e: { seq: number | string }) => Number(e.seq)), [1, 2, 3, 4, 5], 'the hub took seqs 1..5, no gap, none twice');
  const batches = await nodeDb('node_batches').orderBy('seq');
  t.same(batches.map((x: { seq: number | string; status: string }) => [Number(x.seq), x.status]), [[1, 'accepted'], [2, 'accepted'], [3, 'accepted'], [4, 'accepted'], [5, 'accepted']]);
  const hubReceipts = new Map(envelopes.map((e: { id: string; response: string }) => [e.id, JSON.parse(e.response).id as string]));
  t.same(batches.map((x: { id: string; receipt: string }) => JSON.parse(x.receipt).id), batches.map((x: { id: string }) => hubReceipts.get(x.id)), 'each receipt the node holds is the one the hub stored');

  const resync = await nodeDb('audit_log').where({ action: 'batch.resync.hub' });
  t.equal(resync.length, 1, 'the resync is audited on the node');
  t.equal(resync[0].outcome, 'failure', 'as a security event: the hub had cosigned the node\'s log holding those receipts');
  t.match(resync[0].reason, new RegExp(`^ERR_HUB_ROLLED_BACK hubLastSeq=${copiedSeq} batches=2 seq 3…4 cosignedFloor=[4-9]`));
  const gaps = await hubDb('audit_log').where({ action: 'batch.gap', actor_node: '430100' }).orderBy('seq');
  t.ok(gaps.length >= 1, 'and on the hub');
  t.match(gaps[0].reason, new RegExp(`^ERR_SEQUENCE_GAP seq=5 expected=${copiedSeq + 1} hubLastSeq=${copiedSeq}$`));
  // protocol 1.2: the node acted on the hub's signed refusal, and both exchange logs hold it
  const refusalId = /refusal=([0-9a-f-]{36}) /.exec(resync[0].reason)?.[1];
  t.ok(refusalId, 'the node\'s resync names the hub\'s signed refusal');
  t.equal((await nodeDb('node_exchange_evidence').where({ envelope_id: refusalId ?? '', type: 'seq-refusal', direction: 'received' })).length, 1, 'kept by the node');
  t.equal((await hubDb('hub_exchange_evidence').where({ envelope_id: refusalId ?? '', type: 'seq-refusal', direction: 'sent' })).length, 1, 'kept by the hub');

  // the witness: the hub's log no longer extends the head the node cosigned
  await hub.app.hubCtx.audit.checkpoint();
  await eventually('the node refuses the hub\'s rolled-back log', async () => (await nodeDb('audit_log').where({ action: 'hub.checkpoint.cosign', outcome: 'failure' }).first()) ?? undefined, 60_000).then((row: { reason: string }) => t.match(row.reason, /^ERR_AUDIT_/, 'a failed hub.checkpoint.cosign with the audit code'));
  // refused round after round, audited once: the status counts the rounds, the entry names both heads
  const refusal = await eventually('three refused rounds', async () => {
    const r = (await status()).hubCheckpointRefused as { code: string; rounds: number; treeSize: number } | null;
    return r && r.rounds >= 3 ? r : undefined;
  }, 60_000);
  t.equal(refusal.code, 'ERR_AUDIT_INCONSISTENT', 'the status shows the refusal');
  const refusals = await nodeDb('audit_log').where({ action: 'hub.checkpoint.cosign', outcome: 'failure' }).select('reason');
  t.equal(refusals.length, 1, `one audit entry for ${refusal.rounds} refused rounds, not one per round`);
  t.match(refusals[0].reason, /^ERR_AUDIT_INCONSISTENT: .*\[cosigned \d+:[0-9a-f]{64} received \d+:[0-9a-f]{64}\]$/, 'naming the head cosigned and the head received');
  // the other direction raises no alarm: the restored hub cosigns the node's log from the older head it still has
  await eventually('the hub cosigns the node\'s log again', async () => ((await nodeDb('audit_cosignatures').where('tree_size', '>', cosignedBefore).first()) !== undefined ? true : undefined), 60_000);
  t.same(await hubDb('audit_log').where({ action: 'checkpoint.cosign', outcome: 'failure' }).select('time', 'reason'), [], 'the hub refused none of the node\'s checkpoints');
}

const problem = await pgProblem();
t.test('SQLite hub store restored from a copy: the node resynchronises, the rollback is reported', (t) => scenario(t, sqliteStore));
if (problem !== null) {
  if (process.env.CI === 'true') t.fail(`PostgreSQL at ${PG_URL} is unreachable under CI=true: ${problem}`);
  else t.test('PostgreSQL hub store restored from a dump', { skip: `PostgreSQL unreachable (${problem}); under CI this fails` }, async () => {});
} else {
  t.test('PostgreSQL hub store restored from a dump: the node resynchronises, the rollback is reported', (t) => scenario(t, pgStore));
}
