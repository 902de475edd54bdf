/**
 * The naive exchange: what a team would build without this project, measured in the same run as
 * the real one so the real one can be judged against it. The node's records (bench/cf-data.ts) go
 * as plain JSON, 1,000 a request, two requests in flight, over mutual TLS (certificates from
 * certs/, an undici Pool with keep-alive) to a bare Fastify route in a child process that inserts
 * them with knex into the same engine (bench/naive-server.ts). Reported: records/s, the median of
 * several rounds.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Pool } from 'undici';
import { tlsClientOptions } from '../../certs/index.js';
import { benchPki } from './bench-pki.js';
import { closeStore, openStore, storeTarget } from './bench-store.js';
import { cfStoredBatches } from './cf-data.js';
import { naiveServerArgs, spawnServer } from './child.js';
import type { NaiveRecord, NaiveServerConfig } from './naive-server.js';
import { median, type BenchResult, type Scenario } from './scenario.js';

const BATCH = 1000;
const IN_FLIGHT = 2;

export const naiveScenario: Scenario = {
  name: 'naive',
  async run({ quick, log }): Promise<BenchResult[]> {
    const rounds = quick ? 3 : 5;
    const perRound = quick ? 5 : 20;
    const pki = await benchPki();
    const dir = mkdtempSync(join(tmpdir(), 'cf-bench-naive-'));
    const store = storeTarget(dir, 'naive');
    // perRound batches of exactly BATCH records, plus one for warming up (1% of the lines are bad)
    const records: NaiveRecord[] = [];
    for await (const rows of cfStoredBatches(Math.ceil(((perRound + 1) * BATCH * 100) / 99) + 100, BATCH)) {
      for (const r of rows) records.push({ id: r.id, type: r.type, classification: r.classification, fields: r.fields });
    }
    const batches = Array.from({ length: perRound + 1 }, (_, i) => records.slice(i * BATCH, (i + 1) * BATCH));
    const config: NaiveServerConfig = { store, caCertPem: pki.caCertPem, certPem: pki.hub.certPem, keyPem: pki.hub.keyPem };
    writeFileSync(join(dir, 'naive.json'), JSON.stringify(config), { mode: 0o600 });
    const server = await spawnServer('naive server', naiveServerArgs(join(dir, 'naive.json')));
    const tls = tlsClientOptions({ caCertPem: pki.caCertPem, certPem: pki.node.certPem, keyPem: pki.node.keyPem, expectNodeId: pki.hub.nodeId });
    const pool = new Pool(server.url, { connect: tls, connections: IN_FLIGHT, pipelining: 1, keepAliveTimeout: 30_000 });
    const post = async (records: NaiveRecord[]) => {
      const res = await pool.request({ method: 'POST', path: '/records', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ records }) });
      const body = (await res.body.json()) as { accepted?: number };
      if (res.statusCode !== 200 || body.accepted !== records.length) throw new Error(`naive server answered ${res.statusCode} ${JSON.stringify(body).slice(0, 200)}`);
    };
    try {
      const bytes = Buffer.byteLength(JSON.stringify(batches[0]![0]));
      log(`${rounds} rounds of ${perRound} × ${BATCH.toLocaleString('en-US')} records (≈${bytes} B of JSON each), ${IN_FLIGHT} requests in flight, ${store.engine}`);
      await post(batches[0]!); // TLS handshakes, JIT, table warm
      const rates: number[] = [];
      for (let r = 0; r < rounds; r++) {
        let next = 0;
        const t0 = process.hrtime.bigint();
        await Promise.all(Array.from({ length: IN_FLIGHT }, async () => {
          while (next < perRound) await post(batches[1 + next++]!);
        }));
        rates.push((perRound * BATCH) / (Number(process.hrtime.bigint() - t0) / 1e9));
      }
      return [
        {
          label: `naive exchange: JSON over mutual TLS to Fastify + knex insert (${store.engine})`, key: 'naive_rps', value: median(rates), unit: 'records/s',
          note: `median of ${rounds} rounds of ${(perRound * BATCH).toLocaleString('en-US')}; no envelope, signature, receipt or audit`,
        },
      ];
    } finally {
      await pool.close();
      await server.stop();
      if (store.schema) await closeStore(await openStore(store), store);
      rmSync(dir, { recursive: true, force: true });
    }
  },
};
