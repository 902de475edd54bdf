#!/usr/bin/env node
// An audit-bundle verifier written from docs/audit-format.md alone: node:crypto, node:fs and, for
// logs on SM (header "hash":"sm3"), the `openssl` command line (SM2 signatures with the standard ID,
// which node:crypto cannot check); nothing imported from this repository.
// Usage: node independent-verifier.mjs BUNDLE CA_PEM NODE_ID
// Prints "OK <entries>" (exit 0) or "FAIL <code> <why>" (exit 1). Bundles from seq 1 only.
import { createHash, X509Certificate, verify } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const [bundleFile, caFile, expectedNode] = process.argv.slice(2);
let alg = 'sha256';
const sha = (...parts) => { const h = createHash(alg); for (const p of parts) h.update(p); return h.digest(); };
const canon = (o) => '{' + Object.keys(o).sort().map((k) => JSON.stringify(k) + ':' + JSON.stringify(o[k])).join(',') + '}';
const fail = (code, why) => { console.log(`FAIL ${code} ${why}`); process.exit(1); };

const caCerts = [...readFileSync(caFile, 'utf8').matchAll(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g)].map((m) => new X509Certificate(m[0]));
const fp = (c) => createHash('sha256').update(c.raw).digest('hex');
const cn = (c) => (/(?:^|\n)CN=([^\n]*)/.exec(c.subject) ?? [])[1] ?? '';
const validAt = (c, t) => Date.parse(c.validFrom) <= t && t <= Date.parse(c.validTo);
// SM2 keys: SubjectPublicKeyInfo naming the curve 1.2.156.10197.1.301.
const isSm2 = (c) => c.publicKey.export({ type: 'spki', format: 'der' }).includes(Buffer.from('06082a811ccf5501822d', 'hex'));
const tmp = mkdtempSync(join(tmpdir(), 'iv-'));
process.on('exit', () => rmSync(tmp, { recursive: true, force: true }));
const openssl = (args) => { try { execFileSync('openssl', args, { stdio: 'pipe' }); return true; } catch { return false; } };
const sm2ChainOk = (c, t) => {
  writeFileSync(join(tmp, 'leaf.pem'), c.toString());
  writeFileSync(join(tmp, 'ca.pem'), readFileSync(caFile));
  return openssl(['verify', '-vfyopt', 'distid:1234567812345678', '-attime', String(Math.floor(t / 1000)), '-CAfile', join(tmp, 'ca.pem'), join(tmp, 'leaf.pem')]);
};
const trusted = (c, t) => validAt(c, t) && (isSm2(c) ? sm2ChainOk(c, t) : caCerts.some((a) => c.checkIssued(a) && c.verify(a.publicKey) && validAt(a, t)));
const sigOk = (cert, text, b64) => {
  if (isSm2(cert)) {
    writeFileSync(join(tmp, 'pub.pem'), cert.publicKey.export({ type: 'spki', format: 'pem' }));
    writeFileSync(join(tmp, 'text'), text, 'utf8');
    writeFileSync(join(tmp, 'sig'), Buffer.from(b64, 'base64'));
    return openssl(['pkeyutl', '-verify', '-pubin', '-inkey', join(tmp, 'pub.pem'), '-rawin', '-digest', 'sm3', '-pkeyopt', 'distid:1234567812345678', '-in', join(tmp, 'text'), '-sigfile', join(tmp, 'sig')]);
  }
  try { return verify('sha256', Buffer.from(text, 'utf8'), cert.publicKey, Buffer.from(b64, 'base64')); } catch { return false; }
};
// A log hashed with SM3 is signed by SM2 keys only, a SHA-256 log never by one.
const algFits = (cert) => isSm2(cert) === (alg === 'sm3');

// RFC 9162 MTH over leaf hashes (Buffers).
function mth(leaves) {
  if (leaves.length === 0) return sha('');
  if (leaves.length === 1) return leaves[0];
  let k = 1;
  while (k * 2 < leaves.length) k *= 2;
  return sha(Buffer.from([1]), mth(leaves.slice(0, k)), mth(leaves.slice(k)));
}

