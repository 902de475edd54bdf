/**
 * Issue 22: TWO real hub processes (`credit hub start`, started at the same moment) on one
 * PostgreSQL schema, each with its own data directory. Three in-process nodes enrol (alternately at
 * each hub) and push batches with seq n to one hub and n + 1 to the other AT ONCE. Asserted: both
 * hubs serve the same certificate (one identity, issued once), every batch is accepted (no 5xx,
 * no ERR_SEQUENCE_GAP), every record is at the hub exactly once, and the audit log is one intact
 * chain (consecutive seqs, each linked to the one before, checkpoint roots over the entries).
 */
import { createKeyFile, fileKeyWrapper } from '../../server/at-rest-keys.js';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import t from 'tap';
import { Agent, request } from 'undici';
import { connect } from '../../audit/knex-connect.js';
import { fromRow, GENESIS_HASH, hashEntry, type EntryRow } from '../../audit/entry.js';
import { merkleRoot } from '../../audit/merkle.js';
import { initCaDir } from '../../certs/ca-dir.js';
import { createNodeKeys } from '../../certs/node-keys.js';
import { tlsClientOptions } from '../../certs/tls.js';
import { openHubCa } from '../../hub/ca-store.js';
import { makeToken } from '../../hub/enrolment-service.js';
import { migrateHub } from '../../hub/migrations.js';
import type { EnrollResponse } from '../../protocol/exchange.js';
import { seal } from '../../protocol/seal.js';
import { certFromPem } from '../../protocol/crypto.js';
import { freePort } from '../../scripts/faults/cluster.js';
import { startServer, type ServerProcess } from '../../scripts/demo/processes.js';
import { engines, PG_URL } from '../helpers/db.js';
import { wire } from '../hub/fixture.js';

const NODES = ['430100', '430700', '430181'];
const PAIRS = 4; // batches per node: 2 × PAIRS, sent two at a time to the two hubs
const RECORDS = 20;

