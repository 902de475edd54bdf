/**
 * Hub cosignatures (audit/cosign.ts) without a database: a real hub certificate (CN 430000) from a
 * per-run CA signs a node checkpoint; tampering, non-hub signers, foreign CAs and expired hub
 * certificates are refused with their codes.
 */
import t from 'tap';
import { issue, makeCa } from '../helpers/pki.js';
import { cosignCheckpoint, cosignatureText, verifyCosignature, type Cosignature } from '../../audit/index.js';
import { certFingerprint, signText } from '../../audit/crypto.js';

const ca = makeCa();
const hub = issue(ca, '430000');
const node = issue(ca, '430100');
const otherCa = makeCa('Other CA (test)');
const foreignHub = issue(otherCa, '430000');
const expiredHub = issue(ca, '430000', { notBefore: new Date(Date.now() - 10 * 86_400_000), notAfter: new Date(Date.now() - 86_400_000) });

const checkpoint = { nodeId: '430100', treeSize: 42, rootHash: 'ab'.repeat(32), time: '2026-05-01T08:00:00.000Z' };
const at = new Date();

t.test('the hub cosigns a checkpoint and the cosignature verifies against the CA and the checkpoint', async (t) => {
  const c = cosignCheckpoint(checkpoint, hub, at);
  t.match(c, { type: 'cosignature', nodeId: '430100', treeSize: 42, rootHash: checkpoint.rootHash, checkpointTime: checkpoint.time, witness: '430000', cosignedAt: at.toISOString() });
  t.equal(c.signerFingerprint, certFingerprint(hub.certPem));
  t.match(cosignatureText(c), /^\{"checkpointTime":.*"type":"credit-audit-cosignature\/1".*\}$/, 'canonical JSON, sorted keys');
  t.doesNotThrow(() => verifyCosignature(c, { caCertPem: ca.certPem, checkpoint }));
  t.doesNotThrow(() => verifyCosignature(c), 'without a CA: signature, CN and validity only');
  t.doesNotThrow(() => verifyCosignature(JSON.parse(JSON.stringify(c)) as Cosignature, { caCertPem: [otherCa.certPem, ca.certPem] }), 'after a JSON round trip, with several CAs');
});

t.test('a tampered cosignature → ERR_AUDIT_COSIGNATURE', async (t) => {
  const c = cosignCheckpoint(checkpoint, hub, at);
  t.throws(() => verifyCosignature({ ...c, rootHash: 'cd'.repeat(32) }, { caCertPem: ca.certPem }), { code: 'ERR_AUDIT_COSIGNATURE' }, 'another root');
  t.throws(() => verifyCosignature({ ...c, treeSize: 43 }), { code: 'ERR_AUDIT_COSIGNATURE' }, 'another size');
  t.throws(() => verifyCosignature({ ...c, cosignedAt: new Date(at.getTime() - 1000).toISOString() }), { code: 'ERR_AUDIT_COSIGNATURE' }, 'back-dated');
  t.throws(() => verifyCosignature({ ...c, signature: c.signature.slice(4) + 'AAAA' }), { code: 'ERR_AUDIT_COSIGNATURE' }, 'signature bytes');
  t.throws(() => verifyCosignature({ ...c, signerFingerprint: 'ef'.repeat(32) }), { code: 'ERR_AUDIT_COSIGNATURE' }, 'names another certificate');
  const { witness: _w, ...missing } = c;
  t.throws(() => verifyCosignature(missing as Cosignature), { code: 'ERR_AUDIT_COSIGNATURE' }, 'a field missing');
  t.throws(() => verifyCosignature(c, { checkpoint: { ...checkpoint, rootHash: 'cd'.repeat(32) } }), { code: 'ERR_AUDIT_COSIGNATURE', message: /states root/ }, 'not of this checkpoint');
  t.throws(() => verifyCosignature(c, { checkpoint: { ...checkpoint, time: '2026-05-01T08:00:01.000Z' } }), { code: 'ERR_AUDIT_COSIGNATURE' }, 'another checkpoint of the same size');
});

