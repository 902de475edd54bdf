/**
 * The verifier beyond the six issue scenarios: re-hashed entries, ranges, malformed bundles,
 * certificates out of their validity or for another node, a malformed cosignature line, and a property
 * test: any single-character change of any entry line is caught.
 */
import t from 'tap';
import fc from 'fast-check';
import { sqliteEngine } from '../helpers/db.js';
import { issue, makeCa } from '../helpers/pki.js';
import { exportBundle, migrateAudit, openAuditLog, toNdjson } from '../../audit/index.js';
import { certFingerprint, leafHash, signText } from '../../audit/crypto.js';
import { checkpointText, leafInput } from '../../audit/entry.js';
import { BundleVerifier, verifyBundle } from '../../audit/verify-bundle.js';

const ca = makeCa();
const node = issue(ca, '430100');
const hub = issue(ca, '430000');
const expired = issue(ca, '430100', { notBefore: new Date(Date.now() - 10 * 86_400_000), notAfter: new Date(Date.now() - 86_400_000) });

const store = await sqliteEngine.open();
t.teardown(() => store.close());
await migrateAudit(store.db);
{
  const log = await openAuditLog(store.db, { signer: { nodeId: '430100', keyPem: node.keyPem, certPem: node.certPem }, checkpointEvery: 4, checkpointIntervalMs: 0 });
  for (let i = 1; i <= 10; i++) await log.record({ actor: `user:u${i}`, action: 'record.read', object: `r${i}`, outcome: 'success' });
  await log.close();
}
const bundle = toNdjson((await exportBundle(store.db)).lines);
const base = bundle.trimEnd().split('\n');
const at = (seq: number) => base.findIndex((l) => l.startsWith(`{"type":"entry","seq":${seq},`));
const join = (ls: string[]) => ls.join('\n') + '\n';
const rehash = (o: Record<string, unknown>) => {
  const { type: _t, leafHash: _l, ...fields } = o;
  return { ...o, leafHash: leafHash(leafInput(fields as never)).toString('hex') };
};

t.test('an entry edited and re-hashed breaks the next entry\'s prevHash', async (t) => {
  const ls = [...base];
  ls[at(6)] = JSON.stringify(rehash({ ...JSON.parse(ls[at(6)]!), actor: 'user:mallory' }));
  const r = await verifyBundle(join(ls), ca.certPem);
  t.same([r.code, r.seq], ['ERR_AUDIT_ENTRY_MODIFIED', 6]);
});

t.test('the whole chain re-hashed after an edit no longer matches the signed root', async (t) => {
  const ls = [...base];
  let prev: string | null = null;
  for (let seq = 6; seq <= 10; seq++) {
    const o = JSON.parse(ls[at(seq)]!) as Record<string, unknown>;
    if (seq === 6) o.outcome = 'failure';
    if (prev) o.prevHash = prev;
    const h = rehash(o);
    prev = h.leafHash;
    ls[at(seq)] = JSON.stringify(h);
  }
  const r = await verifyBundle(join(ls), ca.certPem);
  t.same([r.code, r.seq], ['ERR_AUDIT_ENTRY_MODIFIED', 5], 'between the last good checkpoint (4) and the next (8)');
  t.match(r.reason, /root signed at tree size 8/);
});

t.test('a range bundle verifies; its first entry is tied to the header', async (t) => {
  const text = toNdjson((await exportBundle(store.db, { from: 5, to: 8 })).lines);
  const r = await verifyBundle(text, ca.certPem);
  t.match(r, { ok: true, entries: 4, from: 5, to: 8, treeSize: 8 });
  const header = JSON.parse(text.split('\n')[0]!) as { prevHash: string; frontier: string[] };
  const badPrev = text.replace(header.prevHash, 'f'.repeat(64));
  t.same([(await verifyBundle(badPrev, ca.certPem)).code, (await verifyBundle(badPrev, ca.certPem)).seq], ['ERR_AUDIT_ENTRY_MODIFIED', 5]);
  const badFrontier = text.replace(header.frontier[0]!, 'e'.repeat(64));
  const r2 = await verifyBundle(badFrontier, ca.certPem);
  t.equal(r2.code, 'ERR_AUDIT_ENTRY_MODIFIED', 'a forged frontier does not reach the signed root');
});

