/**
 * End to end, real processes: a running node renews its own certificate before it runs out (the hub
 * issues 30-second certificates for the drill) and keeps exchanging with the new one; the old one
 * is never needed again.
 */
import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { certFromPem } from '../../protocol/crypto.js';
import { sampleSet } from '../../scripts/demo/sample-data.js';
import { CHANGSHA, drained, federation, hubRecordIds, status, waitFor, withSqlite, hubDb } from './support.js';

// A 90 s certificate is back-dated 5 min for clock skew, so its lifetime reads as 390 s;
// renewAt 0.2 renews once less than 78 s is left, i.e. some 12 s after each issue. (A 30 s
// certificate failed under load: the node process started after its enrolment certificate had
// run out, and an expired certificate cannot renew itself — that is by design.)
const fed = await federation(t, { hubConfig: { nodeCertSeconds: 90 }, nodeHubConfig: { renewAt: 0.2 } });
await fed.enrolNode(CHANGSHA);
await fed.startNode(CHANGSHA.id);
const certFile = join(fed.node(CHANGSHA.id).dir, 'data', 'exchange', 'node.pem');

t.test('the node renews its certificate by itself and keeps exchanging', async (t) => {
  const first = certFromPem(readFileSync(certFile, 'utf8'));
  t.ok(first.notAfter.getTime() - Date.now() < 91_000, 'a short-lived certificate');
  const renewed = await waitFor('a renewal', async () => {
    const s = await status(fed, CHANGSHA.id);
    return s.certificate.serial !== first.serial ? s.certificate : undefined;
  }, { timeoutMs: 60_000 });
  t.not(renewed.serial, first.serial, 'a new certificate is in use');
  const onDisk = certFromPem(readFileSync(certFile, 'utf8'));
  t.not(onDisk.serial, first.serial, 'and written to the exchange directory');
  t.not(onDisk.fingerprint, first.fingerprint);

  const set = sampleSet(CHANGSHA.id, 10, 5);
  const res = await fed.api(CHANGSHA.id, 'POST', '/v1/records', set.records);
  t.equal(res.status, 201);
  await drained(fed, CHANGSHA.id);
  t.equal((await hubRecordIds(fed, CHANGSHA.id)).length, set.records.length - 1, 'delivered with the renewed certificate');
  const certs = await withSqlite(hubDb(fed), (db) => db('hub_certs').where({ node_id: CHANGSHA.id }).select('serial', 'status'));
  t.ok(certs.length >= 2, 'the hub issued more than one certificate to the node');

  const wait = first.notAfter.getTime() + 1000 - Date.now();
  if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  const later = sampleSet(CHANGSHA.id, 10, 6);
  t.equal((await fed.api(CHANGSHA.id, 'POST', '/v1/records', later.records)).status, 201);
  const s = await drained(fed, CHANGSHA.id);
  t.equal(s.batches.refused, 0);
  t.equal((await hubRecordIds(fed, CHANGSHA.id)).length, set.records.length + later.records.length - 2, 'still delivering after the first certificate expired');
});
