/**
 * The platform's raw crypto rates, measured in the same run as the envelope figures so the two
 * can be compared: AES-256-GCM and SHA-256 over 1 MiB buffers, and signatures with the key type a
 * node gets from `createNodeKeys` (RSA-2048, signing PS256 as envelopes do).
 */
import { privateKeyFromPem, raw } from '../../protocol/crypto.js';
import { medianRate, type BenchResult, type Scenario } from './scenario.js';
import { benchPki } from './bench-pki.js';

export const rawCryptoScenario: Scenario = {
  name: 'raw-crypto',
  async run({ quick, log }): Promise<BenchResult[]> {
    const repeats = quick ? 7 : 25;
    const mib = 1024 * 1024;
    const data = raw.randomBytes(mib);
    const key = raw.randomBytes(32);
    const iv = raw.randomBytes(12);
    const passes = quick ? 8 : 32;
    const aes = await medianRate(repeats, passes, () => {
      for (let i = 0; i < passes; i++) raw.aes256GcmEncrypt(key, iv, data);
    });
    const sha = await medianRate(repeats, passes, () => {
      for (let i = 0; i < passes; i++) raw.sha256(data);
    });
    const signer = privateKeyFromPem((await benchPki()).node.keyPem);
    const keyName = `${signer.asymmetricKeyType?.toUpperCase()}-${signer.asymmetricKeyDetails?.modulusLength ?? '?'}`;
    log(`AES-256-GCM and SHA-256: ${passes} × 1 MiB per run; PS256 with the node key (${keyName}); ${repeats} runs each`);
    const msg = raw.randomBytes(64);
    const signs = quick ? 50 : 200;
    const sig = await medianRate(repeats, signs, () => {
      for (let i = 0; i < signs; i++) raw.ps256Sign(signer, msg);
    });
    return [
      { label: 'raw AES-256-GCM encrypt', key: 'aes_gcm_mbps', value: aes * (mib / 1e6), unit: 'MB/s', note: 'node:crypto, 1 MiB buffers' },
      { label: 'raw SHA-256', key: 'sha256_mbps', value: sha * (mib / 1e6), unit: 'MB/s' },
      { label: `raw ${keyName} PS256 signatures (node key type)`, key: 'sign_per_s', value: sig, unit: 'signatures/s', note: '64-byte messages' },
    ];
  },
};
