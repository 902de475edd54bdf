/** A scratch directory with a TLS test CA and an SM2 CA, for the node's SM2 identity tests. */
import { createPublicKey } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initSm2CaDir, issueSm2NodeCert } from '../../certs/sm2-ca-dir.js';
import { makeCa } from '../helpers/pki.js';

/** A scratch directory, a TLS test CA and an SM2 CA issuing node (or, for 430000, hub) SM2 certificates. */
export function sm2Setup(t: { teardown(fn: () => unknown): void }, prefix: string) {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const sm2CaDir = join(dir, 'sm2ca');
  const { certPem: sm2CaPem } = initSm2CaDir(sm2CaDir, { cn: `Test SM2 CA (${prefix})` });
  const sm2Cert = (nodeId: string, keyPem: string) => issueSm2NodeCert(sm2CaDir, nodeId, createPublicKey(keyPem).export({ type: 'spki', format: 'pem' }).toString(), { hub: nodeId === '430000' }).certPem;
  return { dir, ca: makeCa(), sm2CaPem, sm2Cert };
}

