/**
 * Envelope throughput: seal (canonicalise, encrypt, sign, serialise) and open (parse, check,
 * verify, decrypt) of batches of 1,000 credit records of ≈ 300 bytes each, in records/s.
 * The certificates come from certs/ (bench-pki.ts). The same batch is also sealed and opened on
 * the national-cryptography suite CF1-SM2-SM4GCM-SM3 with SM2 certificates (`seal_open_sm_rps`).
 */
import { caTrust } from '../../protocol/ca-trust.js';
import { canonicalize } from '../../protocol/canonical-json.js';
import { certFromPem, privateKeyFromPem, raw } from '../../protocol/crypto.js';
import { open } from '../../protocol/open.js';
import { seal } from '../../protocol/seal.js';
import { createSm2Ca, issueSm2NodeIdentity } from '../../certs/sm2-x509.js';
import { SM4_GCM_NATIVE } from '../../protocol/sm-crypto.js';
import { benchPki } from './bench-pki.js';
import { medianRate, type BenchResult, type Scenario } from './scenario.js';

/** 1,000 administrative-penalty-like records, ≈ 300 bytes of canonical JSON each. */
export function benchBatch(n = 1000): { records: object[] } {
  const records = Array.from({ length: n }, (_, i) => ({
    type: 'CF',
    subject: `长沙市示例商贸有限公司${i % 97}`,
    uscc: '91430100MA4L' + String(100000 + i).slice(-6),
    decisionNo: `长市监处罚〔2026〕${1000 + i}号`,
    decisionDate: '2026-03-15',
    authority: '长沙市市场监督管理局',
    content: '罚款五万元',
    amount: 50000,
    severity: 'ordinary',
    seq: i,
  }));
  return { records };
}

export const sealOpenScenario: Scenario = {
  name: 'seal-open',
  async run({ quick, log }): Promise<BenchResult[]> {
    const repeats = quick ? 7 : 25;
    const { caCertPem, node, hub } = await benchPki();
    const trust = caTrust({ caCertPems: [caCertPem] });
    const payload = benchBatch();
    const bytes = Buffer.byteLength(canonicalize(payload));
    const perRecord = Math.round(bytes / payload.records.length);
    log(`batch: 1,000 records, ${(bytes / 1024).toFixed(0)} KiB canonical JSON (${perRecord} B/record); ${repeats} runs each`);
    let seq = 0;
    const sealOne = async () => JSON.stringify(await seal({ type: 'batch', from: '430100', to: '430000', seq: ++seq, payload, sender: node, recipientCertPem: hub.certPem }));
    const openOpts = { recipient: { nodeId: '430000', keyPem: hub.keyPem }, trust };
    await open(await sealOne(), openOpts); // warm caches and JIT
    const sealRps = await medianRate(repeats, 1000, sealOne);
    const wire = await sealOne();
    const openRps = await medianRate(repeats, 1000, () => open(wire, openOpts));
    const bothRps = await medianRate(repeats, 1000, async () => open(await sealOne(), openOpts));

    // Baseline on the same bytes: one AES-256-GCM pass plus one PS256 signature.
    const pt = Buffer.from(canonicalize(payload));
    const signer = privateKeyFromPem(node.keyPem);
    certFromPem(node.certPem);
    const rawRps = await medianRate(repeats, 1000, () => {
      raw.aes256GcmEncrypt(raw.randomBytes(32), raw.randomBytes(12), pt);
      raw.ps256Sign(signer, pt.subarray(0, 64));
    });
    // The SM suite: SM2 root and identities made here (pure TS SM2, native or composed SM4-GCM).
    const sm2Ca = createSm2Ca({ cn: 'Bench SM2 CA' });
    const smNode = issueSm2NodeIdentity(sm2Ca.issuer, '430100');
    const smHub = issueSm2NodeIdentity(sm2Ca.issuer, '430000');
    const smOpen = { recipient: { nodeId: '430000', keyPem: smHub.keyPem }, trust: caTrust({ caCertPems: [sm2Ca.certPem] }) };
    const sealSm = async () => JSON.stringify(await seal({ type: 'batch', from: '430100', to: '430000', seq: ++seq, payload, sender: smNode, recipientCertPem: smHub.certPem }));
    await open(await sealSm(), smOpen);
    const smRps = await medianRate(repeats, 1000, async () => open(await sealSm(), smOpen));
    return [
      { label: 'seal, batches of 1,000 records', key: 'seal_rps', value: sealRps, unit: 'records/s', note: `${perRecord} B/record, incl. JSON.stringify` },
      { label: 'open, batches of 1,000 records', key: 'open_rps', value: openRps, unit: 'records/s', note: 'from JSON text, incl. signer check' },
      { label: 'seal + open, batches of 1,000 records', key: 'seal_open_rps', value: bothRps, unit: 'records/s' },
      { label: 'seal + open on CF1-SM2-SM4GCM-SM3, batches of 1,000 records', key: 'seal_open_sm_rps', value: smRps, unit: 'records/s', note: `SM4-GCM ${SM4_GCM_NATIVE ? 'native' : 'composed (SM4-CTR + GHASH in JS)'}` },
      { label: 'seal + open vs raw AES-256-GCM + 1 PS256 signature, same batch', key: 'seal_open_vs_raw', value: bothRps / rawRps, unit: '× raw rate', note: `raw: ${Math.round(rawRps).toLocaleString('en-US')} records/s` },
    ];
  },
};
