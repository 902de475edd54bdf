/**
 * I-JSON at the hub's door (issue 13 item 20), over real mutual TLS: an enrolled node sends
 * envelopes whose signature verifies but whose text is ambiguous — a header member given twice
 * (JSON.parse keeps the last), `"seq": 1.0`, a payload with a member given twice deep inside, a
 * checkpoint `treeSize` written `5.0`. Each is 400 ERR_ENVELOPE_MALFORMED naming the field, the
 * batch stream's seq is not consumed, and nothing is stored.
 */
import t from 'tap';
import { hubFixture, wire } from '../hub/fixture.js';
import { sealRaw } from './hostile-support.js';

t.test('ambiguous JSON from an enrolled node is refused with ERR_ENVELOPE_MALFORMED', async (t) => {
  const f = await hubFixture(t);
  const cs = await f.enrol('430100', 3);
  const post = (route: string, text: string) => f.call(cs.agent, 'POST', route, text, { 'content-type': 'application/json' });
  const refused = (r: { status: number; json: unknown }, field: string, what: string) => {
    t.equal(r.status, 400, `${what}: 400`);
    t.match(r.json, { code: 'ERR_ENVELOPE_MALFORMED', details: [{ field }] }, `${what}: ERR_ENVELOPE_MALFORMED naming ${field}`);
  };

  const batch = JSON.stringify(await f.sealFrom(cs, 'batch', { records: [wire('CF')], withdrawals: [] }, { seq: 1 }));
  refused(await post('/v1/batches', batch.replace('"to":"430000"', '"to":"430700","to":"430000"')), 'to', 'header "to" twice');
  refused(await post('/v1/batches', batch.replace('"seq":1,', '"seq":1.0,')), 'seq', '"seq": 1.0');

  const record = JSON.stringify(wire('CF'));
  const dup = record.replace('"fields":{', '"fields":{"subjectName":"甲公司",');
  const deep = await sealRaw({ type: 'batch', from: cs, recipientCertPem: f.hubCertPem, seq: 1, plaintext: `{"records":[${dup}],"withdrawals":[]}` });
  refused(await post('/v1/batches', JSON.stringify(deep)), 'payload.records[0].fields.subjectName', 'a payload member given twice');

  const cp = await sealRaw({
    type: 'checkpoint', from: cs, recipientCertPem: f.hubCertPem, seq: 1,
    plaintext: `{"checkpoint":{"treeSize":5.0,"rootHash":"${'a'.repeat(64)}","time":"${new Date().toISOString()}","nodeId":"430100","signature":"c2ln","signerFingerprint":"${'b'.repeat(64)}"},"signerCertPem":${JSON.stringify(cs.certPem)}}`,
  });
  refused(await post('/v1/checkpoints', JSON.stringify(cp)), 'payload.checkpoint.treeSize', 'treeSize 5.0');

  t.equal(await f.hub.app.hubCtx.db('hub_records').count({ n: '*' }).first().then((x) => Number(x?.n)), 0, 'nothing stored');
  const ok = await post('/v1/batches', batch);
  t.equal(ok.status, 200, 'the same batch, written plainly, is taken with seq 1 (the refusals consumed nothing)');
});
