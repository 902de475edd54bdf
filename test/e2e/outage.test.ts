/**
 * End to end, real processes: the hub killed while batches are in flight, a node restarted with a
 * full outbox while the hub is away. Afterwards every record is at the hub and at the other node
 * exactly once, and the receipts account for all of them.
 */
import t from 'tap';
import { sampleSet } from '../../scripts/demo/sample-data.js';
import { CHANGDE, CHANGSHA, drained, federation, hubRecordIds, nodeRecordIds, status, waitFor } from './support.js';

const fed = await federation(t);
const hubPort = Number(new URL(fed.hubUrl).port);
for (const spec of [CHANGSHA, CHANGDE]) {
  await fed.enrolNode(spec);
  await fed.startNode(spec.id);
}
fed.setHubPort(hubPort); // a restarted hub answers where the nodes look for it

async function load(seed: number, count: number): Promise<number> {
  const set = sampleSet(CHANGSHA.id, count, seed);
  let sent = 0;
  for (let i = 0; i < set.records.length; i += 500) {
    const res = await fed.api<{ accepted: number }>(CHANGSHA.id, 'POST', '/v1/records', set.records.slice(i, i + 500));
    if (res.status !== 201) throw new Error(`load failed: ${res.status} ${JSON.stringify(res.body).slice(0, 300)}`);
    sent += res.body.accepted;
  }
  return sent;
}

let expectedAtHub = 0; // records at the hub: all but each sample set's internal one
let restricted = 0; // each sample set has one restricted record, which is never distributed

t.test('the hub is killed while batches are in flight: nothing lost, nothing twice', async (t) => {
  const n = await load(1, 2500);
  expectedAtHub += n - 1; // the internal record stays home
  restricted += 1;
  await fed.hub!.kill();
  const down = await waitFor('the sender to notice the outage', async () => {
    const s = await status(fed, CHANGSHA.id);
    return s.lastError?.loop === 'sender' || s.batches.pending > 0 || s.outbox.pending > 0 ? s : undefined;
  });
  t.ok(down, 'the node noticed');
  // Two failed attempts while the hub is away (each failure stamps lastError anew), not a guessed 1.5 s.
  const failedOnce = await waitFor('a failed attempt while the hub is away', async () => (await status(fed, CHANGSHA.id)).lastError ?? undefined);
  await waitFor('a second failed attempt', async () => {
    const e = (await status(fed, CHANGSHA.id)).lastError;
    return e && e.at !== failedOnce.at ? e : undefined;
  });
  await fed.startHub(hubPort);
  const s = await drained(fed, CHANGSHA.id, 90_000);
  t.equal(s.batches.refused, 0);
  const atHub = await hubRecordIds(fed, CHANGSHA.id);
  t.equal(atHub.length, expectedAtHub, 'every record at the hub');
  t.equal(new Set(atHub).size, atHub.length, 'none twice at the hub');
});

t.test('a node restarted with a non-empty outbox while the hub is away delivers it once the hub is back', async (t) => {
  await fed.hub!.stop();
  const n = await load(2, 600);
  expectedAtHub += n - 1;
  restricted += 1;
  const s = await status(fed, CHANGSHA.id);
  t.ok(s.outbox.pending + s.batches.pending > 0, 'work waiting');
  await fed.stopNode(CHANGSHA.id);
  await fed.startHub(hubPort);
  await fed.startNode(CHANGSHA.id);
  await drained(fed, CHANGSHA.id, 90_000);
  const atHub = await hubRecordIds(fed, CHANGSHA.id);
  t.equal(atHub.length, expectedAtHub, 'every record at the hub');
  t.equal(new Set(atHub).size, atHub.length, 'none twice at the hub');
});

t.test('the other node holds every distributable record exactly once', async (t) => {
  const want = expectedAtHub - restricted;
  const ids = await waitFor('常德 to catch up', async () => {
    const got = await nodeRecordIds(fed, CHANGDE.id, CHANGSHA.id);
    return got.length >= want ? got : undefined;
  }, { timeoutMs: 60_000 });
  t.equal(ids.length, want);
  t.equal(new Set(ids).size, ids.length, 'none twice');
});