t.test('malformed bundles', async (t) => {
  const codeOf = async (text: string) => (await verifyBundle(text, ca.certPem)).code;
  t.equal(await codeOf(''), 'ERR_AUDIT_BUNDLE_MALFORMED', 'empty');
  t.equal(await codeOf(join(base.slice(1))), 'ERR_AUDIT_BUNDLE_MALFORMED', 'no header');
  t.equal(await codeOf(join([base[0]!, '{"type":"mystery"}', ...base.slice(1)])), 'ERR_AUDIT_BUNDLE_MALFORMED', 'unknown line type');
  t.equal(await codeOf(join([base[0]!, 'not json', ...base.slice(1)])), 'ERR_AUDIT_BUNDLE_MALFORMED', 'not JSON');
  t.equal(await codeOf(join([base[0]!.replace('credit-audit-bundle/1', 'credit-audit-bundle/9'), ...base.slice(1)])), 'ERR_AUDIT_BUNDLE_MALFORMED', 'unknown format');
  const r = await verifyBundle(join([base[0]!, base[0]!, ...base.slice(1)]), ca.certPem);
  t.match(r, { code: 'ERR_AUDIT_BUNDLE_MALFORMED', reason: /second header/ });
  const truncatedLine = [...base];
  truncatedLine[at(3)] = truncatedLine[at(3)]!.slice(0, 40);
  const r2 = await verifyBundle(join(truncatedLine), ca.certPem);
  t.same([r2.code, r2.seq], ['ERR_AUDIT_ENTRY_MODIFIED', 3], 'a damaged entry line');
});

t.test('CA input that holds no certificate is refused', async (t) => {
  t.throws(() => new BundleVerifier('not a certificate'), { code: 'ERR_KEY_UNREADABLE' });
  const mangled = ca.certPem.replace(/\n[A-Za-z0-9+/]{20}/, '\nAAAAAAAAAAAAAAAAAAAA');
  t.throws(() => new BundleVerifier(mangled), { code: 'ERR_KEY_UNREADABLE' });
});

/** Re-signs every checkpoint with `who` (its certificate replacing the bundle's). */
function resign(who: { keyPem: string; certPem: string }, nodeId = '430100', time?: string): string {
  const fp = certFingerprint(who.certPem);
  return join(base.map((l) => {
    const o = JSON.parse(l) as Record<string, unknown>;
    if (o.type === 'cert') return JSON.stringify({ ...o, fingerprint: fp, pem: who.certPem });
    if (o.type === 'header') return JSON.stringify({ ...o, nodeId });
    if (o.type !== 'checkpoint') return l;
    const body = { treeSize: o.treeSize as number, rootHash: o.rootHash as string, time: time ?? (o.time as string), nodeId };
    return JSON.stringify({ ...o, ...body, signature: signText(who.keyPem, checkpointText(body)), signerFingerprint: fp });
  }));
}

t.test('signer certificates: expired at the checkpoint, another node, missing', async (t) => {
  const r = await verifyBundle(resign(expired), ca.certPem);
  t.match(r, { code: 'ERR_AUDIT_UNTRUSTED_SIGNER', seq: 4, reason: /not valid at/ });
  const back = await verifyBundle(resign(expired, '430100', new Date(Date.now() - 5 * 86_400_000).toISOString()), ca.certPem);
  t.match(back, { code: 'ERR_AUDIT_UNTRUSTED_SIGNER', reason: /CA certificate is not valid at/ }, 'back-dated inside the leaf\'s validity, but before the CA existed');
  const other = await verifyBundle(resign(hub, '430100'), ca.certPem);
  t.match(other, { code: 'ERR_AUDIT_UNTRUSTED_SIGNER', seq: 4, reason: /certificate for "430000"/ });
  const noCert = await verifyBundle(join(base.filter((l) => !l.startsWith('{"type":"cert"'))), ca.certPem);
  t.match(noCert, { code: 'ERR_AUDIT_UNTRUSTED_SIGNER', seq: 4, reason: /not in the bundle/ });
});

t.test('a cosignature line that is not a hub cosignature → ERR_AUDIT_COSIGNATURE (cosign-bundle.test.ts has the real ones)', async (t) => {
  const r = await verifyBundle(join([...base, '{"type":"cosignature","treeSize":10,"by":"430000","signature":"…"}']), ca.certPem);
  t.match(r, { ok: false, code: 'ERR_AUDIT_COSIGNATURE', seq: 10, cosignatures: 0 });
  t.match(await verifyBundle(join(base), ca.certPem), { ok: true, cosignatures: 0, latestCosignedAt: null, cosignedTreeSize: null }, 'none: reported as 0');
});

t.test('property: any one-character change of any entry line is detected', async (t) => {
  const entryLines = base.flatMap((l, i) => (l.startsWith('{"type":"entry"') ? [i] : []));
  await fc.assert(
    fc.asyncProperty(fc.constantFrom(...entryLines), fc.nat(), fc.integer({ min: 0x20, max: 0x7e }), async (li, pos, ch) => {
      const line = base[li]!;
      const p = pos % line.length;
      if (line.charCodeAt(p) === ch) return;
      const ls = [...base];
      ls[li] = line.slice(0, p) + String.fromCharCode(ch) + line.slice(p + 1);
      const r = await verifyBundle(join(ls), ca.certPem);
      if (r.ok) throw new Error(`undetected: line ${li} pos ${p} → ${String.fromCharCode(ch)}`);
    }),
    { numRuns: 300 },
  );
  t.pass('300 random one-character edits all failed verification');
});