t.test('the witness epoch (docs/audit-format.md §10a): signed when ≥ 1, absent = 0', async (t) => {
  const c0 = cosignCheckpoint(checkpoint, hub, at, 0);
  t.notOk('epoch' in c0, 'epoch 0: no field, the text of a cosignature made before epochs');
  t.notMatch(cosignatureText(c0), /epoch/);
  const c2 = cosignCheckpoint(checkpoint, hub, at, 2);
  t.equal(c2.epoch, 2);
  t.match(cosignatureText(c2), /"epoch":2/, 'signed');
  t.doesNotThrow(() => verifyCosignature(JSON.parse(JSON.stringify(c2)) as Cosignature, { caCertPem: ca.certPem, checkpoint }));
  t.throws(() => verifyCosignature({ ...c2, epoch: 1 }), { code: 'ERR_AUDIT_COSIGNATURE' }, 'epoch lowered: the signature fails');
  const { epoch: _e, ...dropped } = c2;
  t.throws(() => verifyCosignature(dropped as Cosignature), { code: 'ERR_AUDIT_COSIGNATURE' }, 'epoch removed: the signature fails');
  t.throws(() => verifyCosignature({ ...c0, epoch: 0 }), { code: 'ERR_AUDIT_COSIGNATURE', message: /epoch is not/ }, 'epoch 0 written out is malformed');
  t.throws(() => verifyCosignature({ ...c2, epoch: 1.5 }), { code: 'ERR_AUDIT_COSIGNATURE', message: /epoch is not/ }, 'not a whole number');
  t.throws(() => cosignCheckpoint(checkpoint, hub, at, -1), { code: 'ERR_AUDIT_SIGNER_INVALID' });
});

t.test('a cosignature by anything but the trusted hub certificate → ERR_AUDIT_UNTRUSTED_SIGNER', async (t) => {
  t.throws(() => cosignCheckpoint(checkpoint, node, at), { code: 'ERR_AUDIT_SIGNER_INVALID' }, 'cosignCheckpoint refuses a node certificate');
  t.throws(() => cosignCheckpoint(checkpoint, { keyPem: node.keyPem, certPem: hub.certPem }, at), { code: 'ERR_AUDIT_SIGNER_INVALID' }, 'and a key that is not the hub key');
  // A node forges a "hub" cosignature with its own key and certificate.
  const body = { nodeId: '430100', treeSize: 42, rootHash: checkpoint.rootHash, checkpointTime: checkpoint.time, witness: '430000', cosignedAt: at.toISOString() };
  const forged: Cosignature = { type: 'cosignature', ...body, signature: signText(node.keyPem, cosignatureText(body)), signerFingerprint: certFingerprint(node.certPem), certPem: node.certPem };
  t.throws(() => verifyCosignature(forged, { caCertPem: ca.certPem }), { code: 'ERR_AUDIT_UNTRUSTED_SIGNER', message: /only the hub/ });
  const notHub = { ...body, witness: '430100' };
  const byNode: Cosignature = { ...forged, ...notHub, signature: signText(node.keyPem, cosignatureText(notHub)) };
  t.throws(() => verifyCosignature(byNode), { code: 'ERR_AUDIT_UNTRUSTED_SIGNER' }, 'witness other than 430000');
  const foreign = cosignCheckpoint(checkpoint, foreignHub, at);
  t.throws(() => verifyCosignature(foreign, { caCertPem: ca.certPem }), { code: 'ERR_AUDIT_UNTRUSTED_SIGNER', message: /not issued by the given CA/ }, 'a "430000" of another CA');
  t.doesNotThrow(() => verifyCosignature(foreign, { caCertPem: otherCa.certPem }), 'fine for its own CA');
  const late = cosignCheckpoint(checkpoint, expiredHub, at);
  t.throws(() => verifyCosignature(late, { caCertPem: ca.certPem }), { code: 'ERR_AUDIT_UNTRUSTED_SIGNER', message: /not valid at/ }, 'hub certificate expired when it cosigned');
  t.throws(() => verifyCosignature(late), { code: 'ERR_AUDIT_UNTRUSTED_SIGNER' }, 'validity is checked even without a CA');
  t.throws(() => verifyCosignature({ ...cosignCheckpoint(checkpoint, hub, at), certPem: 'not a certificate' }), { code: 'ERR_AUDIT_UNTRUSTED_SIGNER' });
  t.throws(() => verifyCosignature(cosignCheckpoint(checkpoint, hub, at), { caCertPem: 'no pem here' }), { code: 'ERR_AUDIT_UNTRUSTED_SIGNER' });
});
