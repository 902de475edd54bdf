/**
 * City nodes against the real hub, in process, over real mutual TLS on loopback: enrolment
 * (`credit node init` and enrollNode with hub tokens), push with signed receipts, distributions by
 * grade, withdrawal propagation, province-wide queries by grade/clearance/purpose, witnessing,
 * renewal of a short (1-day) certificate, and a hub outage while records are written (the hub
 * closed, then started again on the same port and store: nothing lost, nothing twice).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import type { Knex } from 'knex';
import { exampleRecord } from '../../protocol/catalog.js';
import type { Classification } from '../../protocol/classification.js';
import { certFromPem } from '../../protocol/crypto.js';
import { initCaDir } from '../../certs/ca-dir.js';
import { buildHubConfig, makeToken, startHub, type HubConfig, type RunningHub } from '../../hub/index.js';
import { enrollNode } from '../../node/exchange/enroll.js';
import { exchangePaths } from '../../node/exchange/files.js';
import { renewalDue } from '../../node/exchange/renewal.js';
import { main } from '../../scripts/cli.js';
import { sqliteEngine } from '../helpers/db.js';
import { eventually, nodeApp, type NodeApp } from './exchange-fixture.js';

const FAST = { pollIntervalMs: 100, batchMaxAgeMs: 20, checkpointIntervalMs: 500 };
const SUBJECT = exampleRecord('CF').fields.uscc as string;

interface Province {
  dir: string;
  caFile: string;
  caCertPem: string;
  setHubOffset(ms: number): void;
  hub: RunningHub;
  hubDb: Knex;
  config: HubConfig;
  token(nodeId: string, grade: number): Promise<string>;
  /** Closes the hub and starts it again on the same port and store. */
  restartHub(between?: () => Promise<void>): Promise<void>;
  /** Enrols a node (EC P-256 unless `algorithm` is rsa, as `credit node init`) and starts it. */
  node(nodeId: string, grade: number, how?: 'cli' | 'api', algorithm?: 'p256' | 'rsa'): Promise<NodeApp>;
}

