/**
 * An SM2 node keeps the SM2 key its renewal replaced (node-sm2.key.prev, as node.key.prev for the
 * TLS key): a batch in flight during the renewal was sealed with the old SM2 certificate, so its
 * receipt (and every ERR_REPLAY of it) is sealed to the old key. Before, such a receipt never
 * opened again (ERR_DECRYPT_FAILED) and the node's outbox stopped at that batch.
 */
import { existsSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { sm2GenerateKeyPem } from '../../protocol/sm-crypto.js';
import { seal } from '../../protocol/seal.js';
import { openFromHub } from '../../node/exchange/hub-envelopes.js';
import { createIdentity } from '../../node/exchange/identity.js';
import { exchangePaths, loadExchangeMaterial, writeSm2 } from '../../node/exchange/files.js';
import { commitInstall, INSTALL_MARKER, stageFiles } from '../../node/exchange/install-set.js';
import { issue } from '../helpers/pki.js';
import { enrolDir } from './exchange-fixture.js';
import { sm2Setup } from './sm2-fixture.js';

t.test('a receipt sealed to the SM2 key before the renewal opens with node-sm2.key.prev', async (t) => {
  const { dir, ca, sm2CaPem, sm2Cert } = sm2Setup(t, 'sm2-prev-');
  const hubKey = sm2GenerateKeyPem().privateKeyPem;
  const hubSm2 = { keyPem: hubKey, certPem: sm2Cert('430000', hubKey) };
  const oldKey = sm2GenerateKeyPem().privateKeyPem;
  const newKey = sm2GenerateKeyPem().privateKeyPem;
  const oldCert = sm2Cert('430100', oldKey);

  // the files as renewal leaves them: the new SM2 pair, the replaced key kept beside it
  const dataDir = join(dir, 'data');
  enrolDir(dataDir, { ca, nodeId: '430100', hubCertPem: issue(ca, '430000').certPem });
  writeSm2(dataDir, { keyPem: newKey, certPem: sm2Cert('430100', newKey), caCertPem: sm2CaPem, hubCertPem: hubSm2.certPem, previousKeyPem: oldKey });
  const p = exchangePaths(dataDir);
  t.equal(loadExchangeMaterial(dataDir, '430100').sm2?.previousKeyPem, oldKey, `${p.sm2Key}.prev is read back`);

  const receipt = await seal({ type: 'receipt', from: '430000', to: '430100', seq: 1, payload: { batchId: 'b', seq: 1 }, sender: hubSm2, recipientCertPem: oldCert, suites: ['SM'] });
  const m = loadExchangeMaterial(dataDir, '430100');
  const opened = await openFromHub<{ batchId: string }>(receipt, 'receipt', await createIdentity(m, undefined, undefined, undefined, ['SM']), { now: new Date(), fresh: false });
  t.equal(opened.payload.batchId, 'b', 'opened with the previous SM2 key');
  const { previousKeyPem: _old, ...withoutPrev } = m.sm2!;
  await t.rejects(openFromHub(receipt, 'receipt', await createIdentity({ ...m, sm2: withoutPrev }, undefined, undefined, undefined, ['SM']), { now: new Date(), fresh: false }), { code: 'ERR_DECRYPT_FAILED' }, 'without it, as before: never again');
});

t.test('an SM2 renewal interrupted by a crash (review L-c): a committed set is rolled forward, an uncommitted one ignored', (t) => {
  const { dir, ca, sm2CaPem, sm2Cert } = sm2Setup(t, 'sm2-crash-');
  const hubKey = sm2GenerateKeyPem().privateKeyPem;
  const oldKey = sm2GenerateKeyPem().privateKeyPem;
  const newKey = sm2GenerateKeyPem().privateKeyPem;
  const newCert = sm2Cert('430100', newKey);
  const dataDir = join(dir, 'data');
  enrolDir(dataDir, { ca, nodeId: '430100', hubCertPem: issue(ca, '430000').certPem });
  writeSm2(dataDir, { keyPem: oldKey, certPem: sm2Cert('430100', oldKey), caCertPem: sm2CaPem, hubCertPem: sm2Cert('430000', hubKey) });
  const p = exchangePaths(dataDir);
  t.notOk(existsSync(`${p.sm2Key}.new`) || existsSync(`${p.sm2Cert}.new`) || existsSync(join(p.dir, INSTALL_MARKER)), 'writeSm2 leaves no .new file and no marker behind');

  // a crash while the set was staged (no install.json): the old pair; the staged files are left for the next writer, never installed
  const id = stageFiles(p.dir, [{ name: 'node-sm2.key', data: newKey, mode: 0o600 }, { name: 'node-sm2.pem', data: newCert, mode: 0o644 }]);
  t.equal(loadExchangeMaterial(dataDir, '430100').sm2?.keyPem, oldKey, 'the current SM2 pair is kept');
  t.ok(existsSync(`${p.sm2Key}.${id}.new`), 'a load does not touch a staged set without its commit marker (a writer may be staging)');

  // the same files committed, and a crash after the key was renamed → the new pair
  commitInstall(p.dir, id, ['node-sm2.key', 'node-sm2.pem']);
  renameSync(`${p.sm2Key}.${id}.new`, p.sm2Key);
  const m = loadExchangeMaterial(dataDir, '430100');
  t.same([m.sm2?.keyPem, m.sm2?.certPem], [newKey, newCert], 'rolled forward');
  t.notOk(existsSync(`${p.sm2Cert}.${id}.new`) || existsSync(join(p.dir, INSTALL_MARKER)), 'the set is finished: no staged file, no marker');

  // a staged certificate for another key, uncommitted: ignored by loads, cleared by the next writer
  const otherKey = sm2GenerateKeyPem().privateKeyPem;
  const stray = stageFiles(p.dir, [{ name: 'node-sm2.pem', data: sm2Cert('430100', otherKey), mode: 0o644 }]);
  const m2 = loadExchangeMaterial(dataDir, '430100');
  t.same([m2.sm2?.keyPem, m2.sm2?.certPem], [newKey, newCert], 'the installed pair is kept');
  writeSm2(dataDir, { keyPem: newKey, certPem: newCert, caCertPem: sm2CaPem, hubCertPem: sm2Cert('430000', hubKey) });
  t.notOk(existsSync(`${p.sm2Cert}.${stray}.new`), 'the next writer cleared the stray certificate');
  t.end();
});
