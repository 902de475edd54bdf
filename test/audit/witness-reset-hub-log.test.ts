/**
 * Witness reset records of the hub's log (docs/audit-format.md §10b) without a database: a node
 * (430100) signs the record of its reset after a hub rollback and it verifies against the CA; the
 * signer must be the log's witness both ways (a node never signs a node log's reset, the hub never
 * its own log's); and the verifier's epoch bookkeeping is per witness of the hub's log, so one node's
 * witness file says nothing about another node's resets, while a dropped record of its own is caught.
 */
import t from 'tap';
import { issue, makeCa } from '../helpers/pki.js';
import { signReset, verifyReset, type WitnessResetBody } from '../../audit/witness-reset.js';
import { cosignCheckpoint, verifyCosignature } from '../../audit/cosign.js';
import { breakLine, breakOf, epochGap, witnessedRoots, type WitnessedHead } from '../../audit/verify-policy.js';
import { certFacts } from '../../audit/crypto.js';
import { readWitnessFile, witnessRecordsNdjson } from '../../audit/witness-records.js';

const ca = makeCa();
const hub = issue(ca, '430000');
const node = issue(ca, '430100');
const other = issue(ca, '430200');
const root = (c: string) => c.repeat(64);
// times inside the per-run certificates' validity
const ago = (n: number) => new Date(Date.now() - n * 500).toISOString(); // n half-seconds back (the certificates are valid from a minute before now)
const [BACKUP, ABANDONED, ARMED, RESET] = [ago(50), ago(40), ago(20), ago(10)];

const body = (over: Partial<WitnessResetBody> = {}): WitnessResetBody => ({
  nodeId: '430000', epoch: 1, backupCreatedAt: BACKUP,
  from: { treeSize: 10, rootHash: root('a') }, to: { treeSize: 14, rootHash: root('b') },
  abandoned: [{ treeSize: 12, rootHash: root('c'), cosignedAt: ABANDONED }],
  reason: '省平台通知：主库回滚', armedBy: 'cli:ops@city', armedAt: ARMED, resetAt: RESET, ...over,
});

t.test("a node signs the reset of the hub's log; it verifies, and is reported as the node's break", async (t) => {
  const r = signReset(body(), node);
  t.equal(r.witness, '430100');
  t.doesNotThrow(() => verifyReset(JSON.parse(JSON.stringify(r)), [ca.certPem]));
  t.throws(() => verifyReset({ ...r, abandoned: [] }, [ca.certPem]), { code: 'ERR_AUDIT_COSIGNATURE' }, 'tampered: the abandoned heads dropped');
  t.throws(() => verifyReset({ ...r, witness: '430200' }, [ca.certPem]), { code: 'ERR_AUDIT_UNTRUSTED_SIGNER' }, 'another witness named than the certificate');
  t.throws(() => verifyReset(signReset(body(), other), [makeCa('Other CA').certPem]), { code: 'ERR_AUDIT_UNTRUSTED_SIGNER' }, 'a certificate of another CA');
  t.equal(breakLine(breakOf(r)).slice(0, 220), `WITNESS BREAK hub log, witness node 430100 epoch 1: at ${RESET} node 430100 accepted a reset after the hub's log went back to ${BACKUP}; kept the heads up to tree size 10, abandoned 1 head(s) it had cosigned (tree sizes 12..12), cosigned`.slice(0, 220));
});

t.test('only the witness of a log signs its reset: ERR_AUDIT_SIGNER_INVALID when signing, ERR_AUDIT_COSIGNATURE when read', async (t) => {
  t.throws(() => signReset(body(), hub), { code: 'ERR_AUDIT_SIGNER_INVALID' }, "the hub does not reset its own log's witness");
  t.throws(() => signReset(body({ nodeId: '430200' }), node), { code: 'ERR_AUDIT_SIGNER_INVALID' }, "a node does not sign a reset of another node's log");
  t.throws(() => signReset(body(), { keyPem: other.keyPem, certPem: node.certPem }), { code: 'ERR_AUDIT_SIGNER_INVALID' }, 'a key that is not the certificate\'s');
  const r = signReset(body(), node);
  t.throws(() => verifyReset({ ...r, witness: '430000' }, [ca.certPem]), { code: 'ERR_AUDIT_COSIGNATURE', message: /may not reset log 430000/ }, 'a record claiming the hub as witness of its own log');
  const nodeLog = signReset(body({ nodeId: '430100' }), hub);
  t.doesNotThrow(() => verifyReset(nodeLog, [ca.certPem]), 'the hub still signs a node log\'s reset (§10a)');
  t.throws(() => verifyReset({ ...nodeLog, witness: '430200' }, [ca.certPem]), { code: 'ERR_AUDIT_COSIGNATURE', message: /may not reset log 430100/ });
});