const lines = readFileSync(bundleFile, 'utf8').split('\n').filter((l) => l.trim() !== '');
let header;
const certs = new Map();
const leaves = [];
let prev = '0'.repeat(64);
const checkpoints = new Map();
const cosigned = new Set();
let lastCheckpoint = 0;
for (const raw of lines) {
  let o;
  try { o = JSON.parse(raw); } catch { fail('MALFORMED', 'a line is not JSON'); }
  if (!header) {
    if (o.type !== 'header' || o.format !== 'credit-audit-bundle/1') fail('MALFORMED', 'no header');
    if (o.nodeId !== expectedNode) fail('UNTRUSTED_SIGNER', `log of ${o.nodeId}, not ${expectedNode}`);
    if (o.from !== 1) fail('UNSUPPORTED', 'only bundles from seq 1');
    if (o.hash !== undefined && o.hash !== 'sm3') fail('MALFORMED', `hash ${o.hash}`);
    alg = o.hash === 'sm3' ? 'sm3' : 'sha256';
    header = o;
    continue;
  }
  if (o.type === 'cert') {
    try { const c = new X509Certificate(o.pem); certs.set(fp(c), c); } catch { /* absent */ }
  } else if (o.type === 'entry') {
    const { type: _t, leafHash, ...fields } = o;
    if (Object.keys(fields).length !== 10) fail('ENTRY_MODIFIED', `entry ${o.seq} has other fields`);
    if (sha(Buffer.from([0]), Buffer.from(canon(fields), 'utf8')).toString('hex') !== leafHash) fail('ENTRY_MODIFIED', `entry ${o.seq} does not match its leaf hash`);
    if (o.seq !== leaves.length + 1) fail('GAP_OR_REORDERED', `seq ${o.seq} after ${leaves.length}`);
    if (o.prevHash !== prev) fail('ENTRY_MODIFIED', `entry ${o.seq} prevHash breaks the chain`);
    prev = leafHash;
    leaves.push(Buffer.from(leafHash, 'hex'));
  } else if (o.type === 'checkpoint') {
    const cert = certs.get(o.signerFingerprint);
    if (!cert || cn(cert) !== o.nodeId || o.nodeId !== header.nodeId || !trusted(cert, Date.parse(o.time))) fail('UNTRUSTED_SIGNER', `checkpoint ${o.treeSize}`);
    if (!algFits(cert)) fail('ALGORITHM_MIXED', `checkpoint ${o.treeSize} signed with a key of another algorithm than ${alg}`);
    const body = { type: 'credit-audit-checkpoint/1', treeSize: o.treeSize, rootHash: o.rootHash, time: o.time, nodeId: o.nodeId };
    const text = canon(alg === 'sm3' ? { ...body, hash: 'sm3' } : body);
    if (!sigOk(cert, text, o.signature)) fail('CHECKPOINT_SIGNATURE', `checkpoint ${o.treeSize}`);
    if (o.treeSize !== leaves.length) fail('TRUNCATED_OR_REORDERED', `checkpoint ${o.treeSize} after ${leaves.length} entries`);
    if (mth(leaves).toString('hex') !== o.rootHash) fail('ENTRY_MODIFIED', `root at ${o.treeSize}`);
    checkpoints.set(o.treeSize, o);
    lastCheckpoint = o.treeSize;
  } else if (o.type === 'cosignature') {
    const cp = checkpoints.get(o.treeSize);
    if (!cp || cp.rootHash !== o.rootHash || cp.nodeId !== o.nodeId || cp.time !== o.checkpointTime) fail('COSIGNATURE', `cosignature ${o.treeSize} matches no checkpoint`);
    const cert = certs.get(o.signerFingerprint);
    const mayWitness = o.nodeId === '430000' ? /^[1-9]\d{5}$/.test(o.witness) && o.witness !== '430000' : o.witness === '430000';
    if (!cert || cn(cert) !== o.witness || !mayWitness || !trusted(cert, Date.parse(o.cosignedAt))) fail('UNTRUSTED_SIGNER', `cosignature ${o.treeSize}`);
    if (!algFits(cert)) fail('ALGORITHM_MIXED', `cosignature ${o.treeSize} signed with a key of another algorithm than ${alg}`);
    const text = canon({ type: 'credit-audit-cosignature/1', nodeId: o.nodeId, treeSize: o.treeSize, rootHash: o.rootHash, checkpointTime: o.checkpointTime, witness: o.witness, cosignedAt: o.cosignedAt, ...(o.epoch !== undefined ? { epoch: o.epoch } : {}) });
    if (!sigOk(cert, text, o.signature)) fail('COSIGNATURE', `cosignature ${o.treeSize}`);
    cosigned.add(o.treeSize);
  } else fail('MALFORMED', `unknown type ${o.type}`);
}
if (!header) fail('MALFORMED', 'empty');
if (leaves.length !== header.to || lastCheckpoint !== header.to) fail('TRUNCATED', `${leaves.length} entries, last checkpoint ${lastCheckpoint}, header to ${header.to}`);
if (!cosigned.has(header.to)) fail('UNWITNESSED', `the checkpoint at ${header.to} is not cosigned`);
console.log(`OK ${leaves.length}`);
