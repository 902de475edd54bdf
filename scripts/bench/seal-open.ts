/**
 * Envelope throughput: seal (canonicalise, encrypt, sign, serialise) and open (parse, check,
 * verify, decrypt) of batches of 1,000 credit records of ≈ 300 bytes each, in records/s.
 * The certificates come from certs/ (bench-pki.ts).
 */
import { caTrust } from '../../protocol/ca-trust.js';
import { canonicalize } from '../../protocol/canonical-json.js';
import { certFromPem, privateKeyFromPem, raw } from '../../protocol/crypto.js';
import { open } from '../../protocol/open.js';
import { seal } from '../../protocol/seal.js';
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
    return [
      { label: 'seal, batches of 1,000 records', key: 'seal_rps', value: sealRps, unit: 'records/s', note: `${perRecord} B/record, incl. JSON.stringify` },
      { label: 'open, batches of 1,000 records', key: 'open_rps', value: openRps, unit: 'records/s', note: 'from JSON text, incl. signer check' },
      { label: 'seal + open, batches of 1,000 records', key: 'seal_open_rps', value: bothRps, unit: 'records/s' },
      { label: 'seal + open vs raw AES-256-GCM + 1 PS256 signature, same batch', key: 'seal_open_vs_raw', value: bothRps / rawRps, unit: '× raw rate', note: `raw: ${Math.round(rawRps).toLocaleString('en-US')} records/s` },
    ];
  },
};