for (const engine of (await engines()).filter((e) => e.name === 'pg')) {
  t.test('two hub processes on one PostgreSQL: one identity, one audit chain, batches through both', async (t) => {
    const store = await engine.open();
    t.teardown(store.close);
    const dir = mkdtempSync(join(tmpdir(), 'cf-multihub-'));
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    const caDir = join(dir, 'ca');
    const { certPem: caCertPem } = await initCaDir(caDir);
    const db = store.db;
    await migrateHub(db);
    const databaseUrl = `${PG_URL}?options=${encodeURIComponent(`-c search_path=${store.schema!}`)}`;
    const env: NodeJS.ProcessEnv = { ...process.env, CREDIT_LOG_LEVEL: 'info' };
    delete env.DATABASE_URL;
    delete env.NODE_OPTIONS;

    const hubs: ServerProcess[] = [];
    t.teardown(async () => {
      for (const h of hubs) await h.kill();
    });
    // one data key for every process (docs/at-rest.md § Several hub processes): made once, shared
    const keyFile = join(dir, 'data.key');
    await createKeyFile(keyFile, fileKeyWrapper);
    const configs = await Promise.all([1, 2].map(async (i) => {
      const hubDir = join(dir, `hub${i}`);
      mkdirSync(hubDir, { recursive: true });
      const file = join(hubDir, 'hub.json');
      writeFileSync(file, JSON.stringify({ dataDir: join(hubDir, 'data'), caDir, databaseUrl, atRest: { keyFile }, listen: { host: '127.0.0.1', port: await freePort() } }));
      return { file, log: join(hubDir, 'hub.log') };
    }));
    // both at once: the first start of each races for the hub identity
    hubs.push(...(await Promise.all(configs.map((c, i) => startServer(`hub ${i + 1}`, ['hub', 'start', '--config', c.file], { logFile: c.log, env, timeoutMs: 120_000 })))));

    const fingerprint = (url: string) => new Promise<string>((resolve, reject) => {
      const u = new URL(url);
      const s = tlsConnect({ host: u.hostname, port: Number(u.port), ca: [caCertPem], servername: 'localhost' }, () => {
        resolve(s.getPeerCertificate().fingerprint256);
        s.end();
      });
      s.on('error', reject);
    });
    const fps = await Promise.all(hubs.map((h) => fingerprint(h.url)));
    t.equal(fps[0], fps[1], 'both hubs serve the same certificate');
    t.equal((await db('hub_certs').where({ node_id: '430000' })).length, 2, 'one hub certificate of each key type issued (RSA, and EC P-256 since issue 23)');
    const stored = (await db('hub_settings').whereIn('name', ['hub_identity', 'hub_identity_ec']).select('name', 'value')) as { name: string; value: string }[];
    t.same(stored.map((r) => certFromPem((JSON.parse(r.value) as { certPem: string }).certPem).keyKind).sort(), ['ec-p256', 'rsa'], 'both identities in the store, shared by the two processes');

    const agents: Agent[] = [];
    t.teardown(async () => {
      for (const a of agents) await a.close();
    });
    const anonymous = new Agent({ connect: { ca: [caCertPem] } });
    agents.push(anonymous);
    const call = async (agent: Agent, url: string, path: string, body: unknown) => {
      const res = await request(url + path, { method: 'POST', dispatcher: agent, body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });
      return { status: res.statusCode, json: (await res.body.json()) as { code?: string } & Record<string, unknown> };
    };

    const ca = openHubCa(db, caDir);
    const nodes = await Promise.all(NODES.map(async (nodeId, i) => {
      const { token } = await makeToken(db, ca, { nodeId, grade: 3, ttlMs: 3_600_000 });
      const { keyPem, csrPem } = createNodeKeys(nodeId);
      const r = await call(anonymous, hubs[i % 2]!.url, '/v1/enroll', { token, csrPem });
      if (r.status !== 200) throw new Error(`enrolment of ${nodeId}: ${JSON.stringify(r.json)}`);
      const res = r.json as unknown as EnrollResponse;
      const agent = new Agent({ connect: tlsClientOptions({ caCertPem, certPem: res.certPem, keyPem, expectNodeId: '430000' }) });
      agents.push(agent);
      return { nodeId, keyPem, certPem: res.certPem, hubCertPem: res.hubCertPem, agent };
    }));
    t.same(new Set(nodes.map((n) => n.hubCertPem)).size, 1, 'both hubs hand out the same hub certificate at enrolment');

    const statuses = new Map<string, number>();
    const sent = new Map<string, string[]>();
    const batch = async (n: (typeof nodes)[number], seq: number, hub: ServerProcess) => {
      const records = Array.from({ length: RECORDS }, () => wire('XK'));
      const env = await seal({ type: 'batch', from: n.nodeId, to: '430000', seq, payload: { records, withdrawals: [] }, sender: { keyPem: n.keyPem, certPem: n.certPem }, recipientCertPem: n.hubCertPem });
      const r = await call(n.agent, hub.url, '/v1/batches', env);
      const key = r.status === 200 ? '200' : `${r.status} ${String(r.json.code)}`;
      statuses.set(key, (statuses.get(key) ?? 0) + 1);
      if (r.status === 200) sent.set(n.nodeId, [...(sent.get(n.nodeId) ?? []), ...records.map((x) => x.id)]);
    };
    await Promise.all(nodes.map(async (n, i) => {
      for (let p = 0; p < PAIRS; p++) {
        const seq = 2 * p + 1;
        // n to one hub, n + 1 to the other, at once (alternating which hub gets the odd seq)
        await Promise.all([batch(n, seq, hubs[(p + i) % 2]!), batch(n, seq + 1, hubs[(p + i + 1) % 2]!)]);
      }
    }));
    t.same(Object.fromEntries(statuses), { 200: NODES.length * PAIRS * 2 }, 'every batch accepted: no 5xx, no ERR_SEQUENCE_GAP');

    for (const h of hubs) await h.stop(); // SIGTERM: each signs a final checkpoint
    for (const n of nodes) {
      const ids = (await db('hub_records').where({ source_node: n.nodeId }).select('id')).map((r: { id: string }) => r.id);
      t.equal(ids.length, new Set(ids).size, `${n.nodeId}: no duplicates`);
      t.same([...ids].sort(), [...(sent.get(n.nodeId) ?? [])].sort(), `${n.nodeId}: every record sent is at the hub (lost 0)`);
    }

    const rows = ((await db('audit_log').orderBy('seq')) as EntryRow[]).map(fromRow);
    let prev = GENESIS_HASH;
    let broken = 0;
    rows.forEach((e, i) => {
      const { leafHash, ...fields } = e;
      if (e.seq !== i + 1 || e.prevHash !== prev || hashEntry(fields) !== leafHash) broken++;
      prev = leafHash;
    });
    t.equal(broken, 0, `one audit chain of ${rows.length} entries: consecutive seqs, each linked to the one before`);
    t.equal(rows.filter((r) => r.action === 'batch.receive').length, NODES.length * PAIRS * 2, 'one batch.receive entry per batch');
    t.equal(rows.filter((r) => r.action === 'node.enrol').length, NODES.length, 'one node.enrol entry per node');
    const leaves = rows.map((e) => Buffer.from(e.leafHash, 'hex'));
    const cps = (await db('audit_checkpoints').orderBy('tree_size')) as Array<{ tree_size: number | string; root_hash: string }>;
    t.ok(cps.length > 0, 'checkpoints signed');
    t.same(cps.filter((c) => merkleRoot(leaves.slice(0, Number(c.tree_size))).toString('hex') !== c.root_hash).map((c) => c.tree_size), [], 'every checkpoint root covers the entries before it');
  });
}
