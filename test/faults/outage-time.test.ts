/**
 * Time faults (issue #8 part 2), real processes: a node whose clock is off by more than the hub's
 * window (the hub runs with windowMs 60 s; the node's clock is moved by a test-only preload,
 * scripts/faults/clock-skew.mjs) has its batches refused with ERR_STALE_TIMESTAMP (400) and loses
 * nothing — once its clock is right everything arrives once. A node certificate that runs out while
 * the hub is away (hub nodeCertSeconds 15, renewAt 0.01: the renewal falls inside the outage) is
 * refused with ERR_CERT_EXPIRED (403) by the batch and renewal routes alike; `credit node init` with
 * a fresh `credit hub token` recovers, and what waited in the outbox is delivered once. Afterwards
 * both audit logs still verify against the CA.
 *
 * `npm test` and CREDIT_FAULTS=long differ only in the size of the imports.
 */
import t, { type Test } from 'tap';
import { mkdtempSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeCfCsv } from '../../scripts/bench/cf-data.js';
import { credit } from '../../scripts/demo/processes.js';
import { CHANGSHA, Cluster, waitFor } from '../../scripts/faults/cluster.js';
import { census, checkAudit, withDb } from '../../scripts/faults/invariants.js';
import { retryLines, skewedClockEnv } from '../../scripts/faults/process-watch.js';

const LONG = process.env.CREDIT_FAULTS === 'long';
if (LONG) t.setTimeout(1_800_000);
const LINES = LONG ? 5000 : 300;
const WINDOW_MS = 60_000;
const LIUYANG = { id: '430181', name: '浏阳市', grade: 3 };

const dir = mkdtempSync(join(tmpdir(), 'cf-outage-time-'));
const cluster = new Cluster(dir, { windowMs: WINDOW_MS });
t.teardown(async () => {
  await cluster.close();
  rmSync(dir, { recursive: true, force: true });
});
await cluster.init();
await cluster.startHub();
const caPem = readFileSync(cluster.caCertFile, 'utf8');

let seed = 200;
async function importInto(id: string, lines = LINES): Promise<void> {
  const file = join(dir, `time-${++seed}.csv`);
  const { bad } = await writeCfCsv(file, lines, 100, seed);
  const r = await cluster.importFile(id, file);
  if (r.status !== 200 || r.body.accepted !== lines - bad) throw new Error(`import: ${r.status} ${JSON.stringify(r.body)}`);
}

const hubCount = (id: string) => withDb(cluster.hubDb, async (db) => Number(((await db('hub_envelopes').where({ from_node: id, type: 'batch' }).count({ n: '*' }).first()) as { n: number | string }).n));
const exchangeDir = (id: string) => join(cluster.node(id).dataDir, 'exchange');
const nodeLog = (id: string) => join(cluster.node(id).dir, 'node.log');

/** Waits for a retry of `loop` logged after line `from` with `code`; returns it. */
function refusal(id: string, loop: string, code: string, from: number) {
  return waitFor(`${loop} of ${id} refused with ${code}`, async () => retryLines(nodeLog(id), loop).slice(from).find((l) => l.code === code), { timeoutMs: 90_000, everyMs: 250 });
}

/** The node's exchange status once its lastError carries `code` (several loops fail; the last one to fail shows). */
function shownInStatus(id: string, code: string) {
  return waitFor(`${id}'s status to show ${code}`, async () => {
    const s = await cluster.status(id);
    return s.lastError?.code === code ? s : undefined;
  }, { timeoutMs: 60_000, everyMs: 100 });
}

async function everythingOnce(t: Test, id: string, keyPems: string[]) {
  await cluster.drained(id, 120_000);
  const c = await census(cluster, id, [], keyPems);
  t.equal(c.missingAtHub, 0, 'nothing lost');
  t.equal(c.hubRecords, c.nodeSendable, `each of the ${c.nodeSendable} records once at the hub`);
  t.equal(c.hubDuplicates + c.acceptedTwice, 0, 'no duplicates');
  t.equal(c.receiptsMatched, c.receipts, `all ${c.receipts} receipts are the hub's, with the same accepted ids`);
  t.same(c.problems, []);
}

async function auditsVerify(t: Test, id: string) {
  const ex = exchangeDir(id);
  const node = await checkAudit(cluster.nodeDb(id), { nodeId: id, keyFile: join(ex, 'node.key'), certFile: join(ex, 'node.pem') }, caPem, dir);
  t.ok(node.ok, `${id}'s audit log verifies (${node.entries} entries, ${node.checkpoints} checkpoints)${node.code ? `: ${node.code} ${node.reason}` : ''}`);
  const hub = await checkAudit(cluster.hubDb, { nodeId: '430000', keyFile: join(cluster.hubDir, 'data', 'hub.key'), certFile: join(cluster.hubDir, 'data', 'hub.pem') }, caPem, dir);
  t.ok(hub.ok, `the hub's audit log verifies (${hub.entries} entries)${hub.code ? `: ${hub.code} ${hub.reason}` : ''}`);
}

