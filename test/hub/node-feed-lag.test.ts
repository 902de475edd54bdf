/**
 * The hub's /metrics per-node feed lag (issue 17 item 8), both engines: each active node's
 * credit_hub_node_feed_lag_items counts the feed items it may receive after the cursor it last
 * pulled from (hub_feed_cursors), and credit_hub_node_feed_lag_seconds the age of the oldest.
 */
import t from 'tap';
import type { DistributionPayload, ReceiptPayload } from '../../protocol/exchange.js';
import { engines } from '../helpers/db.js';
import { hubFixture, wire, type HubFixture, type TestNode } from './fixture.js';

async function push(f: HubFixture, node: TestNode, payload: unknown): Promise<ReceiptPayload> {
  const res = await f.call(node.agent, 'POST', '/v1/batches', await f.sealFrom(node, 'batch', payload));
  if (res.status !== 200) throw new Error(`batch refused: ${res.json.code}`);
  return (await f.openAs<ReceiptPayload>(node, res.json)).payload;
}

async function pull(f: HubFixture, node: TestNode, after: number): Promise<DistributionPayload> {
  const res = await f.call(node.agent, 'GET', `/v1/distributions?after=${after}`);
  if (res.status !== 200) throw new Error(`feed refused: ${res.json.code}`);
  return (await f.openAs<DistributionPayload>(node, res.json)).payload;
}

async function gauge(f: HubFixture, name: string, peer: string): Promise<number | undefined> {
  const text = String((await f.call(f.anonymous, 'GET', '/metrics')).json);
  const m = new RegExp(`^${name}\\{[^}]*peer="${peer}"[^}]*\\} (\\S+)$`, 'm').exec(text);
  return m ? Number(m[1]) : undefined;
}

for (const engine of await engines()) {
  t.test(`credit_hub_node_feed_lag_items per active node (${engine.name})`, async (t) => {
    const f = await hubFixture(t, { engine });
    const cs = await f.enrol('430100', 3);
    const ly = await f.enrol('430181', 1);
    t.equal(await gauge(f, 'credit_hub_node_feed_lag_items', '430181'), 0, 'nothing waits before anything is published');

    await push(f, cs, { records: [wire('XK'), wire('XK', { fields: { decisionNo: '长市监食许〔2026〕301号' } }), wire('SXBZX')], withdrawals: [] });
    t.equal(await gauge(f, 'credit_hub_node_feed_lag_items', '430181'), 2, 'the two public items wait for the grade-1 node (the shared one is not in its feed)');
    t.equal(await gauge(f, 'credit_hub_node_feed_lag_items', '430100'), 0, "a node's own records are not in its feed");
    const seconds = await gauge(f, 'credit_hub_node_feed_lag_seconds', '430181');
    t.ok(seconds !== undefined && seconds >= 0, 'the age of the oldest waiting item is shown');

    const first = await pull(f, ly, 0);
    t.equal(first.items.length, 2);
    t.equal(await gauge(f, 'credit_hub_node_feed_lag_items', '430181'), 2, 'pulled from cursor 0: not yet acknowledged');
    await pull(f, ly, first.next);
    t.equal(await gauge(f, 'credit_hub_node_feed_lag_items', '430181'), 0, 'the next pull from its cursor acknowledges them');
    t.equal(await gauge(f, 'credit_hub_node_feed_lag_seconds', '430181'), 0, 'nothing waits: 0 s');

    await pull(f, ly, 0);
    t.equal(await gauge(f, 'credit_hub_node_feed_lag_items', '430181'), 2, 'a node pulling from an older cursor (restored from a backup) lags again');
  });
}
