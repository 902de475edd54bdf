/**
 * Outages (issue #8 part 2), real processes: a city node sends to the real hub through a
 * fault-injecting proxy (scripts/faults/fault-proxy.ts) while the hub is killed, answers 500s,
 * hangs, swallows connections, or commits a batch whose answer is lost. In each phase the node
 * takes a CSV import, its sender fails as it should (the error code, the timeout that fired), the
 * backoff grows and stays capped (the delays the node logged, and the gaps the proxy measured are
 * never shorter), its connections stay bounded and its RSS does not grow; once the fault is lifted
 * the outbox drains with every record at the hub once and every receipt the hub's own.
 * (test/e2e/outage.test.ts covers a hub killed with batches in flight and a node restarted during
 * an outage; this file adds the other ways a hub fails, and the node's behaviour while it waits.)
 *
 * `npm test`: a few seconds per fault. CREDIT_FAULTS=long: minutes per fault (the backoff reaches
 * its 30 s cap and the node's RSS is watched all along), 5,000-line imports.
 */
import t, { type Test } from 'tap';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeCfCsv } from '../../scripts/bench/cf-data.js';
import { CHANGSHA, Cluster, waitFor, type ExchangeStatus } from '../../scripts/faults/cluster.js';
import { startFaultProxy, type ProxyMode } from '../../scripts/faults/fault-proxy.js';
import { census } from '../../scripts/faults/invariants.js';
import { retryLines, rssHalves, sampleRss } from '../../scripts/faults/process-watch.js';

const LONG = process.env.CREDIT_FAULTS === 'long';
if (LONG) t.setTimeout(3_600_000);
const LINES = LONG ? 5000 : 600;
const CAP_MS = 30_000;
const BASE_MS = 500;

const dir = mkdtempSync(join(tmpdir(), 'cf-outage-hub-'));
const cluster = new Cluster(dir);
t.teardown(async () => {
  await cluster.close();
  await proxy?.close();
  rmSync(dir, { recursive: true, force: true });
});
await cluster.init();
await cluster.startHub();
const hubData = join(cluster.hubDir, 'data');
const caPem = readFileSync(cluster.caCertFile, 'utf8');
const proxy = await startFaultProxy({ upstreamPort: cluster.hubPort, hubKeyPem: readFileSync(join(hubData, 'hub.key'), 'utf8'), hubCertPem: readFileSync(join(hubData, 'hub.pem'), 'utf8'), caCertPem: caPem });
const A = CHANGSHA.id;
const node = await cluster.addNode(CHANGSHA, { hubUrl: proxy.url, hubKeys: { timeoutMs: 1000, checkpointIntervalMs: 5000 } });
const exDir = join(node.dataDir, 'exchange');
proxy.setNodeIdentity({ keyPem: readFileSync(join(exDir, 'node.key'), 'utf8'), certPem: readFileSync(join(exDir, 'node.pem'), 'utf8') });
await cluster.startNode(A, { CREDIT_LOG_LEVEL: 'debug' }); // every retry is logged with its attempt and delay
const logFile = join(node.dir, 'node.log');

let seed = 100;
/** A fresh import (new natural keys) while the fault is on; resolves once the node has stored it. */
async function importWhileFaulty(): Promise<void> {
  const file = join(dir, `phase-${++seed}.csv`);
  const { bad } = await writeCfCsv(file, LINES, 100, seed);
  const r = await cluster.importFile(A, file);
  if (r.status !== 200 || r.body.accepted !== LINES - bad) throw new Error(`import: ${r.status} ${JSON.stringify(r.body)}`);
}

