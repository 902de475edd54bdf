/**
 * The signed exchange log offline (audit/evidence-log.ts, evidence-verify.ts, `credit exchange
 * verify`): a real batch and its real receipt verify and pair; a tampered signature or header, a
 * swapped certificate, a signer from another CA, a receipt for another envelope, a missing
 * receipt, a revoked signer (with --crl, back-dated too), a --crl past its nextUpdate (ERR_CRL_STALE), a rewritten or cut file each fail with
 * their code and the envelope id; the `openssl` CLI verifies one signature as kept (interop).
 */
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { answerFields, evidenceOf, evidenceSigningInput, type EnvelopeEvidence } from '../../audit/evidence-record.js';
import { readExchangeLog, toExchangeNdjson } from '../../audit/evidence-log.js';
import { verifyExchangeLog, type EvidenceTrust } from '../../audit/evidence-verify.js';
import { signCrl } from '../../certs/crl.js';
import { canonicalize } from '../../protocol/canonical-json.js';
import { b64url } from '../../protocol/crypto.js';
import { envelopeDigest, type Envelope } from '../../protocol/envelope.js';
import { seal } from '../../protocol/seal.js';
import { main } from '../../scripts/cli.js';
import { issue, makeCa, type TestIdentity } from '../helpers/pki.js';

