/**
 * The hub's store goes back in time (a restore from a copy, on both engines) while a city node had
 * already received records from the feed beyond the copy: the feed's cursors go back with the data,
 * so rows queued after the restore take cursors that node had passed. Without feed marks it never
 * asked for them again and silently missed another node's records. With them (hub/feed-mark.ts,
 * node/exchange/puller.ts rewind): the node's next pull is answered ERR_FEED_DIVERGED, it finds the
 * last cursor whose mark the hub still holds, pulls again from there and ends with every record;
 * audited 'distribution.rewind' on the node and 'distribution.diverged' on the hub.
 * Real hub over mutual TLS on loopback, three real nodes (SQLite) with their loops running.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import type { Test } from 'tap';
import { exampleRecord } from '../../protocol/catalog.js';
import { initCaDir } from '../../certs/ca-dir.js';
import { buildHubConfig, makeToken, startHub, type RunningHub } from '../../hub/index.js';
import { enrollNode } from '../../node/exchange/enroll.js';
import { PG_URL, pgProblem } from '../helpers/db.js';
import { eventually, nodeApp, type NodeApp } from './exchange-fixture.js';
import { pgStore, sqliteStore, type HubStore } from './hub-store-copy.js';

const FAST = { pollIntervalMs: 100, batchMaxAgeMs: 20, checkpointIntervalMs: 60_000 };
const rec = (n: number) => ({ type: 'CF', fields: { ...exampleRecord('CF').fields, decisionNo: `省测馈送〔2026〕${n}号` } });

async function scenario(t: Test, make: (dir: string) => HubStore): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'hub-restore-feed-'));
  const caDir = join(dir, 'ca');
  const { certPem: caCertPem } = await initCaDir(caDir, { cn: 'Test Provincial Credit CA (feed restore)' });
  mkdirSync(join(dir, 'hub'), { recursive: true });
  const store = make(dir);
  let hubDb = await store.open();
  const hubConfig = (port: number) => buildHubConfig({ dataDir: join(dir, 'hub'), caDir, listen: { host: '127.0.0.1', port }, rateLimit: { enabled: false }, logLevel: 'silent' }, {});
  let hub: RunningHub = await startHub({ config: hubConfig(0), db: hubDb });
  const port = Number(new URL(hub.url).port);
  const nodes = new Map<string, NodeApp>();
  t.teardown(async () => {
    for (const n of nodes.values()) await n.close();
    await hub.close();
    await store.drop(hubDb);
    rmSync(dir, { recursive: true, force: true });
  });
  for (const id of ['430100', '430200', '430300']) {
    const dataDir = join(dir, `node-${id}`, 'data');
    await enrollNode({ dataDir, nodeId: id, hubUrl: hub.url, token: (await makeToken(hubDb, hub.app.hubCtx.ca, { nodeId: id, grade: 3, ttlMs: 3_600_000 })).token, caCertPem });
    nodes.set(id, await nodeApp(dataDir, { url: hub.url, ...FAST }, id));
  }
  const node = (id: string) => nodes.get(id)!;
  const post = async (id: string, n: number): Promise<string> => {
    const r = await node(id).app.inject({ method: 'POST', url: '/v1/records', headers: await node(id).auth('submitter', 'public'), payload: [rec(n)] });
    if (r.statusCode !== 201) throw new Error(`POST /v1/records: ${r.statusCode} ${r.body}`);
    const rid = (r.json().records as { id: string }[])[0]!.id;
    await eventually(`${id}'s record ${n} at the hub`, async () => ((await hubDb('hub_records').where({ id: rid }).first()) ? true : undefined), 60_000);
    return rid;
  };
  const receiver = () => node('430200').app.nodeCtx.db;
  const held = async (ids: string[]) => ((await receiver()('node_records').whereIn('id', ids)) as unknown[]).length;
  const receives = (what: string, ids: string[]) => eventually(`430200 to hold ${what}`, async () => ((await held(ids)) === ids.length ? true : undefined), 60_000);

  const a = [await post('430100', 1), await post('430100', 2)];
  await receives('a', a);
  await store.copy(hubDb);
  const b = [await post('430100', 3), await post('430100', 4)]; // lost with the restore
  await receives('b', b);
  const cursorBefore = Number((await receiver()('node_exchange_state').where({ key: 'inbox.cursor' }).first()).value);

  await hub.close();
  await hubDb.destroy();
  hubDb = await store.restore();
  t.equal(await hubDb('hub_records').whereIn('id', b).count({ n: '*' }).first().then((r) => Number((r as { n: number | string }).n)), 0, 'the restored hub lost b');
  hub = await startHub({ config: hubConfig(port), db: hubDb });

  // 430300's record takes a cursor the receiver had already passed
  const e = [await post('430300', 5)];
  const eCursor = Number((await hubDb('hub_distributions').where({ record_id: e[0] }).first()).cursor);
  t.ok(eCursor <= cursorBefore, `430300's record is queued at cursor ${eCursor}, at or below the receiver's cursor ${cursorBefore}`);
  const c = [await post('430100', 6)]; // 430100 sends b again first (ERR_SEQUENCE_GAP), then c
  await receives('every record of 430100 and 430300', [...a, ...b, ...c, ...e]);

  const rewinds = await receiver()('audit_log').where({ action: 'distribution.rewind' }).orderBy('seq');
  t.ok(rewinds.length >= 1, 'the rewind is audited on the receiver');
  t.equal(rewinds[0].outcome, 'failure', 'as the event it is: the hub lost feed rows it had served');
  const m = /^ERR_FEED_DIVERGED from=(\d+) to=(\d+) probes=(\d+): /.exec(rewinds[0].reason);
  t.ok(m, rewinds[0].reason);
  t.ok(Number(m![2]) < eCursor, `pulled again from cursor ${m![2]}, below the reused one`);
  const diverged = await hubDb('audit_log').where({ action: 'distribution.diverged', actor_node: '430200' });
  t.ok(diverged.length >= 1, 'and the divergence on the hub');
  t.equal((await receiver()('node_records').whereIn('id', [...a, ...b, ...c, ...e])).length, 6, 'each record once');
  t.equal(await held(e), 1);
}

const problem = await pgProblem();
t.test('SQLite hub store restored from a copy: a node that had passed the reused cursors gets every record', (t) => scenario(t, sqliteStore));
if (problem !== null) {
  if (process.env.CI === 'true') t.fail(`PostgreSQL at ${PG_URL} is unreachable under CI=true: ${problem}`);
  else t.test('PostgreSQL hub store restored from a dump', { skip: `PostgreSQL unreachable (${problem}); under CI this fails` }, async () => {});
} else {
  t.test('PostgreSQL hub store restored from a dump: a node that had passed the reused cursors gets every record', (t) => scenario(t, pgStore));
}