/** Waits for the sender's lastError to satisfy `match`, holding the fault at least `holdMs`; samples RSS meanwhile. */
async function hold(what: string, match: (e: NonNullable<ExchangeStatus['lastError']>) => boolean, holdMs: number) {
  const rss = sampleRss(node.process!.pid, LONG ? 1000 : 250);
  const t0 = Date.now();
  const retriesBefore = retryLines(logFile, 'sender').length;
  const err = await waitFor(what, async () => {
    const e = (await cluster.status(A)).lastError;
    return e && e.loop === 'sender' && match(e) ? e : undefined;
  }, { timeoutMs: 120_000, everyMs: 200 });
  const left = holdMs - (Date.now() - t0);
  if (left > 0) await new Promise((r) => setTimeout(r, left));
  const status = await cluster.status(A);
  const samples = rss.stop();
  const r = rssHalves(samples);
  t.comment(`${what}: fault held ${((Date.now() - t0) / 1000).toFixed(1)} s, ${retryLines(logFile, 'sender').length - retriesBefore} sender retries, last error ${err.code} (${err.message}), RSS ${samples.length} samples, max ${r.max.toFixed(0)} MiB`);
  return { err, status, rss: r };
}

/** Lifts the fault and checks the invariants: everything at the hub once, every receipt the hub's. */
async function recovered(t: Test, mode: ProxyMode = 'pass') {
  proxy.setMode(mode);
  await cluster.drained(A, 180_000);
  const c = await census(cluster, A, [], [readFileSync(join(exDir, 'node.key'), 'utf8')]);
  t.equal(c.missingAtHub, 0, 'nothing lost: every sendable record is at the hub');
  t.equal(c.hubRecords, c.nodeSendable, 'each record once at the hub');
  t.equal(c.hubDuplicates + c.acceptedTwice, 0, 'no duplicates');
  t.equal(c.receiptsMatched, c.receipts, `all ${c.receipts} receipts are the envelopes the hub recorded, with the same accepted ids`);
  t.same(c.problems, []);
  t.comment(`after the fault: ${c.hubRecords} records at the hub from ${A} (${c.nodeSendable} sendable at the node), ${c.receiptsMatched}/${c.receipts} receipts matched`);
  return c;
}

function rssBounded(t: Test, r: ReturnType<typeof rssHalves>) {
  t.comment(`node RSS while retrying: peak ${r.firstPeak.toFixed(0)} MiB in the first half, ${r.secondPeak.toFixed(0)} MiB in the second`);
  t.ok(r.growth < 48, `RSS does not grow while retrying (first-half peak ${r.firstPeak.toFixed(0)} MiB, second-half ${r.secondPeak.toFixed(0)} MiB)`);
}

t.test('the hub process is down for a while, then back', async (t) => {
  await cluster.hub!.kill();
  await importWhileFaulty();
  const h = await hold('the sender to fail', (e) => e.code === 'ERR_HUB_UNAVAILABLE', LONG ? 180_000 : 2000);
  t.equal(h.err.code, 'ERR_HUB_UNAVAILABLE', `the sender reports the hub unreachable (${h.err.message})`);
  t.ok(h.status.outbox.pending + h.status.batches.pending > 0, 'the records wait in the outbox');
  rssBounded(t, h.rss);
  await cluster.startHub();
  await recovered(t);
});