const A = CHANGSHA.id;
await cluster.addNode(CHANGSHA);

for (const skew of [2 * WINDOW_MS, -2 * WINDOW_MS]) {
  t.test(`a node whose clock is ${skew > 0 ? 'ahead' : 'behind'} by ${Math.abs(skew) / 1000} s is refused with ERR_STALE_TIMESTAMP`, async (t) => {
    const from = retryLines(nodeLog(A), 'sender').length;
    const before = await hubCount(A);
    await cluster.startNode(A, skewedClockEnv(skew));
    await cluster.remintToken(A, new Date(Date.now() + skew)); // its API refuses a token issued in its future (issue 18)
    await importInto(A);
    const r = await refusal(A, 'sender', 'ERR_STALE_TIMESTAMP', from);
    t.equal(r.status, 400, 'ERR_STALE_TIMESTAMP with HTTP 400');
    const s = await shownInStatus(A, 'ERR_STALE_TIMESTAMP');
    t.equal(s.lastError?.code, 'ERR_STALE_TIMESTAMP', `GET /v1/exchange/status names the refusal (${s.lastError?.loop}: ${s.lastError?.message})`);
    t.ok(s.outbox.pending + s.batches.pending > 0, 'the records wait in the outbox');
    t.equal(await hubCount(A), before, 'the hub took no batch');
    await cluster.node(A).process!.stop();
  });
}

t.test('with its clock right again, the node delivers everything once', async (t) => {
  await cluster.startNode(A);
  await everythingOnce(t, A, [readFileSync(join(exchangeDir(A), 'node.key'), 'utf8')]);
  await auditsVerify(t, A);
  await cluster.node(A).process!.stop();
});

t.test('a certificate that runs out while the hub is away: ERR_CERT_EXPIRED, then credit node init recovers', async (t) => {
  await cluster.hub!.stop();
  cluster.reconfigureHub({ nodeCertSeconds: 15 });
  await cluster.startHub();
  const C = LIUYANG.id;
  const node = await cluster.addNode(LIUYANG, { hubKeys: { renewAt: 0.01 } });
  const oldKey = readFileSync(join(exchangeDir(C), 'node.key'), 'utf8');
  await cluster.startNode(C, { CREDIT_LOG_LEVEL: 'debug' });
  // The hub goes away at once and stays away past the certificate's end, so the renewal due 3 s
  // before it cannot happen (however long the node took to start on a busy machine).
  await cluster.hub!.kill();
  const delivered = await hubCount(C);
  const notAfter = Date.parse((await cluster.status(C)).certificate.notAfter);
  const senderFrom = retryLines(nodeLog(C), 'sender').length;
  const renewalFrom = retryLines(nodeLog(C), 'renewal').length;
  await importInto(C);
  await new Promise((r) => setTimeout(r, Math.max(0, notAfter + 1000 - Date.now())));
  await cluster.startHub();
  await importInto(C, 100); // new work wakes the sender
  const sent = await refusal(C, 'sender', 'ERR_CERT_EXPIRED', senderFrom);
  t.equal(sent.status, 403, 'batches refused with ERR_CERT_EXPIRED, HTTP 403');
  const renew = await refusal(C, 'renewal', 'ERR_CERT_EXPIRED', renewalFrom);
  t.equal(renew.status, 403, 'renewal refused with ERR_CERT_EXPIRED, HTTP 403: an expired certificate cannot renew itself');
  const s = await shownInStatus(C, 'ERR_CERT_EXPIRED');
  t.equal(s.lastError?.code, 'ERR_CERT_EXPIRED', `GET /v1/exchange/status names the refusal (${s.lastError?.loop}: ${s.lastError?.message})`);
  t.ok(s.outbox.pending + s.batches.pending > 0, 'the records wait in the outbox');
  t.equal(await hubCount(C), delivered, 'nothing more reached the hub');

  // the operator's way back: a fresh token and `credit node init`. The hub goes back to its normal
  // certificate lifetime first: a second 15-second certificate could run out again while a loaded
  // machine drains the outbox, and the wait below would then depend on the machine's speed.
  await node.process!.stop();
  await cluster.hub!.stop();
  cluster.reconfigureHub({ nodeCertSeconds: undefined });
  await cluster.startHub();
  renameSync(exchangeDir(C), `${exchangeDir(C)}.expired`);
  const token = await credit(['hub', 'token', '--config', cluster.hubConfigFile, '--node', C, '--grade', '3'], { env: cluster.env });
  t.equal(token.code, 0, token.stderr);
  const init = await credit(['node', 'init', '--config', node.configFile, '--hub', cluster.hubUrl, '--token', token.stdout.trim(), '--ca', cluster.caCertFile], { env: cluster.env });
  t.equal(init.code, 0, init.stderr);
  await cluster.startNode(C);
  await everythingOnce(t, C, [readFileSync(join(exchangeDir(C), 'node.key'), 'utf8'), oldKey]);
  await auditsVerify(t, C);
});
