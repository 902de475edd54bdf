/** The exchange on the node's /metrics (issue 17 item 8): outbox depth, oldest unsent age, last hub contact, batches, certificate days. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { exampleRecord } from '../../protocol/catalog.js';
import { makeCa } from '../helpers/pki.js';
import { metricValue } from './app-fixture.js';
import { startFakeHub } from './exchange-fake-hub.js';
import { enrolDir, eventually, nodeApp } from './exchange-fixture.js';

t.test('node /metrics carries the exchange figures', async (t) => {
  const ca = makeCa();
  const hub = await startFakeHub(ca);
  const dir = mkdtempSync(join(tmpdir(), 'node-exchange-metrics-'));
  enrolDir(dir, { ca, hubCertPem: hub.identity.certPem, hubUrl: hub.url, notAfter: new Date(Date.now() + 30 * 86_400_000) });
  const node = await nodeApp(dir, { url: hub.url, pollIntervalMs: 50, batchMaxAgeMs: 10 });
  t.teardown(async () => {
    await node.close();
    await hub.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const res = await node.app.inject({ method: 'POST', url: '/v1/records', headers: await node.auth('submitter', 'public'), payload: exampleRecord('CF') });
  t.equal(res.statusCode, 201);
  const text = await eventually('the batch accepted', async () => {
    const m = (await node.app.inject({ url: '/metrics' })).body;
    return metricValue(m, 'credit_node_batches', { status: 'accepted' }) === 1 ? m : undefined;
  });
  const node430100 = { node: '430100' };
  t.equal(metricValue(text, 'credit_node_outbox_depth', { ...node430100, stage: 'unbatched' }), 0);
  t.equal(metricValue(text, 'credit_node_outbox_depth', { ...node430100, stage: 'unacknowledged_batches' }), 0);
  t.equal(metricValue(text, 'credit_node_batches', { ...node430100, status: 'refused' }), 0);
  const plain = (name: string) => Number(new RegExp(`^${name}\\{node="430100"\\} (\\S+)$`, 'm').exec(text)?.[1]);
  t.equal(plain('credit_node_outbox_oldest_unsent_seconds'), 0, 'nothing unsent');
  t.ok(plain('credit_node_hub_last_contact_seconds') >= 0, 'the hub was contacted');
  const days = plain('credit_node_certificate_days_left');
  t.ok(days > 29 && days <= 30, `certificate days left ${days}`);
});