t.test('the hub answers 500: the backoff grows, is capped, and is honoured', async (t) => {
  proxy.setMode('http500');
  await importWhileFaulty();
  // Counted from the first retry after the import: each commit of the import wakes the sender, and
  // a wake that comes while a round is failing cuts the next wait short (new work is sent at once,
  // node/exchange/loop.ts), so only the retries after that one show the backoff alone.
  const afterImport = retryLines(logFile, 'sender').length;
  await waitFor('a retry after the import', async () => (retryLines(logFile, 'sender').length > afterImport ? true : undefined), { timeoutMs: 60_000, everyMs: 100 });
  const from = retryLines(logFile, 'sender').length;
  const rss = sampleRss(node.process!.pid, LONG ? 1000 : 250);
  const h = await hold('the 500s to show', (e) => e.code === 'ERR_INTERNAL', 0);
  t.equal(h.err.code, 'ERR_INTERNAL', 'the hub\'s own 500 code comes through');
  const want = LONG ? 10 : 4;
  await waitFor(`${want} retries`, async () => (retryLines(logFile, 'sender').length - from >= want ? true : undefined), { timeoutMs: LONG ? 400_000 : 60_000, everyMs: 250 });
  const samples = rss.stop();
  t.comment(`500s for ${((samples.at(-1)?.t ?? 0) / 1000).toFixed(1)} s: RSS ${samples.length} samples, max ${rssHalves(samples).max.toFixed(0)} MiB`);
  rssBounded(t, rssHalves(samples));
  const retries = retryLines(logFile, 'sender').slice(from).filter((l) => l.code === 'ERR_INTERNAL');
  t.ok(retries.length >= want, `${retries.length} retries logged`);
  retries.forEach((r, i) => {
    const ceiling = Math.min(CAP_MS, BASE_MS * 2 ** (r.attempt - 1));
    t.equal(r.attempt, retries[0]!.attempt + i, `attempt ${r.attempt} follows the one before`);
    t.ok(r.retryInMs <= ceiling && r.retryInMs >= ceiling / 2, `attempt ${r.attempt}: waits ${r.retryInMs} ms, within [${ceiling / 2}, ${ceiling}]`);
  });
  t.ok(retries.every((r) => r.retryInMs <= CAP_MS), `no wait above the ${CAP_MS} ms cap`);
  if (LONG) t.ok(retries.some((r) => r.attempt >= 7), 'the cap was reached');
  // the proxy saw the next attempt no sooner than the delay the node chose: the first POST after
  // each logged retry comes at least retryInMs after it (a round POSTs one or two batches, seq n and
  // n + 1, so POSTs are matched to retries by time, not by count)
  const posts = proxy.requests('POST', '/v1/batches', 'http500').map((e) => e.at);
  const waits: string[] = [];
  for (const r of retries.slice(0, -1)) {
    const next = posts.find((at) => at > r.time);
    if (next === undefined) continue;
    waits.push(`${next - r.time}/${r.retryInMs}`);
    t.ok(next - r.time >= r.retryInMs - 5, `after attempt ${r.attempt}: next POST ${next - r.time} ms later ≥ the ${r.retryInMs} ms the node chose`);
  }
  t.ok(waits.length >= want - 1, `${waits.length} retries followed by a POST seen at the proxy`);
  t.comment(`${posts.length} POSTs seen by the proxy; after each retry, ms to the next POST / ms the node chose: ${waits.join(', ')}`);
  await recovered(t);
});

t.test('the hub hangs: the headers timeout fires and connections stay bounded', async (t) => {
  proxy.setMode('hang');
  await importWhileFaulty();
  let maxOpen = 0;
  const watch = setInterval(() => (maxOpen = Math.max(maxOpen, proxy.openConnections())), 50);
  const h = await hold('a timeout', (e) => /HEADERS_TIMEOUT|BODY_TIMEOUT/.test(e.message), LONG ? 120_000 : 0);
  clearInterval(watch);
  t.equal(h.err.code, 'ERR_HUB_UNAVAILABLE');
  t.match(h.err.message, /UND_ERR_HEADERS_TIMEOUT/, 'the node gave up waiting for an answer');
  t.ok(maxOpen <= 4, `at most the pool's 4 connections open at the proxy (saw ${maxOpen})`);
  if (LONG) rssBounded(t, h.rss);
  await recovered(t);
});

t.test('the hub never completes the handshake: the connect timeout fires', async (t) => {
  proxy.setMode('blackhole');
  await importWhileFaulty();
  const h = await hold('a connect timeout', (e) => /CONNECT_TIMEOUT/.test(e.message), 0);
  t.equal(h.err.code, 'ERR_HUB_UNAVAILABLE');
  t.match(h.err.message, /UND_ERR_CONNECT_TIMEOUT/, 'the node gave up connecting');
  await recovered(t);
});

t.test('the hub commits a batch but its answer is lost: the resend gets the stored receipt', async (t) => {
  const lostBefore = proxy.events.filter((e) => e.kind === 'lost-answer').length;
  proxy.setMode('lose-answer');
  await importWhileFaulty();
  await waitFor('an answer to be lost', async () => (proxy.events.filter((e) => e.kind === 'lost-answer').length > lostBefore ? true : undefined), { timeoutMs: 60_000 });
  const c = await recovered(t);
  const lost = proxy.events.filter((e) => e.kind === 'lost-answer').length - lostBefore;
  t.ok(lost >= 1, `${lost} answer(s) lost after the hub had committed the batch`);
  t.ok(c.receipts >= 1);
});