async function province(t: { teardown(fn: () => unknown): void }, extra: Record<string, unknown> = {}): Promise<Province> {
  const dir = mkdtempSync(join(tmpdir(), 'node-hub-it-'));
  const caDir = join(dir, 'ca');
  const { certPem: caCertPem } = await initCaDir(caDir, { cn: 'Test Provincial Credit CA (node-hub)' });
  const caFile = join(dir, 'ca.pem');
  writeFileSync(caFile, caCertPem);
  const store = await sqliteEngine.open();
  let config = buildHubConfig({ dataDir: join(dir, 'hub'), caDir, listen: { host: '127.0.0.1', port: 0 }, rateLimit: { enabled: false }, logLevel: 'silent', ...extra }, {});
  let hubOffset = 0;
  const hubClock = () => new Date(Date.now() + hubOffset);
  let hub = await startHub({ config, db: store.db, clock: hubClock });
  const nodes: NodeApp[] = [];
  t.teardown(async () => {
    for (const n of nodes) await n.close();
    await hub.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const p: Province = {
    dir, caFile, caCertPem, hub, hubDb: store.db, config,
    setHubOffset: (ms) => void (hubOffset = ms),
    token: async (nodeId, grade) => (await makeToken(store.db, p.hub.app.hubCtx.ca, { nodeId, grade, ttlMs: 3_600_000 })).token,
    async restartHub(between) {
      const port = new URL(p.hub.url).port;
      await p.hub.close();
      await between?.();
      config = buildHubConfig({ ...extra, dataDir: join(dir, 'hub'), caDir, listen: { host: '127.0.0.1', port: Number(port) }, rateLimit: { enabled: false }, logLevel: 'silent' }, {});
      hub = p.hub = await startHub({ config, db: store.db, clock: hubClock });
    },
    async node(nodeId, grade, how = 'api', algorithm) {
      const nodeDir = join(dir, `node-${nodeId}`);
      const dataDir = join(nodeDir, 'data');
      const token = await p.token(nodeId, grade);
      if (how === 'cli') {
        const configFile = join(nodeDir, 'node.json');
        rmSync(nodeDir, { recursive: true, force: true });
        await import('node:fs').then((fs) => fs.mkdirSync(nodeDir, { recursive: true }));
        writeFileSync(configFile, JSON.stringify({ nodeId, dataDir: 'data' }));
        const err: string[] = [];
        const code = await main(['node', 'init', '--config', configFile, '--hub', p.hub.url, '--token', token, '--ca', caFile, ...(algorithm ? ['--algorithm', algorithm] : [])], { stdout: () => undefined, stderr: (s) => void err.push(s) });
        if (code !== 0) throw new Error(`credit node init failed: ${err.join('')}`);
        if (JSON.parse(readFileSync(configFile, 'utf8')).hub.url !== p.hub.url) throw new Error('hub.url not set');
      } else {
        await enrollNode({ dataDir, nodeId, hubUrl: p.hub.url, token, caCertPem, ...(algorithm ? { algorithm } : {}) });
      }
      const n = await nodeApp(dataDir, { url: p.hub.url, ...FAST }, nodeId);
      nodes.push(n);
      return n;
    },
  };
  return p;
}

function rec(type: string, n: number, classification?: Classification) {
  const e = exampleRecord(type);
  return { type, ...(classification ? { classification } : {}), fields: { ...e.fields, decisionNo: `省测〔2026〕${n}号` } };
}

async function status(n: NodeApp) {
  const r = await n.app.inject({ method: 'GET', url: '/v1/exchange/status', headers: await n.auth('auditor', 'public') });
  return r.json();
}

const drained = (n: NodeApp, atLeast = 1) =>
  eventually('the outbox to drain', async () => {
    const s = await status(n);
    return s.outbox.pending === 0 && s.batches.pending === 0 && s.batches.accepted >= atLeast ? s : undefined;
  });

t.test('enrol, push with receipts, distributions by grade, withdrawal, province query, witness', async (t) => {
  const p = await province(t);
  const changsha = await p.node('430100', 3, 'cli');
  const changde = await p.node('430700', 2);

  const post = await changsha.app.inject({ method: 'POST', url: '/v1/records', headers: await changsha.auth('submitter', 'internal'), payload: [rec('CF', 1), rec('SXBZX', 2), rec('XK', 3, 'restricted'), rec('XK', 4, 'internal')] });
  t.equal(post.statusCode, 201);
  const ids = (post.json().records as { id: string }[]).map((r) => r.id);
  const st = await drained(changsha);
  t.equal(st.batches.refused, 0);
  const batches = await changsha.app.nodeCtx.db('node_batches').where({ status: 'accepted' });
  t.equal(batches.reduce((n: number, b: { accepted: number }) => n + Number(b.accepted), 0), 3, 'three records accepted by receipt; the internal one never left');
  t.ok(batches.every((b: { receipt: string }) => JSON.parse(b.receipt).from === '430000'), 'receipts from the hub stored');
  t.same((await p.hubDb('hub_records').where({ source_node: '430100' }).orderBy('id')).map((r: { id: string }) => r.id), ids.slice(0, 3).sort());

  const seen = await eventually('常德 to hold 长沙 records', async () => {
    const rows = await changde.app.nodeCtx.db('node_records').where({ source_node: '430100' });
    return rows.length >= 2 ? rows : undefined;
  });
  t.same(seen.map((r: { id: string; class: string }) => [r.id, r.class]).sort(), [[ids[0], 'public'], [ids[1], 'shared']].sort(), 'grade 2 receives public and shared only, same ids');
  t.equal((await changde.app.nodeCtx.db('node_outbox')).length, 0, 'received records are not sent back');

  const q = await changde.app.inject({ method: 'GET', url: `/v1/subjects/${SUBJECT}?scope=province&purpose=${encodeURIComponent('行政审批 2026-7')}`, headers: await changde.auth('query', 'restricted', 'erin') });
  t.equal(q.statusCode, 200);
  const qb = q.json();
  t.same(qb.records.map((r: { id: string }) => r.id).sort(), [ids[0], ids[1]].sort(), 'a grade 2 node gets public and shared');
  t.match(qb.withheld, [{ classification: 'restricted', count: 1 }], 'restricted withheld by the hub for grade 2');
  const q3 = await changsha.app.inject({ method: 'GET', url: `/v1/subjects/${SUBJECT}?scope=province&purpose=${encodeURIComponent('行政审批 2026-8')}`, headers: await changsha.auth('query', 'restricted') });
  t.same(q3.json().records.map((r: { id: string }) => r.id).sort(), ids.slice(0, 3).sort(), 'a grade 3 node with clearance and purpose gets restricted too');
  const noPurpose = await changsha.app.inject({ method: 'GET', url: `/v1/subjects/${SUBJECT}?scope=province`, headers: await changsha.auth('query', 'restricted') });
  t.equal(noPurpose.json().records.length, 2);
  t.match(noPurpose.json().withheld, [{ classification: 'restricted', code: 'ERR_PURPOSE_REQUIRED', count: 1 }]);

  const w = await changsha.app.inject({ method: 'POST', url: `/v1/records/${ids[0]}/withdraw`, headers: await changsha.auth('officer', 'internal'), payload: { reason: 'correction', note: '更正' } });
  t.equal(w.statusCode, 200);
  const gone = await eventually('the withdrawal at 常德', async () => {
    const r = await changde.app.nodeCtx.db('node_records').where({ id: ids[0] }).first();
    return r.status === 'withdrawn' ? r : undefined;
  });
  t.equal(gone.withdrawn_reason, 'correction');
  const local = await changde.app.inject({ method: 'GET', url: `/v1/subjects/${SUBJECT}`, headers: await changde.auth('query', 'shared') });
  t.notOk(local.json().records.some((r: { id: string }) => r.id === ids[0]), '常德 no longer shows it');
  t.equal((await p.hubDb('hub_records').where({ id: ids[0] }).first()).status, 'withdrawn');

  const witnessed = await eventually('a cosigned checkpoint', async () => ((await status(changsha)).witness ?? undefined));
  t.ok(witnessed.treeSize > 0, 'the hub witnessed the node\'s audit log');
  t.ok(await p.hubDb('hub_witness').where({ node_id: '430100' }).first());
});

t.test('a hub outage while records are written: nothing lost, nothing twice', async (t) => {
  const p = await province(t);
  const node = await p.node('430100', 3);
  const auth = await node.auth('submitter', 'public');
  await node.app.inject({ method: 'POST', url: '/v1/records', headers: auth, payload: [rec('CF', 10)] });
  await drained(node);
  await p.restartHub(async () => {
    for (const n of [11, 12, 13]) t.equal((await node.app.inject({ method: 'POST', url: '/v1/records', headers: auth, payload: [rec('CF', n)] })).statusCode, 201, 'writes go on while the hub is down');
    // the sender's first failure may come before it has cut the new records into a batch (under
    // load): wait for both, a failed send and a batch waiting for its receipt
    const failing = await eventually('the sender to notice, a batch waiting', async () => {
      const s = await status(node);
      return s.lastError?.loop === 'sender' && s.batches.pending >= 1 ? s : undefined;
    });
    t.equal(failing.lastError.code, 'ERR_HUB_UNAVAILABLE');
    t.ok(failing.batches.pending >= 1, 'a batch waits for its receipt');
  });
  await drained(node, 2);
  // every loop recovers on its own next step: the sender first, the others (notices, puller…)
  // when their backoff from the outage ends; the ceiling allows two retries at the 30 s cap
  const after = await eventually('every loop recovered', async () => {
    const s = await status(node);
    return s.lastError === null ? s : undefined;
  }, 90_000);
  t.equal(after.lastError, null, 'recovered');
  const sent = await node.app.nodeCtx.db('node_batches').orderBy('seq');
  t.same(sent.map((b: { seq: number | string }) => Number(b.seq)), sent.map((_: unknown, i: number) => i + 1), 'seq 1..n without gaps');
  t.ok(sent.every((b: { status: string }) => b.status === 'accepted'));
  const hubRecords = await p.hubDb('hub_records').where({ source_node: '430100' });
  t.equal(hubRecords.length, 4, 'every record at the hub');
  const envelopes = await p.hubDb('hub_envelopes').where({ from_node: '430100', type: 'batch' });
  t.same(envelopes.map((e: { id: string }) => e.id).sort(), sent.map((b: { id: string }) => b.id).sort(), 'each batch processed once, under its own id');
});

t.test('renewal of a short certificate against the real hub; the new one is used at once', async (t) => {
  const p = await province(t, { nodeCertDays: 1, renewMinIntervalSeconds: 1 });
  // The hub renews only inside the last half of a certificate's life (issue 13 item 14), and TLS checks
  // certificates on real time: enrol with the hub's clock 0.7 days back, so the certificate is in its
  // renewal window now, then renew on real time.
  p.setHubOffset(-0.7 * 86_400_000);
  const node = await p.node('430100', 3);
  p.setHubOffset(0);
  const ex = node.app.nodeCtx.exchange!;
  const before = ex.identity.current().certPem;
  // the renewal (this call's or the loop's) is an event of the identity, not something to poll for
  const renewed = new Promise<void>((resolve) => ex.identity.onChange((m) => void (m.certPem !== before && resolve())));
  const nb = certFromPem(before).notBefore.getTime();
  const life = certFromPem(before).notAfter.getTime() - nb;
  t.ok(life <= 2 * 86400_000, 'a one-day certificate');
  t.notOk(renewalDue(before, new Date(nb + 0.1 * life), 0.34), 'fresh: not due');
  t.ok(renewalDue(before, new Date(nb + 0.7 * life), 0.34), 'due once a third of its life is left');
  // the node's own renewal loop sees the certificate due at start and may renew first: then this call is
  // rate-limited by the hub (one renewal per node per interval), and we wait for the loop's renewal
  await ex.renewal.renewNow().catch((e: { code?: string }) => { if (e.code !== 'ERR_RENEWAL_RATE_LIMITED') throw e; });
  if (ex.identity.current().certPem === before) await renewed;
  const after = ex.identity.current().certPem;
  t.not(certFromPem(after).serial, certFromPem(before).serial);
  t.equal(readFileSync(exchangePaths(node.config.dataDir).cert, 'utf8'), after);
  t.ok(await p.hubDb('hub_certs').where({ node_id: '430100' }).count({ n: '*' }).first().then((r) => Number((r as { n: number }).n) === 2), 'both certificates in the hub register');
  t.same([certFromPem(before).keyKind, certFromPem(after).keyKind], ['ec-p256', 'ec-p256'], 'an EC node (the default) renews to a new EC key');
  await node.app.inject({ method: 'POST', url: '/v1/records', headers: await node.auth('submitter', 'public'), payload: [rec('CF', 20)] });
  await drained(node);
  const env = await p.hubDb('hub_envelopes').where({ from_node: '430100', type: 'batch' }).first();
  t.ok(env, 'the batch after the renewal was accepted');
  const q = await node.app.inject({ method: 'GET', url: `/v1/subjects/${SUBJECT}?scope=province`, headers: await node.auth('query', 'public') });
  t.equal(q.statusCode, 200, 'queries work over the new connection');
});

t.test('a mixed federation (issue 23): an EC node (the default) and an RSA node (--algorithm rsa) exchange both ways through one hub', async (t) => {
  const p = await province(t);
  const ec = await p.node('430100', 3, 'cli');
  const rsa = await p.node('430700', 3, 'cli', 'rsa');
  const ecM = ec.app.nodeCtx.exchange!.identity.current();
  const rsaM = rsa.app.nodeCtx.exchange!.identity.current();
  t.same([certFromPem(ecM.certPem).keyKind, certFromPem(ecM.hubCertPem).keyKind], ['ec-p256', 'ec-p256'], 'credit node init makes an EC node, which encrypts to the hub\'s EC certificate');
  t.same([certFromPem(rsaM.certPem).keyKind, certFromPem(rsaM.hubCertPem).keyKind], ['rsa', 'rsa'], '--algorithm rsa still makes an RSA node');
  const fromEc = await ec.app.inject({ method: 'POST', url: '/v1/records', headers: await ec.auth('submitter', 'public'), payload: [rec('CF', 31)] });
  const fromRsa = await rsa.app.inject({ method: 'POST', url: '/v1/records', headers: await rsa.auth('submitter', 'public'), payload: [rec('CF', 32)] });
  t.equal(fromEc.statusCode, 201);
  t.equal(fromRsa.statusCode, 201);
  await drained(ec);
  await drained(rsa);
  const ecId = (fromEc.json().records as { id: string }[])[0]!.id;
  const rsaId = (fromRsa.json().records as { id: string }[])[0]!.id;
  await eventually('the RSA node to hold the EC node\'s record', async () => (await rsa.app.nodeCtx.db('node_records').where({ id: ecId, source_node: '430100' }).first()) ?? undefined);
  await eventually('the EC node to hold the RSA node\'s record', async () => (await ec.app.nodeCtx.db('node_records').where({ id: rsaId, source_node: '430700' }).first()) ?? undefined);
  const receiptSuite = async (n: NodeApp) => (JSON.parse((await n.app.nodeCtx.db('node_batches').where({ status: 'accepted' }).first()).receipt as string) as { suite: string }).suite;
  t.equal(await receiptSuite(ec), 'CF1-ECDH-ES-A256KW-A256GCM-ES256', 'the EC node\'s stored receipt is EC');
  t.equal(await receiptSuite(rsa), 'CF1-RSA-OAEP-256-A256GCM-PS256', 'the RSA node\'s stored receipt is RSA');
  const q = await ec.app.inject({ method: 'GET', url: `/v1/subjects/${SUBJECT}?scope=province`, headers: await ec.auth('query', 'public') });
  t.equal(q.statusCode, 200, JSON.stringify(q.json()));
  t.ok((q.json().records as { id: string }[]).some((r) => r.id === rsaId), 'a province query from the EC node returns the RSA node\'s record');
});
