/**
 * Witnessing against a scripted hub: the node's signed checkpoint goes to the hub (with a
 * consistency proof from the head the hub last cosigned), the cosignature comes back and is
 * stored for export bundles; nothing new → nothing sent; after a renewal the checkpoint is signed
 * with the new key. Both engines.
 */
import t from 'tap';
import { exampleRecord } from '../../protocol/catalog.js';
import { certFromPem } from '../../protocol/crypto.js';
import { latestCosignature } from '../../audit/cosign-store.js';
import { engines } from '../helpers/db.js';
import { makeCa } from '../helpers/pki.js';
import { startFakeHub } from './exchange-fake-hub.js';
import { exchangeSetup } from './exchange-fixture.js';

const rec = (n: number) => ({ type: 'CF', fields: { ...exampleRecord('CF').fields, decisionNo: `证〔2026〕${n}号` } });

for (const engine of await engines()) {
  t.test(`${engine.name}: checkpoints are cosigned by the hub and stored; proofs from the cosigned head`, async (t) => {
    const ca = makeCa();
    const hub = await startFakeHub(ca);
    t.teardown(() => hub.close());
    const s = await exchangeSetup(t, { engine, ca, hubUrl: hub.url, hubCertPem: hub.identity.certPem });
    const w = s.exchange.witness!;
    t.ok(w, 'witnessing is on when the audit log is signed with the node key');
    await s.records.create(s.caller('submitter', 'public'), [rec(1), rec(2)]);
    const c1 = await w.witnessOnce();
    t.ok(c1, 'cosigned');
    t.same([c1!.nodeId, c1!.witness], ['430100', '430000']);
    t.same((await latestCosignature(s.db))?.treeSize, c1!.treeSize, 'stored for export bundles');
    t.equal(hub.cosigned.get('430100')!.length, 1);
    t.notOk(hub.cosigned.get('430100')![0]!.proof, 'no proof for the first');

    t.equal(await w.witnessOnce(), null, 'nothing new: nothing sent');
    t.equal(hub.cosigned.get('430100')!.length, 1);

    await s.records.create(s.caller('submitter', 'public'), [rec(3)]);
    const c2 = await w.witnessOnce();
    t.ok(c2 && c2.treeSize > c1!.treeSize);
    const p2 = hub.cosigned.get('430100')![1]!;
    t.same(p2.proof?.from, c1!.treeSize, 'the proof starts at the head the hub cosigned');
    t.same(p2.proof?.fromRoot, c1!.rootHash);

    await s.exchange.renewal.renewNow();
    const c3 = await w.witnessOnce();
    t.ok(c3, 'cosigned after the renewal');
    const p3 = hub.cosigned.get('430100')!.at(-1)!;
    t.equal(p3.checkpoint.signerFingerprint, certFromPem(s.exchange.identity.current().certPem).fingerprint, 'signed with the new key');
    t.equal((await s.exchange.status()).witness?.treeSize, c3!.treeSize);
  });
}
