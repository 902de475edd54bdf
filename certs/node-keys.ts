/** A node's side of enrolment: its key (EC P-256 by default, or RSA 2048) and a CSR whose subject CN is its node id. */
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { assertNodeId } from '../protocol/identifiers.js';
import { certError } from './errors.js';
import { createCsr, generateKeyPair, type NodeKeyAlgorithm } from './pki-crypto.js';

/**
 * A key and CSR for `nodeId`. Library callers (test fixtures, the bench) get RSA unless they ask:
 * their numbers and fixtures were made with RSA nodes. `credit node keygen` and `credit node init`
 * ask for `p256` by default.
 */
export function createNodeKeys(nodeId: string, algorithm: NodeKeyAlgorithm = 'rsa'): { keyPem: string; csrPem: string } {
  const id = assertNodeId(nodeId);
  const kp = generateKeyPair(algorithm);
  return { keyPem: kp.privateKeyPem, csrPem: createCsr(id, kp) };
}

/** Writes `dir/node.key` (0600, never overwritten: ERR_KEY_EXISTS) and `dir/node.csr`. */
export async function writeNodeKeys(dir: string, nodeId: string, algorithm: NodeKeyAlgorithm = 'p256'): Promise<{ keyPath: string; csrPath: string; csrPem: string }> {
  const { keyPem, csrPem } = createNodeKeys(nodeId, algorithm);
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
