/** A node's side of enrolment: its RSA key and a CSR whose subject CN is its node id. */
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { assertNodeId } from '../protocol/identifiers.js';
import { certError } from './errors.js';
import { createCsr, generateRsaKeyPair } from './pki-crypto.js';

export function createNodeKeys(nodeId: string): { keyPem: string; csrPem: string } {
  const id = assertNodeId(nodeId);
  const kp = generateRsaKeyPair();
  return { keyPem: kp.privateKeyPem, csrPem: createCsr(id, kp) };
}

/** Writes `dir/node.key` (0600, never overwritten: ERR_KEY_EXISTS) and `dir/node.csr`. */
export async function writeNodeKeys(dir: string, nodeId: string): Promise<{ keyPath: string; csrPath: string; csrPem: string }> {
  const { keyPem, csrPem } = createNodeKeys(nodeId);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const keyPath = join(dir, 'node.key');
  const csrPath = join(dir, 'node.csr');
  try {
    await writeFile(keyPath, keyPem, { mode: 0o600, flag: 'wx' });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') throw certError('ERR_KEY_EXISTS', `${keyPath} exists; refusing to overwrite a node key`);
    throw e;
  }
  await chmod(keyPath, 0o600); // the umask cannot widen it, but be explicit
  await writeFile(csrPath, csrPem, { mode: 0o644 });
  return { keyPath, csrPath, csrPem };
}