const dir = mkdtempSync(join(tmpdir(), 'exlog-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const f = (n: string) => join(dir, n);

const ca = makeCa();
const node = issue(ca, '430100');
const other = issue(ca, '430700');
const hub = issue(ca, '430000');
const rogueCa = makeCa('Rogue CA (test)');
const rogue = issue(rogueCa, '430100');
const trust: EvidenceTrust = { caCertPems: [ca.certPem] };
writeFileSync(f('ca.pem'), ca.certPem);

let seq = 0;
const batch = (o: { from?: TestIdentity; id?: string; seq?: number; ts?: Date } = {}) =>
  seal({ type: 'batch', from: '430100', to: '430000', seq: o.seq ?? ++seq, payload: { records: [], withdrawals: [] }, sender: o.from ?? node, recipientCertPem: hub.certPem, ...(o.id ? { id: o.id } : {}), ...(o.ts ? { ts: o.ts } : {}) });
const receiptFor = (b: Envelope) =>
  seal({
    type: 'receipt', from: '430000', to: '430100', seq: b.seq, sender: hub, recipientCertPem: node.certPem, extra: answerFields(b.id, envelopeDigest(b)),
    payload: { batchId: b.id, digest: envelopeDigest(b), seq: b.seq, receivedAt: new Date().toISOString(), outcome: 'accepted', accepted: [], rejected: [], withdrawn: [] },
  });
const at = () => new Date().toISOString();
const logOf = (list: EnvelopeEvidence[], node = '430100') => toExchangeNdjson({ node, role: 'node', exportedAt: at(), from: null, to: null }, list);

async function verdict(text: string, tr: EvidenceTrust = trust) {
  const read = readExchangeLog(text);
  const v = read.log ? await verifyExchangeLog(read.log, tr) : null;
  return { v, problems: [...read.problems, ...(v?.problems ?? [])] };
}

const b1 = await batch();
const r1 = await receiptFor(b1);
const good = [evidenceOf(b1, 'sent', at()), evidenceOf(r1, 'received', at())];

t.test('a batch and its receipt verify and pair', async (t) => {
  const { v, problems } = await verdict(logOf(good));
  t.same(problems, []);
  t.equal(v!.paired, 1);
  t.same(v!.byType, { batch: 1, receipt: 1 });
});

/** The log with line `i` (0-based envelope index) changed by `fn`, written canonically again. */
function edited(list: EnvelopeEvidence[], i: number, fn: (e: EnvelopeEvidence) => EnvelopeEvidence): string {
  return logOf(list.map((e, k) => (k === i ? fn(structuredClone(e)) : e)));
}

t.test('a tampered signature, header or digest: ERR_EXCHANGE_SIGNATURE naming the envelope', async (t) => {
  const flip = (s: string) => (s[5] === 'A' ? 'B' : 'A') + s.slice(1);
  const cases: [string, (e: EnvelopeEvidence) => EnvelopeEvidence][] = [
    ['signature', (e) => ({ ...e, sig: { ...e.sig, signature: e.sig.signature.slice(0, 5) + (e.sig.signature[5] === 'A' ? 'B' : 'A') + e.sig.signature.slice(6) } })],
    ['header seq', (e) => ({ ...e, header: { ...e.header, seq: e.header.seq + 1 } })],
    ['digest', (e) => ({ ...e, digest: flip(e.digest).slice(0, 42) + 'A' })],
  ];
  for (const [what, fn] of cases) {
    const { problems } = await verdict(edited(good, 0, fn));
    t.ok(problems.some((p) => p.code === 'ERR_EXCHANGE_SIGNATURE' && p.id === b1.id), what);
  }
});

t.test('a swapped certificate: another node\'s, or one from another CA', async (t) => {
  const swapped = await verdict(edited(good, 0, (e) => ({ ...e, header: { ...e.header, x5c: [Buffer.from(other.certPem.replace(/-----[^-]+-----|\s/g, ''), 'base64').toString('base64')] } })));
  t.ok(swapped.problems.some((p) => p.code === 'ERR_EXCHANGE_SIGNATURE' && p.id === b1.id), 'the signature does not verify with the swapped key');
  const fromRogue = await batch({ from: rogue });
  const { problems } = await verdict(logOf([evidenceOf(fromRogue, 'sent', at()), evidenceOf(await receiptFor(fromRogue), 'received', at())]));
  t.same(problems.map((p) => [p.code, p.id]), [['ERR_EXCHANGE_UNTRUSTED_SIGNER', fromRogue.id]], 'a well-signed envelope by a certificate of another CA');
  const asOther = await seal({ type: 'batch', from: '430700', to: '430000', seq: 1, payload: {}, sender: other, recipientCertPem: hub.certPem });
  const inMine = await verdict(logOf([evidenceOf(asOther, 'sent', at())]));
  t.ok(inMine.problems.some((p) => p.code === 'ERR_EXCHANGE_LOG_MALFORMED' && p.id === asOther.id), "another node's envelope listed as sent by this one");
});

t.test('a seq-refusal (protocol 1.2) pairs with the attempt it names; its batch still wants a receipt, else a note', async (t) => {
  const refusalFor = (b: Envelope, digest = envelopeDigest(b)) =>
    seal({
      type: 'seq-refusal', from: '430000', to: '430100', seq: b.seq, sender: hub, recipientCertPem: node.certPem, extra: answerFields(b.id, digest),
      payload: { batchId: b.id, digest, seq: b.seq, code: 'ERR_SEQUENCE_GAP', hubLastSeq: 0, refusedAt: at() },
    });
  const first = await batch();
  const again = await batch({ id: first.id, seq: first.seq });
  const refusal = await refusalFor(first);
  const receipt = await receiptFor(again);
  const paired = await verdict(logOf([evidenceOf(first, 'sent', at()), evidenceOf(refusal, 'received', at()), evidenceOf(again, 'sent', at()), evidenceOf(receipt, 'received', at())]));
  t.same(paired.problems, [], 'refused once, then sent again and receipted');
  t.equal(paired.v!.byType['seq-refusal'], 1);
  const only = await verdict(logOf([evidenceOf(first, 'sent', at()), evidenceOf(refusal, 'received', at())]));
  t.same(only.problems, [], 'a batch whose last attempt was refused for its seq is not a failure …');
  t.match(only.v!.notes.join('\n'), /refused for its seq \(seq-refusal .*\) and has no receipt/, '… but a note');
  const later = await batch({ id: first.id, seq: first.seq, ts: new Date(Date.now() + 1000) });
  const dropped = await verdict(logOf([evidenceOf(first, 'sent', at()), evidenceOf(refusal, 'received', at()), evidenceOf(later, 'sent', at())]));
  t.same(dropped.problems.map((p) => [p.code, p.id]), [['ERR_EXCHANGE_UNPAIRED', first.id]], 'an earlier refusal does not excuse a later attempt without its receipt');
  const sameTs = await batch({ id: first.id, seq: first.seq, ts: new Date(first.ts) });
  for (const order of [[first, sameTs], [sameTs, first]]) {
    const tie = await verdict(logOf([...order.map((b) => evidenceOf(b, 'sent', at())), evidenceOf(refusal, 'received', at())]));
    t.same(tie.problems.map((p) => p.code), ['ERR_EXCHANGE_UNPAIRED'], 'two attempts with the same ts: no last one to excuse, whatever the line order');
  }
  const elsewhere = await verdict(logOf([evidenceOf(again, 'sent', at()), evidenceOf(await refusalFor(first), 'received', at()), evidenceOf(receipt, 'received', at())]));
  t.same(elsewhere.problems.map((p) => p.code), ['ERR_EXCHANGE_UNPAIRED'], 'a refusal naming an attempt not in the log');
  t.match(elsewhere.problems[0]!.message, /seq-refusal .* not the digest/);
});

t.test('a receipt for another envelope, and a missing receipt: ERR_EXCHANGE_UNPAIRED by id', async (t) => {
  const b2 = await batch();
  const r2 = await receiptFor(b2);
  const wrong = await verdict(logOf([evidenceOf(b1, 'sent', at()), evidenceOf(r2, 'received', at())]));
  t.same(wrong.problems.map((p) => [p.code, p.id]).sort(), [['ERR_EXCHANGE_UNPAIRED', b1.id], ['ERR_EXCHANGE_UNPAIRED', r2.id]].sort(), 'the receipt answers b2 (not here) and b1 has none');
  t.match(wrong.problems.find((p) => p.id === r2.id)!.message, /not in this log/);
  const missing = await verdict(logOf([evidenceOf(b1, 'sent', at()), evidenceOf(b2, 'sent', at()), evidenceOf(r2, 'received', at())]));
  t.same(missing.problems.map((p) => [p.code, p.id]), [['ERR_EXCHANGE_UNPAIRED', b1.id]]);
  t.match(missing.problems[0]!.message, /has no receipt/);
  // a receipt naming the id of a batch attempt whose digest is not the one kept
  const resent = await batch({ id: b2.id, seq: b2.seq });
  const other = await verdict(logOf([evidenceOf(resent, 'sent', at()), evidenceOf(r2, 'received', at())]));
  t.ok(other.problems.some((p) => p.id === r2.id && /not the digest/.test(p.message)), 'same id, another digest');
  const both = await verdict(logOf([evidenceOf(b2, 'sent', at()), evidenceOf(resent, 'sent', at()), evidenceOf(r2, 'received', at())]));
  t.same(both.problems, [], 'two attempts of one batch, the receipt names one: paired');
  t.match(both.v!.notes.join('\n'), /signed 2 times/);
});

t.test('a revoked signer with --crl: refused from its revocation time on, back-dated ts included', async (t) => {
  const revokedAt = new Date(Date.now() - 20_000); // the test certificates are valid from a minute ago
  const crl = await signCrl({ caCertPem: ca.certPem, caKeyPem: ca.keyPem, entries: [{ serial: node.serial, revokedAt, reason: 'keyCompromise' }], thisUpdate: new Date(), nextUpdate: new Date(Date.now() + 86400_000) });
  writeFileSync(f('crl.pem'), crl);
  const after = await verdict(logOf(good), { caCertPems: [ca.certPem], revoked: [{ serial: node.serial, revokedAt, reason: 'keyCompromise' }] });
  t.same(after.problems.map((p) => [p.code, p.id]), [['ERR_EXCHANGE_REVOKED_SIGNER', b1.id]]);
  const back = await batch({ ts: new Date(Date.now() - 40_000) });
  const backDated = await verdict(logOf([evidenceOf(back, 'sent', at()), evidenceOf(await receiptFor(back), 'received', at())]), { caCertPems: [ca.certPem], revoked: [{ serial: node.serial, revokedAt, reason: 'keyCompromise' }] });
  t.same(backDated.problems.map((p) => p.code), ['ERR_EXCHANGE_REVOKED_SIGNER'], 'ts before the revocation, recorded after it');
  const before = await verdict(logOf([evidenceOf(back, 'sent', new Date(Date.now() - 30_000).toISOString()), evidenceOf(await receiptFor(back), 'received', at())]), { caCertPems: [ca.certPem], revoked: [{ serial: node.serial, revokedAt, reason: 'keyCompromise' }] });
  t.same(before.problems, [], 'signed and recorded before the revocation: still good');
  // the same through the command line, with the CRL file
  writeFileSync(f('good.ndjson'), logOf(good));
  const out: string[] = [];
  const code = await main(['exchange', 'verify', f('good.ndjson'), '--ca', f('ca.pem'), '--crl', f('crl.pem')], { stdout: (s) => void out.push(s), stderr: (s) => void out.push(s) });
  t.equal(code, 1);
  t.match(out.join(''), new RegExp(`ERR_EXCHANGE_REVOKED_SIGNER envelope ${b1.id}`));
  const ok: string[] = [];
  t.equal(await main(['exchange', 'verify', f('good.ndjson'), '--ca', f('ca.pem')], { stdout: (s) => void ok.push(s), stderr: (s) => void ok.push(s) }), 0, 'without the CRL it verifies');
  t.match(ok.join(''), /1 paired[\s\S]*OK/);
  // hostile review L2: a CRL past its nextUpdate may miss later revocations — refused, not used
  const stale = await signCrl({ caCertPem: ca.certPem, caKeyPem: ca.keyPem, entries: [], thisUpdate: new Date(Date.now() - 10 * 86400_000), nextUpdate: new Date(Date.now() - 3 * 86400_000) });
  writeFileSync(f('stale-crl.pem'), stale);
  const refused: string[] = [];
  t.equal(await main(['exchange', 'verify', f('good.ndjson'), '--ca', f('ca.pem'), '--crl', f('stale-crl.pem')], { stdout: (s) => void refused.push(s), stderr: (s) => void refused.push(s) }), 1, 'a stale CRL: the command fails');
  t.match(refused.join(''), /ERR_CRL_STALE[^\n]*stale-crl\.pem is past its nextUpdate/);
  t.notMatch(refused.join(''), /OK/);
});

t.test('a rewritten or cut file: ERR_EXCHANGE_LOG_MALFORMED', async (t) => {
  const text = logOf(good);
  const lines = text.split('\n');
  const cut = await verdict(lines.slice(0, 2).join('\n') + '\n');
  t.ok(cut.problems.some((p) => p.code === 'ERR_EXCHANGE_LOG_MALFORMED' && /declares 2/.test(p.message)), 'a line dropped');
  const pretty = await verdict(text.replace('"kind":"envelope"', '"kind": "envelope"'));
  t.ok(pretty.problems.some((p) => p.code === 'ERR_EXCHANGE_LOG_MALFORMED' && /canonical/.test(p.message)), 'not canonical');
  const noEnd = await verdict(text.slice(0, -1));
  t.ok(noEnd.problems.some((p) => /cut short/.test(p.message)));
});

t.test('openssl verifies a kept signature (RSA-PSS SHA-256 over the JWS signing input)', async (t) => {
  const e = good[0]!;
  const input = `${e.sig.protected}.${b64url(evidenceSigningInput(e))}`;
  writeFileSync(f('input.txt'), input);
  writeFileSync(f('sig.bin'), Buffer.from(e.sig.signature, 'base64url'));
  const der = Buffer.from(e.header.x5c[0]!, 'base64');
  writeFileSync(f('signer.pem'), `-----BEGIN CERTIFICATE-----\n${der.toString('base64').replace(/(.{64})/g, '$1\n')}\n-----END CERTIFICATE-----\n`);
  execFileSync('openssl', ['x509', '-in', f('signer.pem'), '-pubkey', '-noout', '-out', f('pub.pem')]);
  const out = execFileSync('openssl', ['dgst', '-sha256', '-sigopt', 'rsa_padding_mode:pss', '-sigopt', 'rsa_pss_saltlen:auto', '-verify', f('pub.pem'), '-signature', f('sig.bin'), f('input.txt')]).toString();
  t.match(out, /Verified OK/);
  t.equal(canonicalize({ header: e.header, digest: e.digest }), evidenceSigningInput(e).toString('utf8'));
  writeFileSync(f('input.txt'), input.replace(/.$/, (c) => (c === 'A' ? 'B' : 'A')));
  t.throws(() => execFileSync('openssl', ['dgst', '-sha256', '-sigopt', 'rsa_padding_mode:pss', '-sigopt', 'rsa_pss_saltlen:auto', '-verify', f('pub.pem'), '-signature', f('sig.bin'), f('input.txt')], { stdio: 'pipe' }), 'one byte changed: openssl refuses it');
});