t.test("a node's cosignature of the hub's log states its epoch; the epoch is signed", async (t) => {
  const c = cosignCheckpoint({ nodeId: '430000', treeSize: 14, rootHash: root('b'), time: ago(11) }, node, new Date(RESET), 1);
  t.equal(c.epoch, 1);
  t.doesNotThrow(() => verifyCosignature(c, { caCertPem: ca.certPem }));
  t.throws(() => verifyCosignature({ ...c, epoch: 2 }, { caCertPem: ca.certPem }), { code: 'ERR_AUDIT_COSIGNATURE' });
});

t.test("the verifier counts epochs per witness of the hub's log (ERR_AUDIT_RESET_MISSING)", async (t) => {
  const r = breakOf(signReset(body(), node));
  const mine: WitnessedHead[] = [{ nodeId: '430000', treeSize: 10, rootHash: root('a'), witness: '430100' }, { nodeId: '430000', treeSize: 12, rootHash: root('c'), witness: '430100', abandonedIn: 1 }];
  t.equal(epochGap('430000', new Map([['430100', 1]]), [r], mine), null, "430100's file with its record accounts for its epoch-1 cosignatures");
  t.equal(epochGap('430000', new Map([['430100', 1], ['430200', 3]]), [r], mine), null, "430200's epochs are not 430100's file's business");
  t.match(epochGap('430000', new Map([['430100', 2]]), [r], mine), /cosignatures by node 430100 state witness epoch 2, but the witness file lacks node 430100's reset record\(s\) of the hub's log for epoch 2/);
  t.match(epochGap('430000', new Map([['430100', 1]]), [], mine), /archived in epoch 1, but not that epoch's reset record/, 'the record dropped, the archived head kept');
  t.match(epochGap('430000', new Map([['430100', 1]]), [], mine.slice(0, 1)), /lacks node 430100's reset record/, 'record and archived head dropped: the bundle still states epoch 1');
  const twice = breakOf(signReset(body({ reason: 'another' }), node));
  t.match(epochGap('430000', new Map(), [r, twice], mine), /two different reset records of the hub's log by node 430100 for epoch 1/);
  t.equal(epochGap('430000', new Map(), [r, breakOf(signReset(body(), other))], mine), null, 'two nodes, each its own epoch 1');
  // a node's log: one witness, the hub, checked even when the file holds nothing of the node
  t.match(epochGap('430100', new Map([['430000', 1]]), [], []), /lacks node 430100's reset record\(s\) for epoch 1/);
});

t.test("a node's witness file carries its resets and archived heads and reads back", async (t) => {
  const r = signReset(body(), node);
  const live = cosignCheckpoint({ nodeId: '430000', treeSize: 10, rootHash: root('a'), time: ago(56) }, node, new Date(ago(55)));
  const old = cosignCheckpoint({ nodeId: '430000', treeSize: 12, rootHash: root('c'), time: ago(41) }, node, new Date(ABANDONED));
  const text = witnessRecordsNdjson([live], [r], [{ type: 'witness-archived', epoch: 1, cosignature: old }]);
  const { heads, breaks } = readWitnessFile(text, [ca.certPem]);
  t.same(heads.map((h) => [h.treeSize, h.witness, h.abandonedIn]), [[10, '430100', undefined], [12, '430100', 1]]);
  t.equal(breaks[0]?.witness, '430100');
  t.throws(() => readWitnessFile(text.replace('"epoch":1,', '"epoch":1,"x":1,'), [ca.certPem]), { code: 'ERR_AUDIT_COSIGNATURE' });
});

t.test("one node's reset record never excuses another node's heads; two histories at one size fail (ERR_AUDIT_INCONSISTENT)", async (t) => {
  const aRecord = breakOf(signReset(body(), node)); // 430100 abandoned (12, c)
  const bHeads: WitnessedHead[] = [{ nodeId: '430000', treeSize: 12, rootHash: root('c'), witness: '430200' }];
  t.equal(witnessedRoots('430000', bHeads, [aRecord]).get(12), root('c'), "430200's head at 12 still binds the bundle");
  t.equal(witnessedRoots('430000', [{ ...bHeads[0]!, witness: '430100' }], [aRecord]).get(12), undefined, "430100's own abandoned head does not");
  t.throws(() => witnessedRoots('430000', [...bHeads, { nodeId: '430000', treeSize: 12, rootHash: root('d'), witness: '430300' }], []), { code: 'ERR_AUDIT_INCONSISTENT', message: /disagree at tree size 12/ }, 'two witnesses shown two roots at one size');
  t.throws(() => witnessedRoots('430000', bHeads, [breakOf(signReset(body({ to: { treeSize: 12, rootHash: root('e') } }), node))]), { code: 'ERR_AUDIT_INCONSISTENT' }, "a record's head against another witness's");
});

t.test("an epoch a witness's own heads state counts though the bundle leaves out its cosignatures", async (t) => {
  const heads: WitnessedHead[] = [{ nodeId: '430000', treeSize: 14, rootHash: root('b'), witness: '430100', epoch: 2 }];
  t.match(epochGap('430000', new Map(), [breakOf(signReset(body(), node))], heads), /state witness epoch 2|reset record.* for epoch 2/, 'epoch 2 without its record');
  const text = witnessRecordsNdjson([cosignCheckpoint({ nodeId: '430000', treeSize: 14, rootHash: root('b'), time: ago(3) }, node, new Date(ago(2)), 2)]);
  t.equal(readWitnessFile(text, [ca.certPem]).heads[0]?.epoch, 2, 'the file keeps each head\'s epoch');
});

t.test('epochs are bounded (a record of epoch 2^40 is malformed, not a verifier crash)', async (t) => {
  t.throws(() => verifyReset(signReset(body({ epoch: 2 ** 40 }), node), [ca.certPem]), { code: 'ERR_AUDIT_COSIGNATURE', message: /epoch is not a whole number from 1 to 1000000/ });
  t.throws(() => cosignCheckpoint({ nodeId: '430000', treeSize: 14, rootHash: root('b'), time: ago(3) }, node, new Date(), 1_000_001), { code: 'ERR_AUDIT_SIGNER_INVALID' });
  const gap = epochGap('430000', new Map([['430100', 1_000_000]]), [breakOf(signReset(body(), node))], []);
  t.match(gap, /for epoch 2, 3, 4, 5, 6, 7, 8, 9, 10, 11 … \(999999 epochs in all\)/, 'the missing epochs named, the list bounded');
});

t.test('with a CRL: a reset record by a revoked certificate → ERR_AUDIT_REVOKED_SIGNER', async (t) => {
  const r = signReset(body(), node);
  const text = witnessRecordsNdjson([], [r]);
  const serial = certFacts(node.certPem).serial;
  t.doesNotThrow(() => readWitnessFile(text, [ca.certPem], [{ serial, revokedAt: new Date(Date.now() + 60_000), reason: 'superseded' }]), 'revoked after the reset, not for compromise');
  t.throws(() => readWitnessFile(text, [ca.certPem], [{ serial, revokedAt: new Date(ago(30)), reason: 'superseded' }]), { code: 'ERR_AUDIT_REVOKED_SIGNER', message: /witness records line 1: .*revoked at .*after it claims/ }, 'revoked before resetAt');
  t.throws(() => readWitnessFile(text, [ca.certPem], [{ serial, revokedAt: new Date(Date.now() + 60_000), reason: 'keyCompromise' }]), { code: 'ERR_AUDIT_REVOKED_SIGNER', message: /keyCompromise/ }, 'key compromise: its times are the signer\'s word');
  t.doesNotThrow(() => readWitnessFile(text, [ca.certPem], [{ serial: '01', revokedAt: new Date(ago(30)), reason: 'keyCompromise' }]), 'another certificate revoked');
});
